/**
 * The few typed errors of the generator, each with a stable code. The CLI maps them to exit
 * codes at the edge, in its one table (cli/exit-codes.ts): SpecError → 2 (bad input), PlanError → 2.
 */
import type { SpecIssue } from './spec/types.ts';

export class SpecError extends Error {
  readonly code = 'SPEC_INVALID';
  constructor(
    readonly file: string,
    readonly issues: SpecIssue[],
  ) {
    super(issues.map((i) => formatIssue(file, i)).join('\n'));
    this.name = 'SpecError';
  }
}

export class PlanError extends Error {
  readonly code = 'PLAN_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'PlanError';
  }
}

/** `cluster.yaml:14:7: spec.loadBalancer.vip: message` — the one format for every spec finding. */
export function formatIssue(file: string, issue: SpecIssue): string {
  const prefix = issue.severity === 'warning' ? 'warning: ' : '';
  return `${file}:${issue.line}:${issue.column}: ${prefix}${issue.path}: ${issue.message}`;
}
