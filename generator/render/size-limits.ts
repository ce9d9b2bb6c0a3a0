/**
 * User-data size limits per `os.platform`, and the gzip fallback for cloud-init.
 *
 * | platform  | what is measured                 | limit  |
 * | aws       | raw bytes, before base64         | 16,384 |
 * | openstack | bytes after base64 encoding      | 65,535 |
 * | generic, proxmox, pxe | (NoCloud ISO, snippets, HTTP seeds: no small limit) | none |
 *
 * cloud-init detects a gzip-compressed user-data and decompresses it, so an over-limit cloud-init
 * document is gzipped when that fits. Ignition cannot take a gzipped config as a whole: an
 * over-limit Ignition config is an error. A document that fits stays plain (readable in
 * consoles and `qm cloudinit dump`).
 *
 * Runtime contract: pure; gzip is deterministic (`gzipDeterministic`).
 */
import type { OsFormat, Platform } from '../spec/types.ts';
import { gzipDeterministic } from './ignition-encoding.ts';

export const AWS_USER_DATA_LIMIT = 16_384;
export const OPENSTACK_USER_DATA_LIMIT = 65_535;

export interface UserDataSizeCheck {
  ok: boolean;
  /** How the user-data must be delivered: as rendered, or gzip-compressed. */
  encoded: 'plain' | 'gzip';
  /** The size counted against the limit (raw for aws, base64 length for openstack), of the chosen encoding. */
  bytes: number;
  /** null when the platform has no small limit. */
  limit: number | null;
  /** The bytes to deliver (the input, or its gzip). */
  payload: Buffer;
  /** Set when `ok` is false, or to explain a gzip choice. */
  message?: string;
}

function base64Length(n: number): number {
  return 4 * Math.ceil(n / 3);
}

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

interface PlatformLimit {
  limit: number;
  measure: (n: number) => number;
  what: string;
}

function platformLimit(platform: Platform): PlatformLimit | null {
  switch (platform) {
    case 'aws':
      return { limit: AWS_USER_DATA_LIMIT, measure: (n) => n, what: 'bytes raw (before base64)' };
    case 'openstack':
      return { limit: OPENSTACK_USER_DATA_LIMIT, measure: base64Length, what: 'bytes after base64' };
    case 'generic':
    case 'proxmox':
    case 'pxe':
      return null;
  }
}

/** Whether a user-data can be too large for the platform (so rendering must finish before anything is written). */
export function hasUserDataLimit(platform: Platform): boolean {
  return platformLimit(platform) !== null;
}

/** Checks one host's rendered user-data (cloud-init document or Ignition JSON) against its platform. */
export function checkUserDataSize(host: string, userData: string | Buffer, platform: Platform, format: OsFormat): UserDataSizeCheck {
  const raw = typeof userData === 'string' ? Buffer.from(userData, 'utf8') : userData;
  const rule = platformLimit(platform);
  if (!rule) return { ok: true, encoded: 'plain', bytes: raw.length, limit: null, payload: raw };
  const plainSize = rule.measure(raw.length);
  if (plainSize <= rule.limit) return { ok: true, encoded: 'plain', bytes: plainSize, limit: rule.limit, payload: raw };

  const fix =
    'shrink it: fewer os.sshAuthorizedKeys, fewer or smaller files in the host’s first-boot content, agent downloads from ' +
    'mirrors.agent rather than embedded content — or deliver it through a NoCloud seed ISO or Proxmox snippets (no small limit)';
  if (format === 'cloud-init') {
    const gz = gzipDeterministic(raw);
    const gzSize = rule.measure(gz.length);
    if (gzSize <= rule.limit) {
      return {
        ok: true,
        encoded: 'gzip',
        bytes: gzSize,
        limit: rule.limit,
        payload: gz,
        message: `host ${host}: user-data is ${fmt(plainSize)} ${rule.what}, over the ${platform} limit of ${fmt(rule.limit)}; delivered gzip-compressed (${fmt(gzSize)}), which cloud-init decompresses`,
      };
    }
    return {
      ok: false,
      encoded: 'gzip',
      bytes: gzSize,
      limit: rule.limit,
      payload: gz,
      message: `host ${host}: user-data is ${fmt(plainSize)} ${rule.what} (${fmt(gzSize)} gzip-compressed), over the ${platform} limit of ${fmt(rule.limit)}; ${fix}`,
    };
  }
  return {
    ok: false,
    encoded: 'plain',
    bytes: plainSize,
    limit: rule.limit,
    payload: raw,
    message: `host ${host}: Ignition config is ${fmt(plainSize)} ${rule.what}, over the ${platform} limit of ${fmt(rule.limit)} (an Ignition config cannot be gzipped as a whole); ${fix}`,
  };
}
