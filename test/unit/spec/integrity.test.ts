/**
 * Downloads Ignition hosts run as root are checked (issue 23 item 8, generator/spec/integrity.ts):
 * a plain-HTTP source of system extension images without a digest for each is refused, an https
 * one is a warning saying it is trusted through TLS only (an error with --strict), and a digest no
 * host uses is pointed out. The agent always carries the build's digest, so mirrors.agent may be http.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SpecError } from '../../../generator/errors.ts';
import { parseSpec } from '../../../generator/spec/parse.ts';
import { ROOT } from '../../support/fixtures.ts';
import { withLine } from './base-spec.ts';

const FLATCAR = readFileSync(join(ROOT, 'examples', 'flatcar-kube-vip.yaml'), 'utf8');
const K8S = 'kubernetes-v1.37.0-x86-64.raw';
const CONTAINERD = 'containerd-2.3.4-x86-64.raw';
const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);

/** The Flatcar example with a `mirrors:` block after `family: flatcar` (line 21). */
function withMirrors(lines: string[], text = FLATCAR): string {
  return withLine('family: flatcar', ['    family: flatcar', '  mirrors:', ...lines.map((l) => `    ${l}`)].join('\n'), text);
}

function issues(text: string, strict = false): string[] {
  try {
    return parseSpec(text, 'c.yaml', { strict }).warnings.map((w) => `${w.line}:${w.column}: warning: ${w.path}: ${w.message}`);
  } catch (e) {
    if (e instanceof SpecError) return e.issues.map((i) => `${i.line}:${i.column}: ${i.severity}: ${i.path}: ${i.message}`);
    throw e;
  }
}

describe('system extension images and the agent: where each digest comes from', () => {
  it('images from the https bakery without digests: a warning that they are trusted through TLS only; --strict refuses', () => {
    expect(issues(FLATCAR)).toEqual([
      `21:13: warning: spec.os.family: ${K8S}, ${CONTAINERD} from https://extensions.flatcar.org/extensions/ have no digest, so Ignition does not check them: trusted through TLS only (whoever holds a certificate for that host); add spec.mirrors.sysextSha256 with each file's SHA-256 (${K8S}: <sha256>, ${CONTAINERD}: <sha256>) from the bakery's SHA256SUMS or \`sha256sum\` of the files you mirror`,
    ]);
    expect(issues(FLATCAR, true)).toEqual([expect.stringMatching(/^21:13: error: spec\.os\.family: .* trusted through TLS only/)]);
    // With both digests there is nothing to say.
    expect(issues(withMirrors(['sysextSha256:', `  ${K8S}: ${SHA_A}`, `  ${CONTAINERD}: ${SHA_B}`]), true)).toEqual([]);
  });

  it('a plain-HTTP image mirror without a digest for every image is refused where it is set, naming the fix', () => {
    const bare = withMirrors(['sysext: http://mirror.lan/sysext/']);
    expect(issues(bare)).toEqual([
      `23:13: error: spec.mirrors.sysext: http://mirror.lan/sysext/ is plain HTTP and ${K8S}, ${CONTAINERD} have no digest: anyone on the path could replace the kubelet or containerd that hosts run as root; add spec.mirrors.sysextSha256 with each file's SHA-256 (${K8S}: <sha256>, ${CONTAINERD}: <sha256>) from the bakery's SHA256SUMS or \`sha256sum\` of the files you mirror, or serve the images over https`,
    ]);
    const half = withMirrors(['sysext: http://mirror.lan/sysext/', 'sysextSha256:', `  ${CONTAINERD}: ${SHA_B}`]);
    expect(issues(half)).toEqual([
      expect.stringMatching(new RegExp(`^23:13: error: spec\\.mirrors\\.sysext: .* and ${K8S} has no digest`)),
    ]);
    const full = withMirrors(['sysext: http://mirror.lan/sysext/', 'sysextSha256:', `  ${K8S}: ${SHA_A}`, `  ${CONTAINERD}: ${SHA_B}`]);
    expect(issues(full, true)).toEqual([]);
  });

  it('a digest that no host fetches is pointed out at its key; a malformed one is refused', () => {
    const typo = withMirrors([
      'sysextSha256:',
      `  ${K8S}: ${SHA_A}`,
      `  ${CONTAINERD}: ${SHA_B}`,
      `  kubernetes-v1.36.0-x86-64.raw: ${SHA_A}`,
    ]);
    expect(issues(typo)).toEqual([
      `26:7: warning: spec.mirrors.sysextSha256.kubernetes-v1.36.0-x86-64.raw: no host fetches kubernetes-v1.36.0-x86-64.raw (they fetch ${K8S}, ${CONTAINERD}); check the file name and version`,
    ]);
    const upper = withMirrors(['sysextSha256:', `  ${K8S}: ${SHA_A.toUpperCase()}`, `  ${CONTAINERD}: sha256-${SHA_B}`]);
    // A refused digest is no digest: the images are then also reported as unchecked.
    expect(issues(upper)).toEqual([
      expect.stringMatching(/^21:13: warning: spec\.os\.family: .* trusted through TLS only/),
      `24:38: error: spec.mirrors.sysextSha256.${K8S}: "${SHA_A.toUpperCase()}" is not a SHA-256 as sha256sum prints it: 64 lower-case hex digits`,
      `25:36: error: spec.mirrors.sysextSha256.${CONTAINERD}: "sha256-${SHA_B}" is not a SHA-256 as sha256sum prints it: 64 lower-case hex digits`,
    ]);
  });

  it('a plain-HTTP agent mirror is accepted: every agent download is checked against the build digest', () => {
    const agent = withMirrors(['agent: http://mirror.lan/agent/', 'sysextSha256:', `  ${K8S}: ${SHA_A}`, `  ${CONTAINERD}: ${SHA_B}`]);
    expect(issues(agent, true)).toEqual([]);
  });

  it('cloud-init hosts fetch no images: digests for them are said to be ignored', () => {
    const ubuntu = FLATCAR.replace('family: flatcar', 'family: ubuntu');
    const text = withLine(
      'family: ubuntu',
      ['    family: ubuntu', '  mirrors:', '    sysextSha256:', `      ${K8S}: ${SHA_A}`].join('\n'),
      ubuntu,
    );
    expect(issues(text).filter((m) => m.includes('sysextSha256'))).toEqual([
      '23:5: warning: spec.mirrors.sysextSha256: is ignored: only Flatcar hosts fetch system extension images (Fedora CoreOS layers RPMs)',
    ]);
  });
});

describe('an arm64 host fetches the arm64 images', () => {
  it('a plain-HTTP mirror must name their digests too', () => {
    const arm = FLATCAR.replace('name: worker1, role: worker,', 'name: worker1, role: worker, arch: arm64,');
    const text = withMirrors(
      ['sysext: http://10.105.1.5:8080/sysext/', 'sysextSha256:', `  ${K8S}: ${SHA_A}`, `  ${CONTAINERD}: ${SHA_B}`],
      arm,
    );
    const found = issues(text).filter((m) => m.includes('spec.mirrors.sysext:'));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(
      /error: spec\.mirrors\.sysext: .*kubernetes-v1\.37\.0-arm64\.raw, containerd-2\.3\.4-arm64\.raw have no digest/,
    );
  });
});
