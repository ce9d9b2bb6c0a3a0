/** IPv4 arithmetic for validation and planning. Pure. */
import { isIP } from 'node:net';

export interface Cidr {
  /** Network address as an unsigned 32-bit integer. */
  network: number;
  prefix: number;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIPv4(text: string): boolean {
  return IPV4.test(text);
}

export function isIPv6(text: string): boolean {
  return isIP(text) === 6;
}

export function ipToInt(ip: string): number {
  return ip.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses `a.b.c.d/n`; returns null when malformed. `strict` requires no host bits. */
export function parseCidr(text: string, strict = false): Cidr | null {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(text);
  if (!m || !isIPv4(m[1]!) || Number(m[2]) > 32) return null;
  const prefix = Number(m[2]);
  const ip = ipToInt(m[1]!);
  const network = (ip & maskOf(prefix)) >>> 0;
  if (strict && network !== ip) return null;
  return { network, prefix };
}

export function cidrContains(cidr: Cidr, ip: string): boolean {
  return (ipToInt(ip) & maskOf(cidr.prefix)) >>> 0 === cidr.network;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  const prefix = Math.min(a.prefix, b.prefix);
  return (a.network & maskOf(prefix)) >>> 0 === (b.network & maskOf(prefix)) >>> 0;
}

export function formatCidr(c: Cidr): string {
  return `${intToIp(c.network)}/${c.prefix}`;
}

/** The first usable address of a subnet (kubeadm puts the service subnet's first IP into the API server's SANs). */
export function firstHost(c: Cidr): string {
  return intToIp(c.network + 1);
}

/** The host part of a URL and whether it is an IP address (brackets of IPv6 removed). */
export function hostOfUrl(url: string): { host: string; isIp: boolean } {
  const hostname = new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
  return { host: hostname, isIp: isIP(hostname) !== 0 };
}
