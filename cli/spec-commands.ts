/** `kubeseed init`, `validate` and `plan`: commands that read a spec and write nothing but output. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { formatIssue } from '../generator/errors.ts';
import { describeHostPlan, placeholderSecrets } from '../generator/plan/document.ts';
import { planSteps } from '../generator/plan/steps.ts';
import { type ClusterPlan, SECRET_PLACEHOLDER } from '../generator/plan/types.ts';
import { type ParsedSpec, parseSpec } from '../generator/spec/parse.ts';
import { toYaml } from '../generator/util/yaml.ts';
import { describeVersions } from '../generator/versions.ts';
import { UsageError } from './args.ts';
import { type Io, parseCommand } from './commands.ts';
import { InputError } from './exit-codes.ts';
import { printData } from './output.ts';
import { starterSpec } from './starter.ts';

export function readSpecFile(path: string | undefined, strict: boolean): ParsedSpec & { file: string } {
  if (!path) throw new UsageError('name the spec file, e.g. `kubeseed validate cluster.yaml` (`kubeseed init` writes one)');
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(
      code === 'ENOENT' ? `${path}: no such file; check the path or run \`kubeseed init --out ${path}\`` : `${path}: cannot read (${code})`,
    );
  }
  return { ...parseSpec(bytes, path, { strict }), file: path };
}

export function printWarnings(io: Io, file: string, parsed: ParsedSpec): void {
  for (const w of parsed.warnings) io.stderr(`${formatIssue(file, w)}\n`);
}

export async function cmdInit(argv: string[], io: Io): Promise<number> {
  const { flags } = parseCommand('init', argv);
  const topology = (flags.topology as 'stacked' | 'external-etcd' | undefined) ?? 'stacked';
  const text = starterSpec(topology);
  const out = flags.out as string | undefined;
  if (!out) {
    io.stdout(text);
    return 0;
  }
  if (existsSync(out) && !flags.force) throw new InputError(`${out} exists; pick another --out or pass --force to overwrite it`);
  writeFileSync(out, text);
  io.stderr(`wrote ${out}; edit the addresses, then run: kubeseed validate ${out}\n`);
  return 0;
}

export async function cmdValidate(argv: string[], io: Io): Promise<number> {
  const { positional, flags, output } = parseCommand('validate', argv);
  const parsed = readSpecFile(positional[0], Boolean(flags.strict));
  printWarnings(io, parsed.file, parsed);
  const s = parsed.spec;
  const roleCounts = Object.fromEntries(
    (['control-plane', 'etcd', 'load-balancer', 'worker'] as const).map((r) => [r, s.hosts.filter((h) => h.role === r).length]),
  );
  const roles = Object.entries(roleCounts)
    .map(([r, n]) => `${n} ${r}`)
    .join(', ');
  const data = {
    file: parsed.file,
    valid: true,
    cluster: s.name,
    kubernetesVersion: s.kubernetesVersion,
    topology: s.topology,
    loadBalancer: s.loadBalancer.type,
    hosts: roleCounts,
    warnings: parsed.warnings.map((w) => ({ path: w.path, line: w.line, column: w.column, message: w.message })),
  };
  printData(io, output, data, () =>
    io.stdout(
      `${parsed.file}: valid — ${s.name}, Kubernetes ${s.kubernetesVersion}, ${s.topology}, ${s.loadBalancer.type}; ${roles}${parsed.warnings.length ? `; ${parsed.warnings.length} warning(s)` : ''}\n`,
    ),
  );
  return 0;
}

export async function cmdPlan(argv: string[], io: Io): Promise<number> {
  const { positional, flags, output } = parseCommand('plan', argv);
  // With --state: the day-2 upgrade from the state's version to SPEC's, as `kubeseed upgrade --dry-run` plans it.
  if (flags.state !== undefined)
    return (await import('./day2-commands.ts')).cmdUpgrade(
      [positional[0] as string, '--state', flags.state as string, '--dry-run', ...(output !== 'text' ? ['-o', output] : [])],
      io,
    );
  const parsed = readSpecFile(positional[0], Boolean(flags.strict));
  printWarnings(io, parsed.file, parsed);
  const plan: ClusterPlan = { spec: parsed.spec, steps: planSteps(parsed.spec), hosts: [], warnings: parsed.warnings };
  const only = flags.host as string | undefined;
  if (only && !plan.spec.hosts.some((h) => h.name === only)) {
    throw new InputError(`--host ${only}: no such host in ${parsed.file}; hosts are ${plan.spec.hosts.map((h) => h.name).join(', ')}`);
  }
  if (output !== 'text') {
    const data = {
      cluster: plan.spec.name,
      versions: describeVersions(plan.spec),
      secretPlaceholder: SECRET_PLACEHOLDER,
      steps: plan.steps.flatMap((s, i) =>
        !only || s.host === only ? [{ order: i + 1, id: s.id, host: s.host, waitsFor: s.waitsFor }] : [],
      ),
      hosts: plan.spec.hosts.filter((h) => !only || h.name === only).map((h) => describeHostPlan(plan, h.name, placeholderSecrets)),
    };
    printData(io, output, data, () => {});
    return 0;
  }
  io.stdout(`# Versions (generator/versions.ts, or as the spec pins them): ${describeVersions(plan.spec)}\n`);
  io.stdout(`# Rollout order of ${plan.spec.name} (${plan.steps.length} steps); secret values appear as ${SECRET_PLACEHOLDER}\n`);
  for (const [i, s] of plan.steps.entries()) {
    if (!only || s.host === only) io.stdout(`# ${String(i + 1).padStart(3)}. ${s.id.padEnd(44)} waits for ${s.waitsFor}\n`);
  }
  for (const h of plan.spec.hosts) {
    if (only && h.name !== only) continue;
    io.stdout(`---\n${toYaml(describeHostPlan(plan, h.name, placeholderSecrets), { lineWidth: 0 })}`);
  }
  return 0;
}
