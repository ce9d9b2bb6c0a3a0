/**
 * Review F4: curl honours CIDR entries in no_proxy only since 7.86.0 (curl.se CURLOPT_NOPROXY) and
 * Ubuntu 22.04 ships 7.81, so a host subnet listed as a CIDR does not keep the coordinator download
 * off the proxy there; a coordinator outside every host subnet goes through it with any curl. The
 * hosts first boot fetches from are listed literally; the fleet's addresses stay CIDRs, so no_proxy
 * does not grow with the number of hosts.
 */
import { describe, expect, it } from 'vitest';
import { noProxyList } from '../../../generator/plan/proxy.ts';
import { parseSpec } from '../../../generator/spec/parse.ts';
import { withLine } from '../spec/base-spec.ts';

const PROXIED = withLine('os:', '  proxy: { https: "http://proxy.lan:3128", noProxy: [".corp.lan"] }\n  os:');

describe('no_proxy of a spec with a proxy', () => {
  it('names the coordinator host literally, also when a host subnet CIDR covers it', () => {
    const { spec } = parseSpec(PROXIED, 'c.yaml');
    expect(noProxyList(spec)).toContain('10.1.0.5');
    expect(noProxyList(spec)).toContain('10.1.0.0/24');
  });

  it('names a coordinator outside every host subnet and the agent mirror host', () => {
    const text = withLine('url: https://10.1.0.5:9443', '    url: https://192.168.50.5:9443', PROXIED).replace(
      '  os:',
      '  mirrors: { agent: "http://files.corp.lan:8080/kubeseed" }\n  os:',
    );
    const { spec } = parseSpec(text, 'c.yaml');
    const list = noProxyList(spec);
    expect(list).toContain('192.168.50.5');
    expect(list).toContain('files.corp.lan');
    expect(new Set(list).size).toBe(list.length);
  });

  it('keeps node addresses as one CIDR per subnet, not one entry per host', () => {
    const { spec } = parseSpec(PROXIED, 'c.yaml');
    const list = noProxyList(spec);
    for (const h of spec.hosts) if (h.address) expect(list).not.toContain(h.address.ip);
    expect(list).toContain('10.1.0.10'); // the VIP, which kubeadm and the agent address directly
  });
});
