/**
 * A released step as a test writes it: params as loose as the wire allows. Agent tests send
 * partial or wrong params on purpose (the agent checks what it reads, ADR 0027); the coordinator
 * only ever sends each kind's full `StepParamsOf<K>`.
 */
import type { StepFile, StepKind } from '../../protocol/steps.ts';
import type { ReleasedStep } from '../../protocol/wire.ts';

export interface WireStep {
  id: string;
  kind: StepKind;
  host: string;
  attempt: number;
  files: StepFile[];
  params: Record<string, unknown>;
  redact: string[];
}

export function wireStep(step: WireStep): ReleasedStep {
  return step as unknown as ReleasedStep;
}
