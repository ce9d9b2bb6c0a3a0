/**
 * The OS profile table (docs/adr/0028): one row per `os.family`. Adding an OS is one profile file
 * (beside these) plus its templates, and one row here. Everything OS-dependent in planning and
 * rendering reads the row of the spec's family.
 *
 * Runtime contract: pure.
 */
import type { ClusterSpec, OsFamily } from '../spec/types.ts';
import { DEBIAN } from './debian.ts';
import { FEDORA_COREOS } from './fedora-coreos.ts';
import { FLATCAR } from './flatcar.ts';
import type { OsProfile } from './types.ts';
import { UBUNTU } from './ubuntu.ts';

export type * from './types.ts';

export const OS_PROFILES: Readonly<Record<OsFamily, OsProfile>> = {
  ubuntu: UBUNTU,
  debian: DEBIAN,
  flatcar: FLATCAR,
  'fedora-coreos': FEDORA_COREOS,
};

/** The profile of a family name as written in a spec, or undefined when the table has none. */
export function findOsProfile(family: string): OsProfile | undefined {
  return Object.hasOwn(OS_PROFILES, family) ? OS_PROFILES[family as OsFamily] : undefined;
}

export function osProfileOf(family: OsFamily): OsProfile {
  const profile = findOsProfile(family);
  if (!profile) throw new Error(`no OS profile for os.family ${JSON.stringify(family)} (generator/os/index.ts lists them)`);
  return profile;
}

/** The profile of the spec's `os.family`. */
export function osProfile(spec: ClusterSpec): OsProfile {
  return osProfileOf(spec.os.family);
}

/** The Ignition part of the spec's profile; throws for a cloud-init family (`who` names the caller's subject). */
export function ignitionProfile(spec: ClusterSpec, who: string): NonNullable<OsProfile['ignition']> {
  const ignition = osProfile(spec).ignition;
  if (!ignition) {
    const families = Object.values(OS_PROFILES).flatMap((p) => (p.ignition ? [p.family] : []));
    throw new Error(
      `${who}: Ignition is rendered for os.family ${families.join(' or ')}, not ${spec.os.family}; use os.format: cloud-init`,
    );
  }
  return ignition;
}
