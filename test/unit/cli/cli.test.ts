/** The CLI through `main()` with captured output: exit codes, files, re-runs, and no secret in any output. */
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { loadState } from '../../../generator/state/index.ts';
import { ROOT } from '../../support/fixtures.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { runMain } from './run-main.ts';

const work = tempDir('ks-cli-');
afterAll(() => rmSync(work, { recursive: true, force: true }));

const run = (...argv: string[]) => runMain(argv, { cwd: work });

const example = (name: string) => join(ROOT, 'examples', `${name}.yaml`);

/** A dist directory holding a stand-in amd64 agent executable: Ignition configs carry its digest. */
const AGENT_STAND_IN = Buffer.from('#!/bin/sh\necho "kubeseed agent stand-in"\n');
const dist = join(work, 'dist');
mkdirSync(dist);
writeFileSync(join(dist, 'kubeseed-agent-linux-x64'), AGENT_STAND_IN, { mode: 0o755 });

describe('kubeseed CLI', () => {
  it('no command: usage on stdout, exit 2; --help exit 0; unknown command exit 2', async () => {
    expect((await run()).code).toBe(2);
    const help = await run('--help');
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^ {2}generate +write per-host user-data/m);
    const unknown = await run('deploy');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('unknown command "deploy"');
  });

  it('init writes a starter spec that validates, and refuses to overwrite', async () => {
    const file = join(work, 'starter.yaml');
    expect((await run('init', '--out', file)).code).toBe(0);
    const v = await run('validate', file);
    expect(v.code).toBe(0);
    expect(v.out).toContain('valid — k8s1-cluster');
    const again = await run('init', '--out', file);
    expect(again.code).toBe(2);
    expect(again.err).toContain('--force');
    const ext = join(work, 'starter-ext.yaml');
    expect((await run('init', '--topology', 'external-etcd', '--out', ext)).code).toBe(0);
    expect((await run('validate', ext)).out).toContain('external-etcd');
  });

  it('validate: exit 2 with every problem located; unknown option is a usage error', async () => {
    const bad = join(work, 'bad.yaml');
    writeFileSync(
      bad,
      readFileSync(example('ha-stacked'), 'utf8')
        .replace('topology: stacked', 'topolgy: stacked')
        .replace('vip: 10.101.1.10', 'vip: 10.9.9.9'),
    );
    const r = await run('validate', bad);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${bad}:8:3: spec.topolgy: unknown field; did you mean "topology"?`);
    expect(r.err).toContain('spec.loadBalancer.vip: 10.9.9.9 is outside the subnet');
    expect(r.err).toMatch(/2 error\(s\) in/);
    expect((await run('validate', bad, '--bogus')).code).toBe(2);
    expect((await run('validate', join(work, 'missing.yaml'))).err).toContain('no such file');
  });

  it('validate: a time server a template would refuse is exit 2 with its location, and generate writes nothing', async () => {
    // Issue 24: it passed validate (exit 0); generate then wrote the state directory and failed with exit 1, unlocated.
    const bad = join(work, 'bad-time-server.yaml');
    writeFileSync(bad, readFileSync(example('ha-stacked'), 'utf8').replace('timeServers: [10.101.1.1]', 'timeServers: ["bad server;x"]'));
    const r = await run('validate', bad);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${bad}:32:19: spec.os.timeServers[0]: "bad server;x" is not a time server`);
    const out = join(work, 'bad-time-server-out');
    const g = await run('generate', bad, '--out', out, '--dist', dist);
    expect(g.code).toBe(2);
    expect(existsSync(out)).toBe(false);
  });

  it('warnings exit 0, --strict turns them into exit 2', async () => {
    const r = await run('validate', example('nginx-keepalived'));
    expect(r.code).toBe(0);
    expect(r.err).toContain('warning: spec.kubeProxy.mode: ipvs is deprecated');
    expect((await run('validate', '--strict', example('nginx-keepalived'))).code).toBe(2);
  });

  it('plan prints every step in rollout order with placeholders, --host filters', async () => {
    const r = await run('plan', example('ha-external-etcd'));
    expect(r.code).toBe(0);
    const order = [...r.out.matchAll(/^# +\d+\. (\S+)/gm)].map((m) => m[1]);
    expect(order.indexOf('k8s2etcd1/etcd-start')).toBeLessThan(order.indexOf('k8s2master1/kubeadm-init'));
    expect(order.indexOf('k8s2master1/kubeadm-init')).toBeLessThan(order.indexOf('k8s2master2/kubeadm-join-control-plane'));
    expect(order.at(-1)).toBe('k8s2master1/verify');
    expect(r.out).toContain('token: <released by coordinator>');
    expect(r.out).toContain('certificateKey: <released by coordinator>');
    const one = await run('plan', example('ha-external-etcd'), '--host', 'k8s2worker1');
    expect(one.out).toContain('host: k8s2worker1');
    expect(one.out).not.toContain('host: k8s2master1');
    expect((await run('plan', example('ha-external-etcd'), '--host', 'nope')).code).toBe(2);
  });

  it('generate writes hosts/, plan/, coordinator/; re-run keeps credentials; --rotate replaces them; no secret in any output', async () => {
    const out = join(work, 'out');
    const first = await run('generate', example('kube-vip'), '--out', out, '--json');
    expect(first.code).toBe(0);
    const summary = JSON.parse(first.out);
    expect(summary.discoveryTokenCaCertHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(summary.hosts.map((h: { host: string }) => h.host)).toEqual(['cp1', 'cp2', 'cp3', 'worker1', 'worker2']);
    const userData = readFileSync(join(out, 'hosts/cp1/user-data'), 'utf8');
    expect(userData.startsWith('#cloud-config\n')).toBe(true);
    expect(statSync(join(out, 'hosts/cp1/user-data')).mode & 0o777).toBe(0o600);
    expect(statSync(join(out, 'coordinator')).mode & 0o777).toBe(0o700);
    for (const f of ['meta-data', 'network-config', 'seed.iso']) expect(statSync(join(out, 'hosts/cp1', f)).size).toBeGreaterThan(0);
    expect(readFileSync(join(out, 'plan/cp1.yaml'), 'utf8')).toContain('kind: InitConfiguration');

    const second = await run('generate', example('kube-vip'), '--out', out);
    expect(second.code).toBe(0);
    expect(second.out).toContain('HOST');
    expect(readFileSync(join(out, 'hosts/cp1/user-data'), 'utf8')).toBe(userData);

    // Every minted secret: none may appear in stdout/stderr of any command.
    const state = await loadState(join(out, 'coordinator'));
    const creds = JSON.parse(readFileSync(join(out, 'credentials/enrollment.json'), 'utf8'));
    const secrets = [
      state.secrets.bootstrapToken,
      state.secrets.certificateKey,
      state.pki.ca.key,
      state.pki.sa.key,
      ...Object.values<string>(creds.hosts),
    ];
    const plan = await run('plan', example('kube-vip'));
    const kc = await run('kubeconfig', '--state', join(out, 'coordinator'));
    for (const s of secrets) {
      for (const text of [first.out, first.err, second.out, second.err, plan.out, plan.err, kc.err]) expect(text.includes(s)).toBe(false);
    }
    // The plan files hold public values only.
    for (const s of [state.secrets.bootstrapToken, state.secrets.certificateKey, state.pki.ca.key])
      expect(readFileSync(join(out, 'plan/cp2.yaml'), 'utf8').includes(s)).toBe(false);

    const rotated = await run('generate', example('kube-vip'), '--out', out, '--rotate');
    expect(rotated.code).toBe(0);
    expect(rotated.err).toContain('--rotate');
    expect(readFileSync(join(out, 'hosts/cp1/user-data'), 'utf8')).not.toBe(userData);
  });

  it('a re-run leaves files that are already right untouched (mtime), fixes a loosened mode and rewrites a changed file', async () => {
    const out = join(work, 'rerun');
    expect((await run('generate', example('kube-vip'), '--out', out)).code).toBe(0);
    const file = (p: string) => join(out, 'hosts', p);
    const old = new Date('2020-01-01T00:00:00Z');
    for (const p of ['cp1/user-data', 'cp1/seed.iso', 'cp2/user-data', 'cp3/meta-data']) utimesSync(file(p), old, old);
    const cp2 = readFileSync(file('cp2/user-data'));
    chmodSync(file('cp1/seed.iso'), 0o644);
    writeFileSync(file('cp2/user-data'), Buffer.concat([cp2.subarray(0, -1), Buffer.from('#')]));
    writeFileSync(file('cp3/meta-data'), 'instance-id: edited\n');
    // Changed and loosened at once, and one removed: content and mode both come back.
    const lbIso = readFileSync(file('cp3/seed.iso'));
    writeFileSync(file('cp3/seed.iso'), 'not an image');
    chmodSync(file('cp3/seed.iso'), 0o666);
    rmSync(file('cp2/seed.iso'));

    expect((await run('generate', example('kube-vip'), '--out', out)).code).toBe(0);
    expect(readFileSync(file('cp3/seed.iso')).equals(lbIso)).toBe(true);
    expect(statSync(file('cp3/seed.iso')).mode & 0o777).toBe(0o600);
    expect(statSync(file('cp2/seed.iso')).mode & 0o777).toBe(0o600);
    expect(readFileSync(file('cp2/seed.iso')).subarray(32769, 32774).toString()).toBe('CD001');
    expect(statSync(file('cp1/user-data')).mtime).toEqual(old);
    expect(statSync(file('cp1/seed.iso')).mode & 0o777).toBe(0o600);
    expect(readFileSync(file('cp2/user-data')).equals(cp2)).toBe(true);
    expect(statSync(file('cp2/user-data')).mtime.getTime()).toBeGreaterThan(old.getTime());
    expect(readFileSync(file('cp3/meta-data'), 'utf8')).toMatch(/^instance-id: iid-cp3-/);
  });

  it('kubeconfig: admin identity for the endpoint; a missing state is exit 2', async () => {
    const out = join(work, 'out');
    const r = await run('kubeconfig', '--state', join(out, 'coordinator'));
    expect(r.code).toBe(0);
    expect(r.out).toContain('server: https://10.103.1.10:6443');
    expect(r.out).toContain('client-key-data:');
    expect((await run('kubeconfig', '--state', join(work, 'none'))).code).toBe(2);
  });

  it('aws: user-data over 16 KiB is delivered gzip-compressed; beyond what gzip saves it is an error naming host, size, limit', async () => {
    const base = readFileSync(example('kube-vip'), 'utf8')
      .replace('type: kube-vip', 'type: external')
      .replace('    vip: 10.103.1.10\n', '')
      .replace('family: ubuntu', 'family: ubuntu\n    platform: aws');
    const file = join(work, 'aws.yaml');
    writeFileSync(file, base);
    const ok = await run('generate', file, '--out', join(work, 'aws-out'));
    expect(ok.code).toBe(0);
    expect(ok.err).toMatch(
      /note: host cp1: user-data is [\d,]+ bytes raw \(before base64\), over the aws limit of 16,384; delivered gzip-compressed/,
    );
    const delivered = readFileSync(join(work, 'aws-out/hosts/cp1/user-data'));
    expect(delivered.length).toBeLessThanOrEqual(16_384);
    expect(gunzipSync(delivered).toString('utf8').startsWith('#cloud-config\n')).toBe(true);

    // 300 distinct SSH keys of random-looking base64 do not compress: over the limit even gzipped.
    const keys = Array.from(
      { length: 300 },
      (_, i) => `      - ssh-ed25519 ${createHash('sha512').update(String(i)).digest('base64')} k${i}`,
    ).join('\n');
    writeFileSync(file, base.replace('family: ubuntu', `family: ubuntu\n    sshAuthorizedKeys:\n${keys}`));
    const tooBig = await run('generate', file, '--out', join(work, 'aws-out2'));
    expect(tooBig.code).toBe(2);
    expect(tooBig.err).toMatch(
      /host cp1: user-data is [\d,]+ bytes raw \(before base64\) \([\d,]+ gzip-compressed\), over the aws limit of 16,384/,
    );
    // All or nothing: no host's files are written when one host is over the limit …
    expect(existsSync(join(work, 'aws-out2/hosts'))).toBe(false);
    expect(existsSync(join(work, 'aws-out2/plan'))).toBe(false);
    // … and a failed re-run leaves the files of the last good run as they were, mtime included.
    const before = statSync(join(work, 'aws-out/hosts/cp2/user-data'));
    expect((await run('generate', file, '--out', join(work, 'aws-out'))).code).toBe(2);
    expect(readFileSync(join(work, 'aws-out/hosts/cp1/user-data')).equals(delivered)).toBe(true);
    expect(statSync(join(work, 'aws-out/hosts/cp2/user-data')).mtimeMs).toBe(before.mtimeMs);
  });

  it('aws: an Ignition config over 16 KiB is an error naming the host (it cannot be gzipped as a whole)', async () => {
    const keys = Array.from(
      { length: 300 },
      (_, i) => `      - ssh-ed25519 ${createHash('sha512').update(String(i)).digest('base64')} k${i}`,
    ).join('\n');
    const spec = readFileSync(example('flatcar-kube-vip'), 'utf8')
      .replace('type: kube-vip', 'type: external')
      .replace(/ {4}vip: [\d.]+\n/, '')
      .replace('family: flatcar', `family: flatcar\n    platform: aws\n    sshAuthorizedKeys:\n${keys}`);
    const file = join(work, 'aws-ign.yaml');
    writeFileSync(file, spec);
    const r = await run('generate', file, '--out', join(work, 'aws-ign'), '--dist', dist);
    expect(r.err).toMatch(/host cp1: Ignition config is [\d,]+ bytes raw \(before base64\), over the aws limit of 16,384/);
    expect(r.code).toBe(2);
    expect(existsSync(join(work, 'aws-ign/hosts'))).toBe(false);
  });

  it('generate: every Ignition config checks the agent against the digest of the built executable (issue 23 item 8)', async () => {
    const out = join(work, 'flatcar-out');
    const r = await run('generate', example('flatcar-kube-vip'), '--out', out, '--dist', dist, '--json');
    expect(r.code).toBe(0);
    const sha256 = createHash('sha256').update(AGENT_STAND_IN).digest('hex');
    expect(JSON.parse(r.out).agentSha256).toEqual({ amd64: sha256 });
    for (const host of ['cp1', 'cp2', 'cp3', 'worker1', 'worker2']) {
      const cfg = JSON.parse(readFileSync(join(out, 'hosts', host, 'config.ign'), 'utf8'));
      const agent = cfg.storage.files.find((f: { path: string }) => f.path === '/opt/bin/kubeseed-agent');
      expect(agent.contents).toEqual({
        source: 'https://10.105.1.5:9443/agent/linux-amd64',
        compression: 'gzip',
        verification: { hash: `sha256-${sha256}` },
      });
    }
    // The images come from https without digests in the example: said, not hidden.
    expect(r.err).toContain('trusted through TLS only');
  });

  it('generate: Ignition hosts without a built agent are refused before anything is written, naming the fix', async () => {
    const empty = join(work, 'no-dist');
    mkdirSync(empty);
    const out = join(work, 'flatcar-unbuilt');
    const r = await run('generate', example('flatcar-kube-vip'), '--out', out, '--dist', empty);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`the agent executable ${join(empty, 'kubeseed-agent-linux-x64')} is not built`);
    expect(r.err).toContain('run `npm run build`, or pass --dist DIR');
    expect(existsSync(out)).toBe(false);
    // cloud-init hosts need no local build: install-agent.sh checks the digest the coordinator publishes.
    expect((await run('generate', example('kube-vip'), '--out', join(work, 'ubuntu-unbuilt'), '--dist', empty)).code).toBe(0);
  });

  it('a file that cannot be written is a runtime error naming it (exit 1), after which generate stops', async () => {
    const out = join(work, 'blocked');
    mkdirSync(out);
    writeFileSync(join(out, 'hosts'), 'a file where the hosts/ directory belongs\n');
    const r = await run('generate', example('kube-vip'), '--out', out);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/kubeseed generate: (ENOTDIR|EEXIST)[^\n]*hosts/);
    // Nothing was taken for written: the spec copy that `serve` reads comes only after every file.
    expect(existsSync(join(out, 'coordinator/cluster.yaml'))).toBe(false);
  });
});
