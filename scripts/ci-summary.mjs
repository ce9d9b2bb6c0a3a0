#!/usr/bin/env node
/**
 * The closing line of `.ci/run`, from vitest's JSON report: `N passed, N failed[, N skipped]`.
 * "failed" counts failed tests AND failed files: a file whose beforeAll (or import) fails is a
 * failed file whose tests are only skipped. A file is counted only when none of its tests failed
 * (vitest's numFailedTestSuites also counts every describe block above a failed test, so adding it
 * would count one failure three times). Exits 1 on any failure, on a run that executed no
 * test, and on a report it cannot read (then the line is `0 passed, 1 failed`).
 *
 * usage: node scripts/ci-summary.mjs REPORT.json
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
const failed = (r.numFailedTests || 0) + failedFiles;
const skipped = (r.numPendingTests || 0) + (r.numTodoTests || 0);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
if (failed > 0 || !r.numTotalTests) process.exit(1);
