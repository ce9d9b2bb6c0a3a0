/**
 * Small helpers shared by the renderers in `templates/`: input checks that throw
 * `TemplateInputError` (spec validation should have caught bad values earlier; these checks keep
 * a bad value from ever reaching a host file), shell quoting, and line assembly that guarantees
 * no trailing spaces and exactly one final newline. Pure; imports nothing.
 */

/** A value that cannot be rendered safely (bad address, port, name, or a character that would break the file's syntax). */
export class TemplateInputError extends Error {
  override name = 'TemplateInputError';
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** IPv4, or an IPv6 literal without brackets (checked loosely: hex digits, colons, dots). */
export function assertIp(value: string, what: string): string {
  if (IPV4.test(value)) return value;
  if (/^[0-9a-fA-F:.]+$/.test(value) && value.includes(':')) return value;
  throw new TemplateInputError(`${what}: '${value}' is not an IP address`);
}

export function assertPort(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 1 || value > 65535) throw new TemplateInputError(`${what}: ${value} is not a TCP port (1-65535)`);
  return value;
}

export function assertIntRange(value: number, min: number, max: number, what: string): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new TemplateInputError(`${what}: ${value} is outside [${min}, ${max}]`);
  }
  return value;
}

/** Host names, server names, interface names: letters, digits, `.`, `_`, `-`. */
export function assertName(value: string, what: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(value)) {
    throw new TemplateInputError(
      `${what}: '${value}' may only hold letters, digits, '.', '_' and '-' (and must start with a letter or digit)`,
    );
  }
  return value;
}

/** An absolute path without whitespace, quotes, backslashes or shell/config metacharacters. */
export function assertPath(value: string, what: string): string {
  if (!/^\/[A-Za-z0-9._/@+:-]*$/.test(value)) {
    throw new TemplateInputError(`${what}: '${value}' must be an absolute path of letters, digits and ._/@+:-`);
  }
  return value;
}

/** URLs embedded in configs and scripts: a scheme, then no whitespace, quotes, backslashes, backticks or `$`. */
export function assertUrl(value: string, what: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^\s"'`\\$]+$/i.test(value)) {
    throw new TemplateInputError(`${what}: '${value}' is not a URL without spaces, quotes, backslashes or '$'`);
  }
  return value;
}

/** POSIX shell single-quoting: safe for any string. */
export function shQuote(value: string): string {
  if (value !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** A bash array literal: `(a 'b c')`. */
export function shArray(values: readonly string[]): string {
  return `(${values.map(shQuote).join(' ')})`;
}

/** Brackets an IPv6 literal for `host:port` notation. */
export function hostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** Joins lines, drops trailing spaces on each, and ends with exactly one newline. */
export function joinLines(lines: readonly string[]): string {
  return `${lines
    .map((l) => l.replace(/[ \t]+$/, ''))
    .join('\n')
    .replace(/\n+$/, '')}\n`;
}

/** Checks that heredoc content cannot end the heredoc early. */
export function assertHeredocSafe(content: string, delimiter: string, what: string): string {
  if (content.split('\n').includes(delimiter)) throw new TemplateInputError(`${what}: content holds the line '${delimiter}'`);
  return content;
}

/** A quoted bash here-document (`<<'KUBESEED_EOF'` … `KUBESEED_EOF`) as lines, for `put_file PATH MODE <heredoc>`. */
export function heredocLines(content: string, what: string): string[] {
  const eof = 'KUBESEED_EOF';
  assertHeredocSafe(content, eof, what);
  return [`<<'${eof}'`, ...content.replace(/\n$/, '').split('\n'), eof];
}

/** `v1.37.0` or `1.37.0` → `{ version: '1.37.0', minor: 37 }`. */
export function parseKubernetesVersion(value: string): { version: string; major: number; minor: number } {
  const m = /^v?(\d+)\.(\d+)\.(\d+)$/.exec(value);
  if (!m) throw new TemplateInputError(`kubernetesVersion: '${value}' is not vMAJOR.MINOR.PATCH`);
  return { version: `${m[1]}.${m[2]}.${m[3]}`, major: Number(m[1]), minor: Number(m[2]) };
}

/** Escapes a string for an extended regular expression (grep -E). */
export function ereEscape(value: string): string {
  return value.replace(/[.[\]()*+?{}|^$\\]/g, '\\$&');
}
