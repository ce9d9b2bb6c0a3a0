/**
 * cni-apply installs what its commands run (issue 17 defect 1): each released download is fetched
 * (loopback HTTP here, redirects followed as GitHub release URLs need), refused unless its sha256
 * is the pinned one, unpacked from its .tar.gz (one executable, or a whole chart tree) below the
 * host root, and only then is the CLI run — the TEST DOUBLE for cilium-cli, reached through the
 * launcher inside the served tarball exactly as the real binary would be.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Exec } from '../../../agent/io.ts';
import { createNodeExec, createRootFs, systemClock } from '../../../agent/node-io.ts';
import { noProxyMatches } from '../../../agent/steps/download.ts';
import { DEFAULT_STEP_TIMING, executeStep as executeReleasedStep, type StepContext } from '../../../agent/steps/index.ts';
import { DOUBLES_DIR, doubleEnv, readDoubleLog } from '../../../doubles/index.ts';
import type { StepDownload, StepDownloadProxy } from '../../../protocol/steps.ts';
import type { ReleasedStep } from '../../../protocol/wire.ts';
import { type WireStep, wireStep } from '../../support/wire-step.ts';
import { makeTempRoot, makeTlsMaterial, scriptedNet } from './support.ts';

/** Steps as tests write them (loose params, see test/support/wire-step.ts). */
const executeStep = (step: WireStep | ReleasedStep, ctx: StepContext) => executeReleasedStep(wireStep(step as WireStep), ctx);

const ARCH = process.arch === 'arm64' ? 'arm64' : 'amd64';
const CLI_PATH = '/usr/local/bin/cilium';
const CHART_DIR = '/var/lib/kubeseed/cilium/chart';
const VALUES = '/etc/kubeseed/cni/cilium-values.yaml';

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A .tar.gz made by the system tar from `files` (relative path → content, executable when mode given). */
function tarball(dir: string, files: Record<string, { content: string; mode?: number }>): Buffer {
  const src = join(dir, `src-${Math.random().toString(36).slice(2)}`);
  for (const [rel, f] of Object.entries(files)) {
    mkdirSync(join(src, rel, '..'), { recursive: true });
    writeFileSync(join(src, rel), f.content);
    chmodSync(join(src, rel), f.mode ?? 0o644);
  }
  const out = `${src}.tar.gz`;
  execFileSync('tar', ['-czf', out, '-C', src, ...Object.keys(files).map((rel) => rel.split('/')[0] as string)]);
  return readFileSync(out);
}

/** Serves `routes` on 127.0.0.1; a route whose value starts with "redirect:" answers 302. */
async function serve(routes: Record<string, Buffer | string>): Promise<{ base: string; hits: string[] }> {
  const hits: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    hits.push(path);
    const body = routes[path];
    if (typeof body === 'string' && body.startsWith('redirect:')) {
      res.writeHead(302, { location: body.slice('redirect:'.length) }).end();
    } else if (body === undefined) res.writeHead(404).end('not found');
    else res.writeHead(200, { 'content-length': String(Buffer.byteLength(body)) }).end(body);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  cleanups.push(() => new Promise<void>((done) => server.close(() => done())));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits };
}

function host() {
  const r = makeTempRoot('ks-cni-');
  cleanups.push(r.cleanup);
  const log = join(r.root, '.calls.log');
  const state = join(r.root, '.cluster.json');
  writeFileSync(state, JSON.stringify({ nodes: { 'cp-1': {} }, applied: [], tokens: [], apiServer: true }));
  r.write('/etc/kubernetes/admin.conf', 'apiVersion: v1\nkind: Config\n', 0o600);
  const node = createNodeExec({ env: doubleEnv({ root: r.root, log, clusterState: state }) });
  // The host's filesystem is the temporary root: an absolute executable path resolves below it,
  // as it would inside a chroot; names resolve through PATH (the doubles).
  const runs: Array<{ argv: readonly string[]; env: Record<string, string> | undefined }> = [];
  const exec: Exec = {
    run: (argv, options) => {
      runs.push({ argv, env: options?.env });
      const [file, ...rest] = argv;
      return node.run(file?.startsWith('/') ? [join(r.root, file), ...rest] : argv, options);
    },
  };
  const ctx: StepContext = {
    fs: createRootFs(r.root),
    exec,
    net: scriptedNet(),
    clock: systemClock,
    log: () => undefined,
    stateDir: '/var/lib/kubeseed',
    timing: { ...DEFAULT_STEP_TIMING, pollMs: 20, apiReadyTimeoutMs: 1_000, commandTimeoutMs: 30_000 },
  };
  return {
    root: r.root,
    ctx,
    runs,
    calls: (tool: string) => (existsSync(log) ? readDoubleLog(log).filter((c) => c.tool === tool) : []),
    state: () => JSON.parse(readFileSync(state, 'utf8')),
  };
}

/** The cilium-cli "release": a launcher for the TEST DOUBLE, named like the real binary. */
function cliTarball(dir: string): Buffer {
  return tarball(dir, {
    cilium: { content: `#!/bin/sh\nKUBESEED_CILIUM_LAUNCHER="$0" exec "${DOUBLES_DIR}/cilium" "$@"\n`, mode: 0o755 },
  });
}

function chartTarball(dir: string, version = '1.20.0'): Buffer {
  return tarball(dir, {
    'cilium/Chart.yaml': { content: `apiVersion: v2\nname: cilium\nversion: ${version}\n` },
    'cilium/values.yaml': { content: 'ipam:\n  mode: cluster-pool\n' },
    'cilium/templates/agent.yaml': { content: 'kind: DaemonSet\n' },
  });
}

/**
 * A forward proxy on 127.0.0.1 as squid answers: absolute-form GETs are fetched for the client,
 * CONNECT host:port opens a tunnel (200) unless `refuse` is set (403, then closed). Every name resolves to
 * 127.0.0.1 here, so a URL naming a `.invalid` host (RFC 6761: never resolves) is only reachable
 * through it. It records the request line and the Proxy-Authorization header it was sent.
 */
async function forwardProxy(options: { refuse?: boolean } = {}): Promise<{ url: string; seen: Array<{ line: string; auth?: string }> }> {
  const seen: Array<{ line: string; auth?: string }> = [];
  const record = (method: string, target: string, auth: string | string[] | undefined) =>
    seen.push({ line: `${method} ${target}`, ...(typeof auth === 'string' ? { auth } : {}) });
  const server = createServer((req, res) => {
    record(req.method ?? '', req.url ?? '', req.headers['proxy-authorization']);
    const target = new URL(req.url ?? '');
    const upstream = httpRequest(
      { host: '127.0.0.1', port: target.port, path: `${target.pathname}${target.search}`, headers: { host: target.host } },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.writeHead(502).end());
    upstream.end();
  });
  server.on('connect', (req, client, head) => {
    record('CONNECT', req.url ?? '', req.headers['proxy-authorization']);
    if (options.refuse) {
      client.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n', () => client.destroy());
      return;
    }
    const port = Number((req.url ?? '').split(':').pop());
    const upstream = netConnect(port, '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    // As squid does, a tunnel closes as a whole when either side closes.
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  cleanups.push(() => {
    server.closeAllConnections();
    return new Promise<void>((done) => server.close(() => done()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

function ciliumStep(downloads: StepDownload[], proxy?: StepDownloadProxy): WireStep {
  return {
    id: 'cp-1/cni-apply',
    kind: 'cni-apply',
    host: 'cp-1',
    attempt: 1,
    files: [{ path: VALUES, content: 'ipam:\n  mode: kubernetes\n', mode: 0o644, secret: false }],
    params: {
      manifests: [],
      downloads,
      ...(proxy ? { proxy } : {}),
      commands: [[CLI_PATH, 'install', '--version', '1.20.0', '--chart-directory', `${CHART_DIR}/cilium`, '--values', VALUES, '--wait']],
    },
    redact: [],
  };
}

describe('cni-apply downloads, verifies and installs the cilium CLI before running it', () => {
  it('installs the pinned tarballs (following a redirect) and runs the installed executable', async () => {
    const h = host();
    const cli = cliTarball(h.root);
    const chart = chartTarball(h.root);
    const srv = await serve({
      [`/v0.19.7/cilium-linux-${ARCH}.tar.gz`]: `redirect:/objects/cilium-linux-${ARCH}.tar.gz`,
      [`/objects/cilium-linux-${ARCH}.tar.gz`]: cli,
      '/cilium-1.20.0.tgz': chart,
    });
    const report = await executeStep(
      ciliumStep([
        {
          url: `${srv.base}/v0.19.7/cilium-linux-{arch}.tar.gz`,
          sha256: { amd64: ARCH === 'amd64' ? sha256(cli) : '0'.repeat(64), arm64: ARCH === 'arm64' ? sha256(cli) : '0'.repeat(64) },
          member: 'cilium',
          path: CLI_PATH,
        },
        { url: `${srv.base}/cilium-1.20.0.tgz`, sha256: sha256(chart), path: CHART_DIR },
      ]),
      h.ctx,
    );
    expect(report).toMatchObject({ outcome: 'succeeded' });
    expect(srv.hits).toEqual([`/v0.19.7/cilium-linux-${ARCH}.tar.gz`, `/objects/cilium-linux-${ARCH}.tar.gz`, '/cilium-1.20.0.tgz']);
    expect(statSync(join(h.root, CLI_PATH)).mode & 0o777).toBe(0o755);
    expect(readFileSync(join(h.root, CHART_DIR, 'cilium/Chart.yaml'), 'utf8')).toContain('version: 1.20.0');
    expect(h.calls('cilium').map((c) => c.argv)).toEqual([
      ['install', '--version', '1.20.0', '--chart-directory', `${CHART_DIR}/cilium`, '--values', VALUES, '--wait'],
    ]);
    expect(h.calls('cilium')[0]?.exit).toBe(0);
    expect(h.state().cniApplied).toBe(true);

    // Another step with the same pins finds both installed and downloads nothing again.
    const downloadsOnly: WireStep = { ...ciliumStep([]), id: 'cp-1/cni-apply-again', files: [] };
    downloadsOnly.params = {
      commands: [],
      downloads: [
        {
          url: `${srv.base}/v0.19.7/cilium-linux-{arch}.tar.gz`,
          sha256: { amd64: sha256(cli), arm64: sha256(cli) },
          member: 'cilium',
          path: CLI_PATH,
        },
        { url: `${srv.base}/cilium-1.20.0.tgz`, sha256: sha256(chart), path: CHART_DIR },
      ],
    };
    expect((await executeStep(downloadsOnly, h.ctx)).outcome).toBe('succeeded');
    expect(srv.hits).toHaveLength(3);

    // A retry after an install that created the release: Helm refuses the name, so the agent upgrades.
    const retry = await executeStep(
      { ...ciliumStep((downloadsOnly.params.downloads as StepDownload[] | undefined) ?? []), id: 'cp-1/cni-apply-retry' },
      h.ctx,
    );
    expect(retry.outcome).toBe('succeeded');
    expect(h.calls('cilium').map((c) => [c.argv[0], c.exit])).toEqual([
      ['install', 0],
      ['install', 1],
      ['upgrade', 0],
    ]);
    expect(srv.hits).toHaveLength(3);
  });

  it('refuses a tarball whose sha256 is not the pinned one, names both hashes, and runs nothing', async () => {
    const h = host();
    const cli = cliTarball(h.root);
    const srv = await serve({ [`/cilium-linux-${ARCH}.tar.gz`]: cli });
    const pinned = 'ab'.repeat(32);
    const report = await executeStep(
      ciliumStep([
        { url: `${srv.base}/cilium-linux-{arch}.tar.gz`, sha256: { amd64: pinned, arm64: pinned }, member: 'cilium', path: CLI_PATH },
      ]),
      h.ctx,
    );
    expect(report).toMatchObject({ outcome: 'failed', reason: 'download-sha256-mismatch' });
    expect(report.logTail).toContain(`${srv.base}/cilium-linux-${ARCH}.tar.gz`);
    expect(report.logTail).toContain(`sha256 ${sha256(cli).slice(0, 16)}…`); // 64 hex digits would be redacted as a key
    expect(report.logTail).toContain(`pinned ${pinned.slice(0, 16)}…`);
    expect(existsSync(join(h.root, CLI_PATH))).toBe(false);
    expect(h.calls('cilium')).toEqual([]);
  });

  it('a missing file (HTTP 404) and a tarball without the executable are clear failures', async () => {
    const h = host();
    const empty = tarball(h.root, { 'README.md': { content: 'no binary here\n' } });
    const srv = await serve({ '/empty.tar.gz': empty });
    const missing = await executeStep(
      ciliumStep([{ url: `${srv.base}/nope.tar.gz`, sha256: 'cd'.repeat(32), member: 'cilium', path: CLI_PATH }]),
      h.ctx,
    );
    expect(missing).toMatchObject({ outcome: 'failed', reason: 'download-failed' });
    expect(missing.logTail).toContain('HTTP 404');
    const noMember = await executeStep(
      { ...ciliumStep([{ url: `${srv.base}/empty.tar.gz`, sha256: sha256(empty), member: 'cilium', path: CLI_PATH }]), id: 'x2' },
      h.ctx,
    );
    expect(noMember).toMatchObject({ outcome: 'failed', reason: 'download-member-missing' });
    expect(noMember.logTail).toContain('holds no cilium');
  });

  it('without the download the CLI is not there: refused by path, not found by name', async () => {
    const h = host();
    const byPath = await executeStep(ciliumStep([]), h.ctx);
    expect(byPath).toMatchObject({ outcome: 'failed', reason: 'command-not-allowed', permanent: true });
    const byName = ciliumStep([]);
    byName.id = 'by-name';
    byName.params.commands = [['cilium', 'install', '--version', '1.20.0', '--values', VALUES, '--wait']];
    const report = await executeStep(byName, h.ctx);
    // Not installed: spawn finds nothing (ENOENT), or, where the doubles' own directory is on PATH,
    // the double answers as a shell does for a missing command (127).
    expect(report).toMatchObject({ outcome: 'failed', reason: expect.stringMatching(/^cilium-(not-found|exit-127)$/) });
  });
});

describe('an https mirror signed by a site CA', () => {
  it("is trusted through the host's CA bundle, and refused without it", async () => {
    const h = host();
    const tls = makeTlsMaterial();
    const cli = cliTarball(h.root);
    const server = createHttpsServer({ cert: tls.certPem, key: tls.keyPem }, (_req, res) => res.writeHead(200).end(cli));
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    cleanups.push(() => new Promise<void>((done) => server.close(() => done())));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/cilium-linux-{arch}.tar.gz`;
    const step = (id: string): WireStep => ({
      ...ciliumStep([{ url, sha256: { amd64: sha256(cli), arm64: sha256(cli) }, member: 'cilium', path: CLI_PATH }]),
      id,
      params: { downloads: [{ url, sha256: { amd64: sha256(cli), arm64: sha256(cli) }, member: 'cilium', path: CLI_PATH }] },
    });
    const untrusted = await executeStep(step('no-bundle'), h.ctx);
    expect(untrusted).toMatchObject({ outcome: 'failed', reason: 'download-failed' });
    mkdirSync(join(h.root, 'etc/ssl/certs'), { recursive: true });
    writeFileSync(join(h.root, 'etc/ssl/certs/ca-certificates.crt'), tls.caPem);
    expect((await executeStep(step('with-bundle'), h.ctx)).outcome).toBe('succeeded');
    expect(existsSync(join(h.root, CLI_PATH))).toBe(true);
  });
});

describe('behind spec.proxy (a site whose only way out is an HTTP proxy)', () => {
  const chartOnly = (url: string, chart: Buffer): StepDownload[] => [{ url, sha256: sha256(chart), path: CHART_DIR }];
  const downloadOnly = (id: string, downloads: StepDownload[], proxy: StepDownloadProxy): WireStep => ({
    ...ciliumStep(downloads, proxy),
    id,
    files: [],
    params: { downloads, proxy },
  });

  it('fetches http:// through the http proxy in absolute form, each redirect hop decided anew, and goes direct for noProxy hosts', async () => {
    const h = host();
    const chart = chartTarball(h.root);
    const srv = await serve({ '/cilium-1.20.0.tgz': 'redirect:/objects/chart.tgz', '/objects/chart.tgz': chart, '/direct.tgz': chart });
    const port = new URL(srv.base).port;
    const proxy = await forwardProxy();
    const settings = { http: proxy.url.replace('http://', 'http://kube:s3cr%40t@'), noProxy: ['localhost', '127.0.0.1', '.corp.lan'] };
    const report = await executeStep(
      downloadOnly('via-proxy', chartOnly(`http://cilium-mirror.invalid:${port}/cilium-1.20.0.tgz`, chart), settings),
      h.ctx,
    );
    expect(report.outcome).toBe('succeeded');
    expect(proxy.seen).toEqual([
      {
        line: `GET http://cilium-mirror.invalid:${port}/cilium-1.20.0.tgz`,
        auth: `Basic ${Buffer.from('kube:s3cr@t').toString('base64')}`,
      },
      {
        line: `GET http://cilium-mirror.invalid:${port}/objects/chart.tgz`,
        auth: `Basic ${Buffer.from('kube:s3cr@t').toString('base64')}`,
      },
    ]);
    expect(readFileSync(join(h.root, CHART_DIR, 'cilium/Chart.yaml'), 'utf8')).toContain('version: 1.20.0');
    expect(report.logTail).not.toContain('s3cr');

    // 127.0.0.1 is in noProxy: the agent connects itself, the proxy sees nothing.
    const h2 = host();
    const direct = await executeStep(downloadOnly('direct', chartOnly(`${srv.base}/direct.tgz`, chart), settings), h2.ctx);
    expect(direct.outcome).toBe('succeeded');
    expect(proxy.seen).toHaveLength(2);
    expect(srv.hits.at(-1)).toBe('/direct.tgz');
  });

  it('tunnels https:// through CONNECT to the https proxy, verifying the mirror against the host CA bundle', async () => {
    const h = host();
    const tls = makeTlsMaterial();
    const cli = cliTarball(h.root);
    const server = createHttpsServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
      if (req.url === '/v0.19.7/cilium.tar.gz') res.writeHead(302, { location: '/objects/cilium.tar.gz' }).end();
      else res.writeHead(200, { 'content-length': String(cli.length) }).end(cli);
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    cleanups.push(() => new Promise<void>((done) => server.close(() => done())));
    mkdirSync(join(h.root, 'etc/ssl/certs'), { recursive: true });
    writeFileSync(join(h.root, 'etc/ssl/certs/ca-certificates.crt'), tls.caPem);
    const port = (server.address() as AddressInfo).port;
    const proxy = await forwardProxy();
    const downloads: StepDownload[] = [
      {
        url: `https://localhost:${port}/v0.19.7/cilium.tar.gz`,
        sha256: { amd64: sha256(cli), arm64: sha256(cli) },
        member: 'cilium',
        path: CLI_PATH,
      },
    ];
    // The http proxy is for http:// URLs only; https:// ones take the https proxy.
    const settings = {
      http: 'http://127.0.0.1:9',
      https: proxy.url.replace('http://', 'http://kube:hunter2@'),
      noProxy: ['.corp.lan', '10.0.0.0/8'],
    };
    const report = await executeStep(downloadOnly('tunnel', downloads, settings), h.ctx);
    expect(report.outcome).toBe('succeeded');
    expect(proxy.seen).toEqual([
      { line: `CONNECT localhost:${port}`, auth: `Basic ${Buffer.from('kube:hunter2').toString('base64')}` },
      { line: `CONNECT localhost:${port}`, auth: `Basic ${Buffer.from('kube:hunter2').toString('base64')}` },
    ]);
    expect(statSync(join(h.root, CLI_PATH)).mode & 0o777).toBe(0o755);

    // A proxy that refuses the tunnel: a clear failure naming the proxy (without its password) and the status.
    const refusing = await forwardProxy({ refuse: true });
    const h2 = host();
    const refused = await executeStep(
      downloadOnly('refused', downloads, { ...settings, https: refusing.url.replace('http://', 'http://kube:hunter2@') }),
      h2.ctx,
    );
    expect(refused).toMatchObject({ outcome: 'failed', reason: 'download-failed' });
    expect(refused.logTail).toContain(refusing.url);
    expect(refused.logTail).toContain('403');
    expect(refused.logTail).not.toContain('hunter2');
    expect(existsSync(join(h2.root, CLI_PATH))).toBe(false);
  });
});

describe('upstream manifests behind spec.proxy (Calico, Flannel)', () => {
  it('kubectl fetches a manifest URL with the proxy in its environment, as Go reads it; local files and the API need none', async () => {
    const h = host();
    const proxy: StepDownloadProxy = {
      http: 'http://proxy.lan:3128',
      https: 'http://u:p@proxy.lan:3128',
      noProxy: ['api.t1.lan', '10.1.0.0/24'],
    };
    const url = 'https://github.com/flannel-io/flannel/releases/download/v0.27.4/kube-flannel.yml';
    const local = '/etc/kubeseed/cni/flannel-net-conf.yaml';
    const step: WireStep = {
      id: 'cp-1/cni-apply',
      kind: 'cni-apply',
      host: 'cp-1',
      attempt: 1,
      files: [{ path: local, content: 'kind: ConfigMap\nmetadata: {name: kube-flannel-cfg}\n', mode: 0o644, secret: false }],
      params: { manifests: [url, local], commands: [], proxy },
      redact: [],
    };
    const report = await executeStep(step, h.ctx);
    expect(report.outcome).toBe('succeeded');
    const applies = h.runs.filter((r) => r.argv[0] === 'kubectl' && r.argv.includes('apply'));
    const env = (target: string) => applies.find((r) => r.argv.includes(target))?.env;
    const proxied = {
      HTTPS_PROXY: 'http://u:p@proxy.lan:3128',
      https_proxy: 'http://u:p@proxy.lan:3128',
      HTTP_PROXY: 'http://proxy.lan:3128',
      http_proxy: 'http://proxy.lan:3128',
      NO_PROXY: 'api.t1.lan,10.1.0.0/24',
      no_proxy: 'api.t1.lan,10.1.0.0/24',
    };
    expect(env(url)).toEqual(proxied);
    expect(env(local)).toBeUndefined();
    expect(h.state().applied).toEqual([url, local]);
  });
});

describe('the noProxy matcher (curl and Go httpproxy semantics)', () => {
  const m = (url: string, noProxy: string[]) => noProxyMatches(new URL(url), noProxy);

  it('matches a name itself and its subdomains, with or without a leading dot or *.', () => {
    expect(m('https://corp.lan/x', ['corp.lan'])).toBe(true);
    expect(m('https://mirror.corp.lan/x', ['corp.lan'])).toBe(true);
    expect(m('https://mirror.corp.lan/x', ['.corp.lan'])).toBe(true);
    expect(m('https://corp.lan/x', ['.corp.lan'])).toBe(true);
    expect(m('https://a.b.corp.lan/x', ['*.corp.lan'])).toBe(true);
    expect(m('https://MIRROR.Corp.Lan/x', ['corp.lan.'])).toBe(true);
    expect(m('https://notcorp.lan/x', ['corp.lan'])).toBe(false);
    expect(m('https://github.com/x', ['corp.lan', '.svc', '.cluster.local'])).toBe(false);
    expect(m('https://github.com/x', [])).toBe(false);
  });

  it('* bypasses the proxy for every host; empty and blank entries match nothing', () => {
    expect(m('https://github.com/x', ['*'])).toBe(true);
    expect(m('https://github.com/x', ['', ' '])).toBe(false);
  });

  it('an IP matches itself or a CIDR holding it (IPv4 and IPv6); a name never matches a CIDR', () => {
    expect(m('http://10.1.0.5/x', ['10.1.0.5'])).toBe(true);
    expect(m('http://10.1.0.5/x', ['10.1.0.0/24'])).toBe(true);
    expect(m('http://10.1.1.5/x', ['10.1.0.0/24'])).toBe(false);
    expect(m('http://[fd00::5]/x', ['fd00::/64'])).toBe(true);
    expect(m('http://[fd00::5]/x', ['fd00::5'])).toBe(true);
    expect(m('http://[fd01::5]/x', ['fd00::/64'])).toBe(false);
    expect(m('http://10.1.0.5.nip.io/x', ['10.1.0.0/24'])).toBe(false);
    expect(m('http://10.1.0.5/x', ['10.1.0.0/99', 'not a cidr/8'])).toBe(false);
  });

  it('an entry with a port matches that port only (the URL default port counts); a bad port is skipped', () => {
    expect(m('https://mirror.corp.lan/x', ['corp.lan:443'])).toBe(true);
    expect(m('https://mirror.corp.lan:8443/x', ['corp.lan:443'])).toBe(false);
    expect(m('http://10.1.0.5:8080/x', ['10.1.0.5:8080'])).toBe(true);
    expect(m('http://[fd00::5]:80/x', ['[fd00::5]:80'])).toBe(true);
    expect(m('http://mirror.corp.lan/x', ['corp.lan:http'])).toBe(false);
  });
});

describe('the cilium TEST DOUBLE refuses what cilium-cli v0.19.7 refuses', () => {
  function launcher() {
    const h = host();
    const bin = join(h.root, CLI_PATH);
    mkdirSync(join(bin, '..'), { recursive: true });
    writeFileSync(bin, `#!/bin/sh\nKUBESEED_CILIUM_LAUNCHER="$0" exec "${DOUBLES_DIR}/cilium" "$@"\n`, { mode: 0o755 });
    mkdirSync(join(h.root, VALUES, '..'), { recursive: true });
    writeFileSync(join(h.root, VALUES), 'ipam:\n  mode: kubernetes\n');
    const env = { ...doubleEnv({ root: h.root, log: join(h.root, '.calls.log'), clusterState: join(h.root, '.cluster.json') }) };
    const run = (...args: string[]) => {
      try {
        execFileSync(bin, args, { env: { ...env, KUBECONFIG: '/etc/kubernetes/admin.conf' }, stdio: 'pipe' });
        return { code: 0, err: '' };
      } catch (e) {
        const x = e as { status: number; stderr: Buffer };
        return { code: x.status, err: x.stderr.toString() };
      }
    };
    return { h, run };
  }

  it('unknown flags, a chart that is neither local nor embedded, a missing values file', () => {
    const { run } = launcher();
    expect(run('install', '--helm-chart', 'x')).toMatchObject({ code: 1, err: expect.stringContaining('unknown flag: --helm-chart') });
    expect(run('install', '--version', 'v1.20.0', '--values', VALUES)).toMatchObject({
      code: 1,
      err: expect.stringContaining('not embedded'),
    });
    expect(run('install', '--version', '1.19.5', '--values', '/nope.yaml')).toMatchObject({
      code: 1,
      err: expect.stringContaining('/nope.yaml'),
    });
    expect(run('install', '--chart-directory', CHART_DIR)).toMatchObject({ code: 1, err: expect.stringContaining('Chart.yaml') });
  });

  it('an embedded chart installs offline; a second install of the release is refused, upgrade is not', () => {
    const { run } = launcher();
    expect(run('install', '--version', 'v1.19.5', '--values', VALUES, '--wait').code).toBe(0);
    expect(run('install', '--version', '1.19.5').err).toContain('cannot re-use a name that is still in use');
    expect(run('upgrade', '--version', '1.19.5').code).toBe(0);
  });
});
