#!/usr/bin/env node
/**
 * What the tests left behind on the machine, for `.ci/run`: a snapshot before the tests, then, after
 * them, one line per thing that exists now and did not then:
 *
 *   directory PATH   a `ks-*` or `kubeseed-*` directory in the temporary directory (test/support/temp-dir.ts)
 *   netns NAME       a named network namespace (/run/netns)
 *   mount PATH       a mount point in this mount namespace
 *   process PID CMD  a user-space process still running
 *
 * A process is known by its pid and start time (a pid can be reused); kernel threads (children of
 * kthreadd, pid 2) and this script's own ancestors are not counted. /tmp/kubeseed-e2e is the e2e
 * harness's parent directory: it removes what it puts inside unless a test failed.
 *
 * usage: node scripts/ci-leftovers.mjs snapshot FILE
 *        node scripts/ci-leftovers.mjs since FILE      (prints the leftovers)
 *
 * Types for TypeScript importers: scripts/ci-leftovers.d.mts.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main(process.argv.slice(2));

function main([command, file]) {
  if (!['snapshot', 'since'].includes(command) || !file) {
    console.error('usage: ci-leftovers.mjs snapshot FILE | since FILE');
    process.exit(2);
  }
  const now = [...directories(), ...namespaces(), ...mountPoints().map((p) => same(`mount ${p}`)), ...processes()];
  if (command === 'snapshot') {
    writeFileSync(file, `${now.map((t) => t.key).join('\n')}\n`);
  } else {
    const before = new Set(readFileSync(file, 'utf8').split('\n'));
    for (const thing of now) if (!before.has(thing.key)) console.log(thing.line);
  }
}

/**
 * This process's mount points, decoded (/proc/self/mounts writes a space, tab, newline or backslash
 * as \ooo). test/support/temp-dir.ts uses it too: it never removes a directory through a mount.
 * @param {string} [table]
 * @returns {string[]}
 */
export function mountPoints(table = '/proc/self/mounts') {
  let text;
  try {
    text = readFileSync(table, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .map((line) => line.split(' ')[1])
    .filter(Boolean)
    .map((field) => field.replace(/\\([0-7]{3})/g, (_, octal) => String.fromCharCode(Number.parseInt(octal, 8))));
}

/** @returns {{ key: string, line: string }[]} */
function directories() {
  const root = tmpdir();
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && /^(ks-|kubeseed-)/.test(d.name) && d.name !== 'kubeseed-e2e')
    .map((d) => same(`directory ${join(root, d.name)}`));
}

function namespaces() {
  try {
    return readdirSync('/run/netns').map((name) => same(`netns ${name}`));
  } catch {
    return [];
  }
}

function processes() {
  const mine = ancestors();
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = read(`/proc/${name}/stat`);
    if (!stat) continue;
    // pid (comm) state ppid … starttime: comm may hold spaces and parentheses, so split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(fields[1]);
    const pid = Number(name);
    if (pid === 2 || ppid === 2 || mine.has(pid)) continue;
    const args = (read(`/proc/${name}/cmdline`) ?? '').split('\0').filter(Boolean).join(' ');
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    out.push({ key: `process ${pid} ${fields[19]}`, line: `process ${pid} ${(args || comm).slice(0, 200)}` });
  }
  return out;
}

/** This process and its ancestors (the shell running .ci/run): alive by definition. */
function ancestors() {
  const seen = new Set();
  for (let pid = process.pid; pid > 1 && !seen.has(pid); ) {
    seen.add(pid);
    const stat = read(`/proc/${pid}/stat`);
    if (!stat) break;
    pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  }
  return seen;
}

function read(path) {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function same(line) {
  return { key: line, line };
}
