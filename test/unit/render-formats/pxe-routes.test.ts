import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { normalizeMac, routePxeRequest } from '../../../generator/render/pxe-routes.ts';
import { parseSpec } from '../../../generator/spec/parse.ts';
import type { OsFamily } from '../../../generator/spec/types.ts';
import { ROOT } from '../../support/fixtures.ts';
import { makeSpec } from './fixtures.ts';

function fleetSpec(family: OsFamily = 'ubuntu') {
  const spec = makeSpec(family);
  spec.coordinator.httpListen = '0.0.0.0:8080';
  spec.fleet.enabled = true;
  return spec;
}

const fleet = {
  userData: '#cloud-config\nwrite_files:\n  - path: /etc/kubeseed/agent.json\n    content: "{}"\n',
  metaData: 'instance-id: iid-fleet\n',
  ignition: '{"ignition":{"version":"3.3.0"}}',
};

describe('routePxeRequest', () => {
  it('serves the index script', () => {
    const r = routePxeRequest(fleetSpec(), fleet, '/boot.ipxe');
    expect(r.status).toBe(200);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: iPXE's own setting syntax
    expect(r.body).toContain('chain --autofree http://10.101.1.5:8080/ipxe?mac=${mac:hexhyp}');
  });

  it('boots a known MAC in either spelling, without naming the host (anyone may ask for any MAC)', () => {
    for (const mac of ['52-54-00-12-34-57', '52:54:00:12:34:57', '52-54-00-12-34-57'.toUpperCase()]) {
      const r = routePxeRequest(fleetSpec(), fleet, `/ipxe?mac=${mac}`);
      expect(r.status).toBe(200);
      expect(r.body).toContain('# kubeseed: machine 52:54:00:12:34:57, fleet of cluster');
      expect(r.body).not.toContain('k8s1master2');
      // Its own seed (its static network, its disk), named by its MAC, not by the host.
      expect(r.body).toContain('ds=nocloud;s=http://10.101.1.5:8080/nocloud/52-54-00-12-34-57/');
    }
  });

  it('an unknown MAC gets a script that installs nothing, unless the spec opts in; malformed MACs are refused', () => {
    const spec = fleetSpec();
    const refused = routePxeRequest(spec, fleet, '/ipxe?mac=52-54-00-aa-bb-cc');
    expect(refused.status).toBe(200);
    expect(refused.body).toMatch(/^#!ipxe\n/);
    expect(refused.body).not.toMatch(/^(kernel|initrd|boot|chain|sanboot)\b/m);
    expect(refused.body).toContain('MAC 52:54:00:aa:bb:cc is not in the cluster spec');
    expect(refused.body.trimEnd().split('\n').at(-1)).toBe('exit 1');
    const opted = routePxeRequest(spec, fleet, '/ipxe?mac=52-54-00-aa-bb-cc', { installUnknownMacs: true });
    expect(opted.body).toContain('# kubeseed: machine 52:54:00:aa:bb:cc, fleet of cluster');
    expect(opted.body).toMatch(/^kernel .* autoinstall /m);
    expect(routePxeRequest(spec, fleet, '/ipxe').status).toBe(400);
    expect(routePxeRequest(spec, fleet, '/ipxe?mac=52-54-00-aa-bb').status).toBe(400);
    expect(routePxeRequest(spec, fleet, '/ipxe?mac=52-54:00-aa-bb-cc').status).toBe(400);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: iPXE's own setting syntax
    expect(routePxeRequest(spec, fleet, '/ipxe?mac=${mac:hexhyp}').status).toBe(400);
  });

  it('serves nothing to boot without fleet mode (per-host user-data stays off plain HTTP)', () => {
    const spec = fleetSpec();
    spec.fleet.enabled = false;
    expect(routePxeRequest(spec, fleet, '/ipxe?mac=52-54-00-12-34-56').status).toBe(404);
    expect(routePxeRequest(spec, fleet, '/nocloud/fleet/user-data').status).toBe(404);
  });

  it('wraps the fleet user-data in autoinstall for Ubuntu and serves meta-data', () => {
    const ud = routePxeRequest(fleetSpec('ubuntu'), fleet, '/nocloud/fleet/user-data');
    expect(ud.status).toBe(200);
    expect(YAML.parse(ud.body).autoinstall['user-data']).toEqual(YAML.parse(fleet.userData));
    expect(routePxeRequest(fleetSpec('debian'), fleet, '/nocloud/fleet/user-data').body).toBe(fleet.userData);
    expect(routePxeRequest(fleetSpec('ubuntu'), fleet, '/nocloud/fleet/meta-data').body).toBe('instance-id: iid-fleet\n');
    expect(routePxeRequest(fleetSpec('ubuntu'), fleet, '/nocloud/fleet/vendor-data').status).toBe(404);
  });

  it('serves the fleet Ignition config to Flatcar and Fedora CoreOS only', () => {
    const r = routePxeRequest(fleetSpec('flatcar'), fleet, '/ignition/fleet.ign');
    expect(r).toEqual({ status: 200, contentType: 'application/vnd.coreos.ignition+json', body: fleet.ignition });
    // A known MAC without an install disk (validation refuses that in a spec) runs its own config live.
    expect(routePxeRequest(fleetSpec('flatcar'), fleet, '/ipxe?mac=52-54-00-12-34-56').body).toContain(
      'ignition.config.url=http://10.101.1.5:8080/ignition/52-54-00-12-34-56.ign',
    );
    expect(routePxeRequest(fleetSpec('ubuntu'), fleet, '/ignition/fleet.ign').status).toBe(404);
    expect(routePxeRequest(fleetSpec('flatcar'), fleet, '/nocloud/fleet/user-data').status).toBe(404);
  });

  it.each([
    '/nocloud/k8s1master1/user-data',
    '/ignition/k8s1master1.ign',
    '/nocloud/fleet/../k8s1master1/user-data',
    '/nocloud/fleet/%2e%2e/k8s1master1/user-data',
    '/nocloud//fleet/user-data',
    '/assets/../../etc/shadow',
    '/boot.ipxe/',
    '/',
    '',
  ])('answers 404 for %j (no per-host content, no path tricks)', (path) => {
    expect(routePxeRequest(fleetSpec(), fleet, path).status).toBe(404);
    expect(routePxeRequest(fleetSpec('flatcar'), fleet, path).status).toBe(404);
  });

  it('answers GET and HEAD only', () => {
    expect(routePxeRequest(fleetSpec(), fleet, '/boot.ipxe', {}, 'HEAD').status).toBe(200);
    expect(routePxeRequest(fleetSpec(), fleet, '/boot.ipxe', {}, 'POST').status).toBe(405);
  });

  it('normalizes MAC spellings', () => {
    expect(normalizeMac('AA-BB-CC-DD-EE-FF')).toBe('aa:bb:cc:dd:ee:ff');
    expect(normalizeMac('aabbccddeeff')).toBeNull();
  });
});

describe('spec fleet.installUnknownMacs', () => {
  const example = readFileSync(join(ROOT, 'examples/fleet-pxe.yaml'), 'utf8');
  it('is off by default and can be turned on explicitly', () => {
    expect(parseSpec(example, 'fleet-pxe.yaml').spec.fleet.installUnknownMacs).toBe(false);
    const opted = example.replace('fleet: { enabled: true }', 'fleet: { enabled: true, installUnknownMacs: true }');
    expect(opted).not.toBe(example);
    expect(parseSpec(opted, 'fleet-pxe.yaml').spec.fleet.installUnknownMacs).toBe(true);
    expect(() =>
      parseSpec(example.replace('fleet: { enabled: true }', 'fleet: { enabled: true, installUnknownMacs: "yes" }'), 'f.yaml'),
    ).toThrow(/installUnknownMacs/);
  });
});
