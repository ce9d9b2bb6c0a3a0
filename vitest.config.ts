import { defineConfig } from 'vitest/config';

// One project per CI tier (DEVELOPERS budget: unit ≤ 5 min, validators ≤ 5, e2e ≤ 15, reliability ≤ 15, browser ≤ 5).
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 30_000 } },
      { test: { name: 'validators', include: ['test/validators/**/*.test.ts'], testTimeout: 120_000, fileParallelism: false } },
      { test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], testTimeout: 600_000, hookTimeout: 600_000, fileParallelism: false } },
      {
        test: {
          name: 'reliability',
          include: ['test/reliability/**/*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
      { test: { name: 'browser', include: ['test/browser/**/*.test.ts'], testTimeout: 120_000, fileParallelism: false } },
    ],
  },
});
