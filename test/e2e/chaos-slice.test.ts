import { describe, expect, it } from 'vitest';
import { describeSeed, formatSummary, runChaos, seedsFromEnv } from '../chaos/driver.js';

/** The bounded slice of `npm run test:chaos` that `npm test` runs: the same driver, CHAOS_SEEDS (default 5) seeds. */
describe('chaos slice', () => {
  const seeds = seedsFromEnv(5);
  it(`${seeds.length} seeded fault schedules with kill -9 and resume: exactly one task per object`, { timeout: 120_000 + seeds.length * 120_000 }, async () => {
    const summary = await runChaos({ seeds, parallel: 2, log: (line) => console.log(line) });
    console.log(`${formatSummary(summary)} (${(summary.wallMs / 1000).toFixed(0)} s wall)`);
    expect(summary.reports.filter((r) => r.problems.length > 0).map(describeSeed), 'reproduce one with CHAOS_SEEDS=1 CHAOS_FIRST_SEED=<seed> npm run test:chaos').toEqual([]);
    expect(summary.kills).toBeGreaterThanOrEqual(1);
    expect(summary.faults).toBeGreaterThan(0);
    expect(formatSummary(summary)).toMatch(/^chaos: \d+ seeds, \d+ faults injected, \d+ kills, \d+ state files lost, 0 duplicates, 0 lost$/);
  });
});
