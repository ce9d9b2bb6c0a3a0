/**
 * Every user input a template or renderer asserts on is refused first by spec validation, located
 * (file:line:col and the field's path), so `validate` exits 2 instead of `generate` failing late.
 * Each row shows both halves: the value, slipped past parseSpec into a parsed spec, trips a
 * template/renderer assertion (so the row guards a real assertion), and parseSpec refuses it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { SpecError } from '../../../generator/errors.ts';
import { placeholderSecrets } from '../../../generator/plan/document.ts';
import { planCluster } from '../../../generator/plan/plan.ts';
import { renderArtifacts } from '../../../generator/render/index.ts';
import { parseSpec } from '../../../generator/spec/parse.ts';
import type { ClusterSpec } from '../../../generator/spec/types.ts';
import { fixedContext, ROOT, TEST_COORDINATOR_CA } from '../../support/fixtures.ts';

type Edit = [path: (string | number)[], value: unknown];

interface Row {
  /** The example the value goes into. */
  example: string;
  /** YAML edits that make the example use the path at all (e.g. binary etcd), applied to both halves. */
  context?: Edit[];
  /** The bad value, as written in the YAML. */
  bad: Edit;
  /** The located issue validate reports: its path. */
  at: string;
  /** The same value put into an already parsed spec (what generate would plan from without the check). */
  slip: (spec: ClusterSpec) => void;
  /** What the template/renderer says when the value reaches it. */
  trips: RegExp;
}

const SHA = '0123456789abcdef'.repeat(4);

const ROWS: Row[] = [
  {
    example: 'ha-stacked',
    bad: [['spec', 'os', 'timeServers'], ['bad server;x']],
    at: 'spec.os.timeServers[0]',
    slip: (s) => {
      s.os.timeServers = ['bad server;x'];
    },
    trips: /time server 'bad server;x' is not a host name or address/,
  },
  {
    example: 'fedora-coreos-kube-vip',
    bad: [['spec', 'os', 'timeServers'], ['-ntp']],
    at: 'spec.os.timeServers[0]',
    slip: (s) => {
      s.os.timeServers = ['-ntp'];
    },
    trips: /time server: '-ntp' is not a host name or IP address/,
  },
  {
    example: 'ha-stacked',
    bad: [['spec', 'proxy', 'http'], 'http://proxy lan:3128'],
    at: 'spec.proxy.http',
    slip: (s) => {
      s.proxy.http = 'http://proxy lan:3128';
    },
    trips: /proxy\.http: .* is not a URL without spaces/,
  },
  {
    example: 'ha-stacked',
    bad: [['spec', 'proxy', 'https'], "http://proxy'lan:3128"],
    at: 'spec.proxy.https',
    slip: (s) => {
      s.proxy.https = "http://proxy'lan:3128";
    },
    trips: /proxy\.https: .* is not a URL without spaces/,
  },
  {
    example: 'ha-external-etcd',
    context: [[['spec', 'proxy', 'http'], 'http://proxy.lan:3128']],
    bad: [['spec', 'proxy', 'noProxy'], ['a b']],
    at: 'spec.proxy.noProxy[0]',
    slip: (s) => {
      s.proxy.noProxy = ['a b'];
    },
    trips: /noProxy entry 'a b' may only hold/,
  },
  {
    example: 'ha-stacked',
    bad: [['spec', 'mirrors', 'kubernetesApt'], 'https://mirror.lan/$repo'],
    at: 'spec.mirrors.kubernetesApt',
    slip: (s) => {
      s.mirrors.kubernetesApt = 'https://mirror.lan/$repo';
    },
    trips: /kubernetesAptUrl: .* is not a URL/,
  },
  {
    example: 'ha-stacked',
    bad: [['spec', 'mirrors', 'kubernetesAptKey'], "https://mirror.lan/'key"],
    at: 'spec.mirrors.kubernetesAptKey',
    slip: (s) => {
      s.mirrors.kubernetesAptKey = "https://mirror.lan/'key";
    },
    trips: /kubernetesAptKeyUrl: .* is not a URL/,
  },
  {
    example: 'ha-stacked',
    bad: [['spec', 'mirrors', 'containerd'], 'https://mirror.lan/docker ce'],
    at: 'spec.mirrors.containerd',
    slip: (s) => {
      s.mirrors.containerd = 'https://mirror.lan/docker ce';
    },
    trips: /containerd repoUrl: .* is not a URL/,
  },
  {
    example: 'ha-stacked',
    bad: [['spec', 'mirrors', 'containerdKey'], 'https://mirror.lan/"gpg'],
    at: 'spec.mirrors.containerdKey',
    slip: (s) => {
      s.mirrors.containerdKey = 'https://mirror.lan/"gpg';
    },
    trips: /containerd keyUrl: .* is not a URL/,
  },
  {
    example: 'ha-external-etcd',
    context: [[['spec', 'etcd', 'mode'], 'binary']],
    bad: [['spec', 'mirrors', 'etcd'], 'https://mirror.lan/`etcd`'],
    at: 'spec.mirrors.etcd',
    slip: (s) => {
      s.mirrors.etcd = 'https://mirror.lan/`etcd`';
    },
    trips: /etcd tarballUrl: .* is not a URL/,
  },
  {
    example: 'ha-stacked',
    bad: [['spec', 'mirrors', 'agent'], 'https://mirror.lan/$agent/'],
    at: 'spec.mirrors.agent',
    slip: (s) => {
      s.mirrors.agent = 'https://mirror.lan/$agent/';
    },
    trips: /agentBaseUrl: .* is not a URL/,
  },
  {
    example: 'fedora-coreos-kube-vip',
    bad: [['spec', 'mirrors', 'kubernetesRpm'], "https://mirror.lan/'rpm/"],
    at: 'spec.mirrors.kubernetesRpm',
    slip: (s) => {
      s.mirrors.kubernetesRpm = "https://mirror.lan/'rpm/";
    },
    trips: /kubernetes RPM repository: .* is not a URL/,
  },
  {
    example: 'ha-stacked',
    bad: [['spec', 'coordinator', 'url'], 'https://coord$x:9443'],
    at: 'spec.coordinator.url',
    slip: (s) => {
      s.coordinator.url = 'https://coord$x:9443';
    },
    trips: /coordinatorUrl: .* is not a URL/,
  },
  {
    example: 'ha-stacked',
    bad: [['spec', 'mirrors', 'imageRepository'], 'registry.lan/k8s images'],
    at: 'spec.mirrors.imageRepository',
    slip: (s) => {
      s.mirrors.imageRepository = 'registry.lan/k8s images';
    },
    trips: /containerd sandboxImage: .* is not an image reference/,
  },
  {
    example: 'ha-stacked',
    bad: [['spec', 'mirrors', 'registryMirrors'], { 'docker.io;x': ['https://mirror.lan'] }],
    at: 'spec.mirrors.registryMirrors.docker.io;x',
    slip: (s) => {
      s.mirrors.registryMirrors = { 'docker.io;x': ['https://mirror.lan'] };
    },
    trips: /containerd registry: 'docker.io;x' is not a registry host\[:port\]/,
  },
  {
    example: 'ha-stacked',
    bad: [['spec', 'mirrors', 'registryMirrors'], { 'docker.io': [] }],
    at: 'spec.mirrors.registryMirrors.docker.io',
    slip: (s) => {
      s.mirrors.registryMirrors = { 'docker.io': [] };
    },
    trips: /containerd registry docker.io: at least one mirror is required/,
  },
  {
    example: 'ha-stacked',
    bad: [['spec', 'mirrors', 'registryMirrors'], { 'docker.io': ['https://mirror lan'] }],
    at: 'spec.mirrors.registryMirrors.docker.io[0]',
    slip: (s) => {
      s.mirrors.registryMirrors = { 'docker.io': ['https://mirror lan'] };
    },
    trips: /containerd mirror for docker.io: .* is not a URL/,
  },
  {
    example: 'ha-stacked',
    bad: [['spec', 'loadBalancer', 'interface'], '_lan0'],
    at: 'spec.loadBalancer.interface',
    slip: (s) => {
      s.loadBalancer.interface = '_lan0';
      for (const h of s.hosts) h.interface = '_lan0';
    },
    trips: /keepalived interface: '_lan0' may only hold/,
  },
  {
    example: 'ha-stacked',
    bad: [['spec', 'coordinator', 'httpListen'], '0.0.0.0'],
    at: 'spec.coordinator.httpListen',
    slip: (s) => {
      s.coordinator.httpListen = '0.0.0.0';
    },
    trips: /coordinator.httpListen: "0.0.0.0" is not host:port/,
  },
  {
    example: 'ha-stacked',
    bad: [['spec', 'coordinator', 'httpListen'], '0.0.0.0:99999'],
    at: 'spec.coordinator.httpListen',
    slip: (s) => {
      s.coordinator.httpListen = '0.0.0.0:99999';
    },
    trips: /coordinator.httpListen: "0.0.0.0:99999" is not host:port/,
  },
  {
    example: 'ha-stacked',
    bad: [['spec', 'proxmox', 'node'], 'pve 1'],
    at: 'spec.proxmox.node',
    slip: (s) => {
      s.proxmox.node = 'pve 1';
    },
    trips: /spec.proxmox.node: "pve 1" is not a node name/,
  },
  {
    example: 'ha-stacked',
    bad: [['spec', 'proxmox', 'storage'], 'local lvm'],
    at: 'spec.proxmox.storage',
    slip: (s) => {
      s.proxmox.storage = 'local lvm';
    },
    trips: /spec.proxmox.storage: "local lvm" is not a storage id/,
  },
  {
    example: 'ha-stacked',
    bad: [['spec', 'proxmox', 'snippetStorage'], 'local;x'],
    at: 'spec.proxmox.snippetStorage',
    slip: (s) => {
      s.proxmox.snippetStorage = 'local;x';
    },
    trips: /spec.proxmox.snippetStorage: "local;x" is not a storage id/,
  },
  {
    example: 'ha-stacked',
    bad: [['spec', 'proxmox', 'bridge'], 'vmbr 0'],
    at: 'spec.proxmox.bridge',
    slip: (s) => {
      s.proxmox.bridge = 'vmbr 0';
    },
    trips: /spec.proxmox.bridge: "vmbr 0" is not a bridge name/,
  },
  {
    example: 'ha-stacked',
    bad: [['spec', 'proxmox', 'node'], undefined],
    at: 'spec.proxmox',
    slip: (s) => {
      delete s.proxmox.node;
    },
    trips: /spec.proxmox.node: missing/,
  },
  {
    example: 'ha-stacked',
    bad: [['spec', 'proxmox', 'snippetStorage'], undefined],
    at: 'spec.proxmox',
    slip: (s) => {
      delete s.proxmox.snippetStorage;
    },
    trips: /spec.proxmox.snippetStorage: missing/,
  },
];

function exampleText(example: string, edits: Edit[]): string {
  const doc = parseDocument(readFileSync(join(ROOT, 'examples', `${example}.yaml`), 'utf8'));
  for (const [path, value] of edits) {
    if (value === undefined) doc.deleteIn(path);
    else doc.setIn(path, value);
  }
  return doc.toString();
}

function planAndRender(spec: ClusterSpec): void {
  const plan = planCluster(spec, fixedContext(spec.hosts.map((h) => h.name)), []);
  renderArtifacts(plan, placeholderSecrets, {
    coordinatorCa: TEST_COORDINATOR_CA,
    agentSha256: { amd64: SHA, arm64: SHA },
    isoTimestamp: new Date(0),
  });
}

describe('template assertions are made first by spec validation, located', () => {
  for (const row of ROWS) {
    const [path, value] = row.bad;
    const name = `${path.join('.')} = ${JSON.stringify(value) ?? '(removed)'} (${row.example})`;
    it(`${name}: a template asserts on it`, () => {
      const fresh = () => parseSpec(exampleText(row.example, row.context ?? []), 'c.yaml').spec;
      planAndRender(fresh()); // the example itself renders
      // A fresh parse: planning caches per spec object (host files, proxy settings).
      const spec = fresh();
      row.slip(spec);
      expect(() => planAndRender(spec)).toThrow(row.trips);
    });
    it(`${name}: validate refuses it at ${row.at}`, () => {
      let error: unknown;
      try {
        parseSpec(exampleText(row.example, [...(row.context ?? []), row.bad]), 'c.yaml');
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(SpecError);
      const issues = (error as SpecError).issues.filter((i) => i.severity === 'error');
      expect(issues.map((i) => i.path)).toContain(row.at);
      const issue = issues.find((i) => i.path === row.at)!;
      expect(issue.line).toBeGreaterThan(1);
      expect(issue.column).toBeGreaterThan(0);
    });
  }
});
