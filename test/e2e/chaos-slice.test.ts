import { describe, expect, it } from 'vitest';
import { describeSeed, formatSummary, readingsFromEnv, runChaos, seedsFromEnv } from '../chaos/driver.js';
import { readings } from '../sim/index.js';

/**
 * The disputed API points read against tlmigrate at once (shared/twelvelabs-api.md): metadata
 * filters on bare keys only, brackets read literally; strict timestamps; quota refused with 400;
 * file names kept percent-encoded.
 */
const NON_DEFAULT = readings('metadata-filter=bare', 'timestamps=strict', 'quota-status=400', 'url-filename=encoded');

/** The bounded slice of `npm run test:chaos` that `npm test` runs: the same driver, CHAOS_SEEDS (default 5) seeds. */
describe('chaos slice', () => {
  const seeds = seedsFromEnv(5);
  const variants = readingsFromEnv();
  it(`${seeds.length} seeded fault schedules with kill -9 and resume: exactly one task per object`, { timeout: 120_000 + seeds.length * 120_000 }, async () => {
    const summary = await runChaos({ seeds, parallel: 2, ...(variants ? { variants } : {}), log: (line) => console.log(line) });
    console.log(`${formatSummary(summary)} (${(summary.wallMs / 1000).toFixed(0)} s wall)`);
    expect(summary.reports.filter((r) => r.problems.length > 0).map(describeSeed), 'reproduce one with CHAOS_SEEDS=1 CHAOS_FIRST_SEED=<seed> npm run test:chaos').toEqual([]);
    expect(summary.kills).toBeGreaterThanOrEqual(1);
    expect(summary.faults).toBeGreaterThan(0);
    expect(formatSummary(summary)).toMatch(/^chaos: \d+ seeds, \d+ faults injected, \d+ kills, \d+ state files lost, 0 duplicates, 0 lost$/);
  });

  it('2 more seeds with the state in parts (parts of 3 items): apply merges, works and resumes it a window at a time', { timeout: 360_000 }, async () => {
    const summary = await runChaos({ seeds: [8, 9], parallel: 2, env: { TLMIGRATE_PARTS_THRESHOLD: '0', TLMIGRATE_PART_SIZE: '3' }, log: (line) => console.log(`[parts] ${line}`) });
    console.log(`[parts] ${formatSummary(summary)} (${(summary.wallMs / 1000).toFixed(0)} s wall)`);
    expect(summary.reports.filter((r) => r.problems.length > 0).map(describeSeed)).toEqual([]);
    expect(summary.kills).toBeGreaterThanOrEqual(1);
    expect(formatSummary(summary)).toMatch(/^chaos: 2 seeds, \d+ faults injected, \d+ kills, \d+ state files lost, 0 duplicates, 0 lost$/);
  });

  it('2 more seeds with every disputed API point read against us', { timeout: 360_000 }, async () => {
    const summary = await runChaos({ seeds: [6, 7], parallel: 2, variants: NON_DEFAULT, log: (line) => console.log(`[non-default readings] ${line}`) });
    console.log(`[non-default readings] ${formatSummary(summary)} (${(summary.wallMs / 1000).toFixed(0)} s wall)`);
    expect(summary.reports.filter((r) => r.problems.length > 0).map(describeSeed), 'reproduce one with CHAOS_READINGS=metadata-filter=bare,timestamps=strict,quota-status=400,url-filename=encoded CHAOS_SEEDS=1 CHAOS_FIRST_SEED=<seed> npm run test:chaos').toEqual([]);
    expect(formatSummary(summary)).toMatch(/^chaos: 2 seeds, \d+ faults injected, \d+ kills, \d+ state files lost, 0 duplicates, 0 lost$/);
  });
});
