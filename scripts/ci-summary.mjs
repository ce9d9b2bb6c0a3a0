#!/usr/bin/env node
/**
 * The closing line of `.ci/run`, from vitest's JSON report: `N passed, N failed[, N skipped]`.
 * "failed" counts failed tests AND failed files: a file whose beforeAll (or import) fails is a
 * failed file whose tests are only skipped. A file is counted only when none of its tests failed
 * (vitest's numFailedTestSuites also counts every describe block above a failed test, so adding it
 * would count one failure three times). Exits 1 on any failure, on a run that executed no
 * test, and on a report it cannot read (then the line is `0 passed, 1 failed`).
 *
 * LEFTOVERS, when given, lists (one per line, from scripts/ci-leftovers.mjs) what the tests made and
 * did not remove: temporary directories, network namespaces, mounts, processes. Any at all is one
 * more failed check, listed on stderr with the fix: a long-lived runner fills up with them, and a
 * process left running can hold a port or a namespace the next run needs.
 *
 * usage: node scripts/ci-summary.mjs REPORT.json [LEFTOVERS]
 */
import { readFileSync } from 'node:fs';

let r;
try {
  r = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8'));
} catch (err) {
  console.error(`ci-summary: cannot read the vitest report ${process.argv[2] ?? '(none given)'}: ${err.message}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const passed = r.numPassedTests || 0;
const files = Array.isArray(r.testResults) ? r.testResults : [];
const failedFilesWithoutFailedTest = files.filter(
  (f) => f.status === 'failed' && !(f.assertionResults ?? []).some((t) => t.status === 'failed'),
).length;
// A report without per-file results still fails on numFailedTestSuites.
const failedFiles = files.length > 0 ? failedFilesWithoutFailedTest : r.numFailedTests ? 0 : r.numFailedTestSuites || 0;
const leftovers = process.argv[3] ? readFileSync(process.argv[3], 'utf8').split('\n').filter(Boolean) : [];
if (leftovers.length > 0) {
  console.error(
    `ci-summary: the tests left ${leftovers.length} thing${leftovers.length === 1 ? '' : 's'} behind ` +
      '(make temporary directories with tempDir() from test/support/temp-dir.ts, which removes them after the file; ' +
      'remove namespaces and mounts and stop processes by their id in the test that made them):\n' +
      leftovers.map((d) => `  ${d}`).join('\n'),
  );
}
const failed = (r.numFailedTests || 0) + failedFiles + (leftovers.length > 0 ? 1 : 0);
const skipped = (r.numPendingTests || 0) + (r.numTodoTests || 0);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
if (failed > 0 || !r.numTotalTests) process.exit(1);
