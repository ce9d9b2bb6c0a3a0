/**
 * PKI generation benchmark: the cluster PKI of an external-etcd cluster with 3 etcd members and
 * 3 control planes (14 RSA-2048 keys: ca, front-proxy-ca, etcd/ca, sa, apiserver-etcd-client,
 * and server/peer/healthcheck-client per member), against the native floor measured in the same
 * run: the same number of `openssl genpkey` RSA-2048 keys, two at a time. Runs alternate so both
 * see the same machine noise. Also times the ECDSA-P256 PKI and a full `ensureState`.
 *
 * Run: npx tsx bench/pki.ts [--runs N] [--no-write]   (writes the `## PKI` section of BENCHMARKS.md)
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { generateClusterPki } from '../generator/pki/index.ts';
import { ensureState } from '../generator/state/index.ts';
import { makeHost, makeSpec } from '../test/unit/pki/fixtures.ts';

const run = promisify(execFile);
const args = process.argv.slice(2);
const RUNS = Number(args[args.indexOf('--runs') + 1] ?? 5) || 5;
const WRITE = !args.includes('--no-write');
const RSA_TARGET_RATIO = 1.2;
const ECDSA_TARGET_SECONDS = 0.2;

const hosts = [
  ...[1, 2, 3].map((i) => makeHost(`etcd${i}`, 'etcd', `10.101.1.${20 + i}`)),
  ...[1, 2, 3].map((i) => makeHost(`master${i}`, 'control-plane', `10.101.1.${100 + i}`)),
];
const rsaSpec = makeSpec({ topology: 'external-etcd', keyAlgorithm: 'RSA-2048', hosts });
const ecdsaSpec = makeSpec({ topology: 'external-etcd', keyAlgorithm: 'ECDSA-P256', hosts });
const KEYS = 4 + 1 + 3 * 3;

async function time(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** `count` RSA-2048 keys with openssl, two processes at a time. */
async function opensslFloor(count: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      await run('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', '/dev/null']);
    }
  };
  await Promise.all([worker(), worker()]);
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const fmt = (s: number) => `${s.toFixed(3)} s`;

async function main(): Promise<void> {
  const loadBefore = loadavg()[0]!;
  // Warm-up: JIT, thread pool, openssl binary in the page cache.
  await generateClusterPki({ spec: ecdsaSpec, now: new Date() });
  await opensslFloor(2);

  const pki: number[] = [];
  const floor: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    pki.push(await time(() => generateClusterPki({ spec: rsaSpec, now: new Date() })));
    floor.push(await time(() => opensslFloor(KEYS)));
  }
  const ecdsa: number[] = [];
  for (let i = 0; i < RUNS; i++) ecdsa.push(await time(() => generateClusterPki({ spec: ecdsaSpec, now: new Date() })));
  const full: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const out = await mkdtemp(join(tmpdir(), 'ks-bench-pki-'));
    full.push(await time(() => ensureState({ outDir: out, spec: rsaSpec, now: new Date() })));
    await rm(out, { recursive: true, force: true });
  }

  const ratio = median(pki) / median(floor);
  const cpu = cpus();
  const opensslVersion = execFileSync('openssl', ['version'], { encoding: 'utf8' }).trim();
  const rows = [
    ['RSA-2048 cluster PKI (`generateClusterPki`)', pki],
    [`native floor: ${KEYS} × \`openssl genpkey\` RSA-2048, 2 at a time`, floor],
    ['ECDSA-P256 cluster PKI (`generateClusterPki`)', ecdsa],
    ['RSA-2048 `ensureState` (PKI + coordinator TLS + secrets + atomic writes)', full],
  ] as const;
  const section = [
    '## PKI',
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} with \`npx tsx bench/pki.ts\` (median of ${RUNS} runs; RSA and openssl runs alternate).`,
    '',
    `Cluster: external etcd, 3 etcd members + 3 control planes → ${KEYS} keys (ca, front-proxy-ca, etcd/ca, sa,`,
    'apiserver-etcd-client, and server/peer/healthcheck-client per member) and 13 certificates. Keys come from',
    "Node's async `crypto.generateKeyPair` (OpenSSL on the libuv thread pool, all at once); certificates are",
    'structured with node-forge and signed with `crypto.sign` (docs/adr/0001-pki-signing.md).',
    '',
    `Machine: ${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${opensslVersion};`,
    `1-minute load average ${loadBefore.toFixed(1)} before and ${loadavg()[0]!.toFixed(1)} after (on 2 cores, a value above ~1 before the run means other jobs shared the machine).`,
    '',
    '| what | median | runs |',
    '| --- | --- | --- |',
    ...rows.map(([name, values]) => `| ${name} | ${fmt(median(values))} | ${values.map((v) => v.toFixed(2)).join(', ')} |`),
    '',
    `- RSA-2048 PKI / native floor: **${ratio.toFixed(2)}×** (target ≤ ${RSA_TARGET_RATIO}×: ${ratio <= RSA_TARGET_RATIO ? 'met' : 'NOT met'}).`,
    `- ECDSA-P256 PKI: **${fmt(median(ecdsa))}** (target < ${ECDSA_TARGET_SECONDS} s: ${median(ecdsa) < ECDSA_TARGET_SECONDS ? 'met' : 'NOT met'}).`,
    '- RSA key generation is a random prime search: single runs vary by ±50 % and a 5-run median ratio by about ±0.3 on a',
    '  shared machine; `npx tsx bench/pki.ts --runs 15` narrows it.',
    '',
  ].join('\n');

  process.stdout.write(`${section}\n`);
  if (WRITE) await writeSection('BENCHMARKS.md', section);
  if (ratio > RSA_TARGET_RATIO || median(ecdsa) >= ECDSA_TARGET_SECONDS) process.exitCode = 1;
}

/** Replaces the `## PKI` section of the file (up to the next `## `), or appends it; other sections stay. */
async function writeSection(file: string, section: string): Promise<void> {
  let text = '';
  try {
    text = await readFile(file, 'utf8');
  } catch {
    text = '# Benchmarks\n\nEach section is written by its benchmark script; numbers are from the machine named in it.\n\n';
  }
  const start = text.search(/^## PKI$/m);
  if (start < 0) {
    text = `${text.replace(/\n*$/, '\n\n')}${section}`;
  } else {
    const rest = text.slice(start + 1);
    const next = rest.search(/^## /m);
    text = text.slice(0, start) + section + (next < 0 ? '' : `\n${rest.slice(next)}`);
  }
  await writeFile(file, text.replace(/\n+$/, '\n'));
}

await main();
