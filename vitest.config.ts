import { defineConfig } from 'vitest/config';

// Two projects, split by cost. Unit tests are pure and fast; integration tests talk to real
// PostgreSQL, a real Temporal dev server (started once by test/global-setup.ts) and the simulator.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['**/*.unit.test.ts'],
          exclude: ['node_modules/**', '.data/**'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['**/*.integration.test.ts', '**/*.e2e.test.ts'],
          exclude: ['node_modules/**', '.data/**'],
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
