/** Shared by the benchmark scripts: statistics and rewriting one `## Section` of BENCHMARKS.md. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';

export const BENCHMARKS_FILE = join(import.meta.dirname, '..', 'BENCHMARKS.md');

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function machine(): string {
  return `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}

/** Replaces (or appends) the section that starts with `## <heading>` up to the next `## `. */
export function writeSection(heading: string, body: string, file = BENCHMARKS_FILE): void {
  const text = existsSync(file)
    ? readFileSync(file, 'utf8')
    : '# Benchmarks\n\nRe-run with `npm run bench`; numbers are medians on the machine named in each section.\n';
  const marker = `## ${heading}\n`;
  const section = `${marker}\n${body.trim()}\n\n`;
  const start = text.indexOf(marker);
  if (start === -1) {
    writeFileSync(file, `${text.trimEnd()}\n\n${section}`);
    return;
  }
  const rest = text.slice(start + marker.length);
  const next = rest.search(/^## /m);
  writeFileSync(file, text.slice(0, start) + section + (next === -1 ? '' : rest.slice(next)));
}

/** Replaces everything before the first `## ` section (the intro), keeping every section. */
export function writeIntro(intro: string, file = BENCHMARKS_FILE): void {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const first = text.search(/^## /m);
  writeFileSync(file, `${intro.trim()}\n\n${first === -1 ? '' : text.slice(first)}`);
}
