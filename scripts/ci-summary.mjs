#!/usr/bin/env node
/**
 * The closing line of `.ci/run`, from vitest's JSON report: `N passed, N failed[, N skipped]`.
 * "failed" counts failed tests AND failed files: a file whose beforeAll (or import) fails is a
 * failed file whose tests are only skipped. A file is counted only when none of its tests failed
 * (vitest's numFailedTestSuites also counts every describe block above a failed test, so adding it
 * would count one failure three times). Exits 1 on any failure, on a run that executed no
 * test, and on a report it cannot read (then the line is `0 passed, 1 failed`).
 *
 * LEFTOVERS, when given, lists (one per line) the temporary directories the run made and did not
 * remove (.ci/run compares the temporary directory before and after): any at all is one more failed
 * check, named on stderr with the fix, because a long-lived runner fills up with them.
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
    `ci-summary: the tests left ${leftovers.length} temporary director${leftovers.length === 1 ? 'y' : 'ies'} behind ` +
      `(make them with tempDir() from test/support/temp-dir.ts, which removes them after the file):\n` +
      leftovers.map((d) => `  ${d}`).join('\n'),
  );
}
const failed = (r.numFailedTests || 0) + failedFiles + (leftovers.length > 0 ? 1 : 0);
const skipped = (r.numPendingTests || 0) + (r.numTodoTests || 0);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
if (failed > 0 || !r.numTotalTests) process.exit(1);
