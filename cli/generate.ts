/** `kubeseed generate SPEC --out DIR`: state (PKI, credentials) + every per-host artifact + a summary. */
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { discoveryHash } from '../generator/pki/index.ts';
import { planCluster } from '../generator/plan/plan.ts';
import { type Artifact, ArtifactRenderer, type HostSummary } from '../generator/render/index.ts';
import { createPublicSecretSource, ensureState } from '../generator/state/index.ts';
import { type OutputFormat, UsageError } from './args.ts';
import { ArtifactSink } from './artifact-sink.ts';
import { type Io, parseCommand } from './commands.ts';
import { printData } from './output.ts';
import { printWarnings, readSpecFile } from './spec-commands.ts';
import { formatTable } from './table.ts';

/** Seed ISOs carry this fixed timestamp so re-running generate gives identical bytes. */
const ISO_EPOCH = new Date('2026-01-01T00:00:00Z');

export async function cmdGenerate(argv: string[], io: Io): Promise<number> {
  const { positional, flags, output } = parseCommand('generate', argv);
  const parsed = readSpecFile(positional[0], Boolean(flags.strict));
  const out = flags.out as string; // required in the command table
  await refuseFileInPath(out);
  printWarnings(io, parsed.file, parsed);
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
    return await generateInto(out, parsed, Boolean(flags.rotate), passphrase, hadState, output, io, () => interrupted);
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
    throw Object.assign(
      new Error('interrupted: the state and every file written are complete, some hosts may be missing; run generate again to finish'),
      { exitCode: 130 },
    );
  }
}

async function generateInto(
  out: string,
  parsed: ReturnType<typeof readSpecFile>,
  rotate: boolean,
  passphrase: string | undefined,
  hadState: boolean,
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
    io.stdout(`discovery hash: ${hash}\nnext: kubeseed serve --state ${join(out, 'coordinator')}\n`);
  });
  if (hadState) {
    // On stderr in every format: a coordinator already serving this state keeps the plan it loaded.
    io.stderr(
      `note: a \`kubeseed serve --state ${join(out, 'coordinator')}\` that is already running keeps the old plan and credentials; restart it (Ctrl-C, then serve again: the rollout resumes)\n`,
    );
  }
  return 0;
}
