#!/usr/bin/env node
/**
 * What the tests left behind on the machine, for `.ci/run`: a snapshot before the tests, then, after
 * them, one line per thing that exists now and did not then:
 *
 *   directory PATH   a `ks-*`, `kubeseed-*` or `tmp.*` (mktemp's own name) directory in the temporary
 *                    directory (test/support/temp-dir.ts)
 *   netns NAME       a named network namespace (/run/netns)
 *   mount PATH       a mount point in this mount namespace
 *   process PID CMD  a process still running that nothing running before the tests owns
 *
 * A process is known by its pid and start time (a pid can be reused). One the tests leave behind
 * outlives them, so it was orphaned: its parent is PID 1 now (or, inside a PID namespace the tests
 * left, that namespace's first process, itself orphaned). A new process under one that ran before
 * the tests (this script under the shell running .ci/run, a job an operator's shell started) is
 * that process's, not the tests'. Kernel threads (children of kthreadd, pid 2) and zombies (exited,
 * not yet reaped) are not counted. /tmp/kubeseed-e2e is the e2e harness's parent directory: it
 * removes what it puts inside unless a test failed.
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
  const now = [...directories(), ...namespaces(), ...mountPoints().map((p) => same(`mount ${p}`))];
  const procs = processes();
  if (command === 'snapshot') {
    writeFileSync(file, `${[...now, ...procs.values()].map((t) => t.key).join('\n')}\n`);
    return;
  }
  const before = new Set(readFileSync(file, 'utf8').split('\n'));
  /** Whether a process that ran before the tests, other than PID 1, is `pid` or one of its ancestors. */
  const owned = (pid) => {
    for (let p = procs.get(pid), hops = 0; p && p.pid > 1 && hops < 4096; p = procs.get(p.ppid), hops++) if (before.has(p.key)) return true;
    return false;
  };
  for (const thing of now) if (!before.has(thing.key)) console.log(thing.line);
  for (const p of procs.values()) if (!before.has(p.key) && !owned(p.pid)) console.log(p.line);
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
    .filter((d) => d.isDirectory() && /^(ks-|kubeseed-|tmp\.)/.test(d.name) && d.name !== 'kubeseed-e2e')
    .map((d) => same(`directory ${join(root, d.name)}`));
}

function namespaces() {
  try {
    return readdirSync('/run/netns').map((name) => same(`netns ${name}`));
  } catch {
    return [];
  }
}

/** User-space processes by pid: `key` names one (pid and start time), `line` says what it runs. */
function processes() {
  const out = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = read(`/proc/${name}/stat`);
    if (!stat) continue;
    // pid (comm) state ppid … starttime: comm may hold spaces and parentheses, so split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(fields[1]);
    const pid = Number(name);
    // A zombie has exited: only its parent's wait is missing (PID 1 reaps orphans in its own time).
    if (pid === 2 || ppid === 2 || fields[0] === 'Z') continue;
    const args = (read(`/proc/${name}/cmdline`) ?? '').split('\0').filter(Boolean).join(' ');
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    out.set(pid, { pid, ppid, key: `process ${pid} ${fields[19]}`, line: `process ${pid} ${(args || comm).slice(0, 200)}` });
  }
  return out;
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
