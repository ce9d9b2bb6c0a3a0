/** `kubeseed generate SPEC --out DIR`: state (PKI, credentials) + every per-host artifact + a summary. */
import { closeSync, fstatSync, mkdirSync, openSync, readSync } from 'node:fs';
import { chmod, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { discoveryHash } from '../pki/index.ts';
import { planCluster } from '../plan/plan.ts';
import { type Artifact, renderArtifacts } from '../render/index.ts';
import { createPublicSecretSource, ensureState } from '../state/index.ts';
import { parseArgs, UsageError } from './args.ts';
import type { Io } from './commands.ts';
import { printWarnings, readSpecFile } from './spec-commands.ts';
import { formatTable } from './table.ts';

/**
 * Writes every artifact, a bounded number at a time (a 1,000-host fleet is thousands of files). A file
 * whose bytes and mode are already right is left alone, mtime included: re-running generate after a
 * spec edit touches only what changed (tools that sync snippets or seed images by mtime see the
 * truth), and reading is much cheaper than rewriting. Laid-out images (seed ISOs) are written into
 * one buffer per writer, reused from file to file.
 */
async function writeArtifacts(out: string, artifacts: Artifact[]): Promise<void> {
  const dirs = [...new Set(artifacts.map((a) => dirname(join(out, a.path))))];
  // Synchronous: one cheap syscall each, where a thread-pool round trip per directory costs more.
  for (const d of dirs) mkdirSync(d, { recursive: true, mode: 0o755 });
  // A file is created with `mode & ~umask`; chmod afterwards only when the umask took bits away.
  const umask = process.umask();
  let next = 0;
  const worker = async () => {
    let image = Buffer.alloc(0);
    while (next < artifacts.length) {
      const a = artifacts[next++]!;
      const path = join(out, a.path);
      let content: string | Uint8Array;
      if (typeof a.content === 'string' || a.content instanceof Uint8Array) content = a.content;
      else {
        if (image.length < a.content.size) image = Buffer.alloc(Math.max(a.content.size, 2 * image.length));
        content = image.subarray(0, a.content.size);
        content.fill(0);
        a.content.writeInto(content as Buffer);
      }
      const mode = sameContentMode(path, content);
      if (mode === a.mode) continue;
      if (mode === null || mode === MISSING) {
        await writeFile(path, content, { mode: a.mode });
        if (mode === MISSING && (a.mode & umask) === 0) continue;
      }
      // Also for files already there: `mode` on create only, and a re-run must fix a loosened mode.
      await chmod(path, a.mode);
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
}

/** One read buffer, grown as needed (the comparison is synchronous, so it is never shared). */
let scratch = Buffer.alloc(0);

/** `sameContentMode` of a file that does not exist. */
const MISSING = -1;

/**
 * The file's permission bits when it holds exactly `want`, MISSING when there is no such file, else
 * null (different, unreadable). Synchronous: a page-cache read is cheaper than a thread-pool round
 * trip for each of open, stat, read.
 */
function sameContentMode(path: string, want: string | Uint8Array): number | null {
  const size = typeof want === 'string' ? Buffer.byteLength(want, 'utf8') : want.byteLength;
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const st = fstatSync(fd);
    if (!st.isFile() || st.size !== size) return null;
    if (scratch.length < size) scratch = Buffer.alloc(Math.max(size, 2 * scratch.length, 1 << 20));
    if (readSync(fd, scratch, 0, size, 0) !== size) return null;
    const have = scratch.subarray(0, size);
    const same = typeof want === 'string' ? have.toString('utf8') === want : have.equals(want);
    return same ? st.mode & 0o7777 : null;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? MISSING : null;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Seed ISOs carry this fixed timestamp so re-running generate gives identical bytes. */
const ISO_EPOCH = new Date('2026-01-01T00:00:00Z');

export async function cmdGenerate(argv: string[], io: Io): Promise<number> {
  const { positional, flags } = parseArgs(argv, { booleans: ['strict', 'rotate', 'json'], values: ['out'] });
  const parsed = readSpecFile(positional[0], Boolean(flags.strict));
  const out = flags.out as string | undefined;
  if (!out) throw new UsageError('--out DIR is required: where hosts/, plan/ and coordinator/ are written');
  printWarnings(io, parsed.file, parsed);
  const spec = parsed.spec;
  const passphrase = io.env.KUBESEED_PASSPHRASE || undefined;
  const state = await ensureState({
    outDir: out,
    spec,
    rotate: Boolean(flags.rotate),
    ...(passphrase ? { passphrase } : {}),
    now: new Date(),
  });
  if (state.rotated) {
    io.stderr(
      `!! --rotate: the cluster PKI, bootstrap secrets and every enrollment credential were replaced.\n!! All user-data generated before is now invalid: re-deliver the new files in ${out}/hosts/ to every machine.\n`,
    );
  }
  const ctx = { coordinatorCa: state.state.tls.ca.cert, enrollmentCredentials: state.credentials };
  const plan = planCluster(spec, ctx, parsed.warnings);
  const { artifacts, summary, notes } = renderArtifacts(plan, createPublicSecretSource(state.state), {
    coordinatorCa: ctx.coordinatorCa,
    isoTimestamp: ISO_EPOCH,
  });

  // Hosts that left the spec lose their directories: stale user-data must not be pasted by mistake.
  const hostsDir = join(out, 'hosts');
  const keep = new Set(spec.hosts.map((h) => h.name));
  for (const d of await readdir(hostsDir).catch(() => [] as string[]))
    if (!keep.has(d)) await rm(join(hostsDir, d), { recursive: true, force: true });
  for (const f of await readdir(join(out, 'plan')).catch(() => [] as string[]))
    if (!keep.has(f.replace(/\.yaml$/, ''))) await rm(join(out, 'plan', f), { force: true });

  await writeArtifacts(out, artifacts);
  for (const n of notes) io.stderr(`note: ${n}\n`);
  // `kubeseed serve --state OUT/coordinator` re-reads the spec it was generated from.
  await writeFile(join(out, 'coordinator', 'cluster.yaml'), await readFile(parsed.file), { mode: 0o600 });

  const hash = discoveryHash(state.state.pki.ca.cert);
  if (flags.json) {
    io.stdout(
      `${JSON.stringify(
        {
          cluster: spec.name,
          out,
          stateDir: join(out, 'coordinator'),
          discoveryTokenCaCertHash: hash,
          created: state.created,
          removed: state.removed,
          rotated: state.rotated,
          hosts: summary,
          warnings: parsed.warnings.map((w) => ({ path: w.path, line: w.line, column: w.column, message: w.message })),
        },
        null,
        2,
      )}\n`,
    );
    return 0;
  }
  const rows = [
    ['HOST', 'ROLE', 'ADDRESS', 'FORMAT', 'USER-DATA BYTES'],
    ...summary.map((s) => [s.host, s.role, s.address, s.format, String(s.userDataBytes)]),
  ];
  io.stdout(formatTable(rows));
  io.stdout(`\nwrote ${out}/hosts/<host>/ for ${summary.length} hosts, ${out}/plan/, state in ${out}/coordinator/\n`);
  io.stdout(`discovery hash: ${hash}\nnext: kubeseed serve --state ${join(out, 'coordinator')}\n`);
  return 0;
}
