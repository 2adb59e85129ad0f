import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The pinned AWS SDK supports Node 20; its notice about future releases is noise here.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    // The e2e files spend most of their time waiting (listing lags, reconciliation's minimum age,
    // --wait polls), not computing: three run side by side even on two cores. No test asserts on time.
    maxWorkers: 3,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'test/sim/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
      // `npm run test:chaos` (CHAOS_SEEDS set); plain `vitest run` keeps to the slice in test/e2e.
      ...(process.env.CHAOS_SEEDS === undefined
        ? []
        : [{ extends: true as const, test: { name: 'chaos', include: ['test/chaos/**/*.test.ts'], globalSetup: ['test/global-setup.ts'], testTimeout: 600_000, hookTimeout: 180_000 } }]),
    ],
  },
});
