/** `kubeseed generate SPEC --out DIR`: state (PKI, credentials) + every per-host artifact + a summary. */
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { discoveryHash } from '../generator/pki/index.ts';
import { planCluster } from '../generator/plan/plan.ts';
import { type Artifact, ArtifactRenderer, agentArchesOf, type HostSummary, type RenderOptions } from '../generator/render/index.ts';
import type { SysextArch } from '../generator/render/sysext.ts';
import type { ClusterSpec } from '../generator/spec/types.ts';
import { createPublicSecretSource, ensureState } from '../generator/state/index.ts';
import { AGENT_ARCHES, defaultDistDir, findAgentExecutable, readAgentExecutable } from '../server/agent-binaries.ts';
import { type OutputFormat, UsageError } from './args.ts';
import { ArtifactSink } from './artifact-sink.ts';
import { type Io, parseCommand } from './commands.ts';
import { InterruptedError } from './exit-codes.ts';
import { printData } from './output.ts';
import { printWarnings, readSpecFile } from './spec-commands.ts';
import { formatTable } from './table.ts';

/**
 * What to do after generate (issue 21): serve where the machines reach spec.coordinator.url — it
 * needs the agent executables (`npm run build`, made by npm ci) unless mirrors.agent serves them —
 * then boot the machines: deploy.sh on Proxmox (destroy.sh undoes it), else attach each host's files.
 */
function nextSteps(spec: ClusterSpec, out: string): string {
  const agents = spec.mirrors.agent
    ? `agents download their executable from ${spec.mirrors.agent}`
    : 'it serves the agent executables from dist/ (npm ci builds them; else npm run build) and refuses to start without them';
  // The renderer writes OUT/proxmox/ on these terms (generator/render/index.ts).
  const proxmox = spec.os.platform === 'proxmox' && spec.os.format === 'cloud-init' && spec.proxmox.templateVmid !== undefined;
  const boot = proxmox
    ? `copy ${join(out, 'proxmox')}/ to Proxmox node ${spec.proxmox.node} and run bash deploy.sh there as root (bash destroy.sh removes those VMs again)`
    : spec.os.format === 'ignition'
      ? `boot each machine with ${join(out, 'hosts')}/<host>/config.ign`
      : `boot each machine with ${join(out, 'hosts')}/<host>/seed.iso attached (or its user-data, meta-data and network-config)`;
  return [
    `next: 1. kubeseed serve --state ${join(out, 'coordinator')}   on a machine the hosts reach at ${spec.coordinator.url}; ${agents}`,
    `      2. ${boot}`,
    `      3. watch: the status page URL serve prints, or kubeseed status --state ${join(out, 'coordinator')} --watch`,
    '',
  ].join('\n');
}

/** Seed ISOs carry this fixed timestamp so re-running generate gives identical bytes. */
const ISO_EPOCH = new Date('2026-01-01T00:00:00Z');

export async function cmdGenerate(argv: string[], io: Io): Promise<number> {
  const { positional, flags, output } = parseCommand('generate', argv);
  const parsed = readSpecFile(positional[0], Boolean(flags.strict));
  const out = flags.out as string; // required in the command table
  await refuseFileInPath(out);
  printWarnings(io, parsed.file, parsed);
  // Before anything is written: an Ignition config must carry the digest of the agent it fetches.
  const agentSha256 = await readAgentDigests((flags.dist as string | undefined) ?? defaultDistDir(), agentArchesOf(parsed.spec));
  const passphrase = io.env.KUBESEED_PASSPHRASE || undefined;
  const hadState = existsSync(join(out, 'coordinator', 'state.json'));
  // Ctrl-C stops at the next safe point: the state is written whole (and its lock released) and every
  // file already handed to the writer is completed, so nothing is left half-written. A second Ctrl-C exits at once.
  let interrupted = false;
  const onInterrupt = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    io.stderr('kubeseed generate: interrupted; finishing the files being written (Ctrl-C again exits at once)\n');
  };
  process.on('SIGINT', onInterrupt);
  try {
    const code = await generateInto(out, parsed, Boolean(flags.rotate), passphrase, hadState, agentSha256, output, io, () => interrupted);
    // A Ctrl-C that lands after the last safe point still ends as an interrupt (130); everything is written.
    return interrupted ? 130 : code;
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}

/** `out` or the first of its parents that exists must be a directory: checked before anything is written. */
async function refuseFileInPath(out: string): Promise<void> {
  for (let path = out; ; path = dirname(path)) {
    const info = await stat(path).catch(() => undefined);
    if (info && !info.isDirectory()) {
      throw new UsageError(
        `--out ${out}: ${path === out ? 'is' : `${path} is`} a file, not a directory; generate writes hosts/, plan/ and coordinator/ under --out, so pick another path`,
      );
    }
    if (info || dirname(path) === path) return;
  }
}

function stopIfInterrupted(interrupted: () => boolean): void {
  if (interrupted()) {
    throw new InterruptedError(
      'interrupted: the state and every file written are complete, some hosts may be missing; run generate again to finish',
    );
  }
}

async function generateInto(
  out: string,
  parsed: ReturnType<typeof readSpecFile>,
  rotate: boolean,
  passphrase: string | undefined,
  hadState: boolean,
  agentSha256: RenderOptions['agentSha256'],
  output: OutputFormat,
  io: Io,
  interrupted: () => boolean,
): Promise<number> {
  const spec = parsed.spec;
  const state = await ensureState({
    outDir: out,
    spec,
    rotate,
    ...(passphrase ? { passphrase } : {}),
    now: new Date(),
  });
  if (state.rotated) {
    io.stderr(
      `!! --rotate: the cluster PKI, bootstrap secrets and every enrollment credential were replaced.\n!! All user-data generated before is now invalid: re-deliver the new files in ${out}/hosts/ to every machine.\n`,
    );
  }
  stopIfInterrupted(interrupted);
  const ctx = { coordinatorCa: state.state.tls.ca.cert, enrollmentCredentials: state.credentials };
  const plan = planCluster(spec, ctx, parsed.warnings);
  const renderer = new ArtifactRenderer(plan, createPublicSecretSource(state.state), {
    coordinatorCa: ctx.coordinatorCa,
    agentSha256,
    isoTimestamp: ISO_EPOCH,
  });
  const summary: HostSummary[] = [];
  const removedHosts = new Set(state.removed.flatMap((r) => (r.startsWith('credentials/') ? [r.slice('credentials/'.length)] : [])));
  const sink = new ArtifactSink(out);
  try {
    // Where a user-data may be over the platform's limit, nothing is written until every host passed.
    const held: Artifact[] = [];
    for (const hp of plan.hosts) {
      stopIfInterrupted(interrupted);
      const host = renderer.renderHost(hp);
      summary.push(host.summary);
      if (renderer.mayExceedLimit) held.push(...host.artifacts);
      else await sink.push(host.artifacts);
    }
    const clusterWide = renderer.finish(); // throws before anything held is written
    stopIfInterrupted(interrupted);
    await sink.push(held);
    await sink.push(clusterWide);

    // Hosts that left the spec lose their directories: stale user-data must not be pasted by mistake.
    const hostsDir = join(out, 'hosts');
    const keep = new Set(spec.hosts.map((h) => h.name));
    for (const d of await readdir(hostsDir).catch(() => [] as string[])) {
      if (keep.has(d)) continue;
      await rm(join(hostsDir, d), { recursive: true, force: true });
      removedHosts.add(d);
    }
    for (const f of await readdir(join(out, 'plan')).catch(() => [] as string[]))
      if (!keep.has(f.replace(/\.yaml$/, ''))) await rm(join(out, 'plan', f), { force: true });
  } catch (e) {
    await sink.close().catch(() => {});
    throw e;
  }
  await sink.close();
  for (const n of renderer.notes) io.stderr(`note: ${n}\n`);
  // `kubeseed serve --state OUT/coordinator` re-reads the spec it was generated from.
  await writeFile(join(out, 'coordinator', 'cluster.yaml'), await readFile(parsed.file), { mode: 0o600 });

  const hash = discoveryHash(state.state.pki.ca.cert);
  const data = {
    cluster: spec.name,
    out,
    stateDir: join(out, 'coordinator'),
    discoveryTokenCaCertHash: hash,
    created: state.created,
    removed: state.removed,
    removedHosts: [...removedHosts].sort(),
    rotated: state.rotated,
    hosts: summary,
    agentSha256,
    warnings: parsed.warnings.map((w) => ({ path: w.path, line: w.line, column: w.column, message: w.message })),
  };
  printData(io, output, data, () => {
    const rows = [
      ['HOST', 'ROLE', 'ADDRESS', 'FORMAT', 'USER-DATA BYTES'],
      ...summary.map((s) => [s.host, s.role, s.address, s.format, String(s.userDataBytes)]),
    ];
    io.stdout(formatTable(rows));
    io.stdout(`\nwrote ${out}/hosts/<host>/ for ${summary.length} hosts, ${out}/plan/, state in ${out}/coordinator/\n`);
    if (removedHosts.size > 0) {
      io.stdout(
        `removed ${removedHosts.size} host(s) no longer in the spec: ${[...removedHosts].sort().join(', ')} (their user-data, plan and credentials are gone)\n`,
      );
    }
    for (const [arch, sha256] of Object.entries(agentSha256))
      io.stdout(`agent linux-${arch} sha256: ${sha256} (checked by Ignition; re-run generate after rebuilding the agent)\n`);
    io.stdout(`discovery hash: ${hash}\n`);
    io.stdout(nextSteps(parsed.spec, out));
  });
  if (hadState) {
    // On stderr in every format: a coordinator already serving this state keeps the plan it loaded.
    io.stderr(
      `note: a \`kubeseed serve --state ${join(out, 'coordinator')}\` that is already running keeps the old plan and credentials; restart it (Ctrl-C, then serve again: the rollout resumes)\n`,
    );
  }
  return 0;
}

/**
 * The SHA-256 of each architecture's agent executable, read as the coordinator reads what it serves
 * (server/agent-binaries.ts). A missing executable is the operator's to fix, named with the fix.
 */
async function readAgentDigests(distDir: string, arches: SysextArch[]): Promise<RenderOptions['agentSha256']> {
  const digests: RenderOptions['agentSha256'] = {};
  const missing: string[] = [];
  for (const arch of arches) {
    const file = await findAgentExecutable(distDir, `linux-${arch}`);
    if (file) digests[arch] = (await readAgentExecutable(file)).sha256;
    else missing.push(join(distDir, AGENT_ARCHES[`linux-${arch}`]));
  }
  if (missing.length > 0) {
    throw new UsageError(
      `the agent executable ${missing.join(', ')} is not built. Ignition hosts check the agent they fetch against its SHA-256 (verification.hash), taken from the executable the coordinator will serve: run \`npm run build\`, or pass --dist DIR holding the executables (the --dist of kubeseed serve)`,
    );
  }
  return digests;
}
