import { describe, expect, it } from 'vitest';
import { describeSeed, formatSummary, readingsFromEnv, runChaos, seedsFromEnv } from './driver.js';

const seeds = seedsFromEnv(50);
const parallel = Number(process.env.CHAOS_PARALLEL ?? 2);
const variants = readingsFromEnv();

describe('chaos (npm run test:chaos)', () => {
  it(`${seeds.length} seeded fault schedules end with exactly one task per object`, { timeout: 120_000 + seeds.length * 150_000 }, async () => {
    const summary = await runChaos({ seeds, parallel, ...(variants ? { variants } : {}), log: (line) => console.log(line) });
    console.log(`${formatSummary(summary)} (${(summary.wallMs / 1000).toFixed(0)} s wall, faults by kind: ${JSON.stringify(summary.faultsByKind)})`);
    const failing = summary.reports.filter((r) => r.problems.length > 0);
    expect(failing.map(describeSeed), `reproduce one with CHAOS_SEEDS=1 CHAOS_FIRST_SEED=<seed> npm run test:chaos`).toEqual([]);
    expect(summary.duplicates).toBe(0);
    expect(summary.lost).toBe(0);
    expect(summary.kills).toBeGreaterThan(0);
    expect(summary.faults).toBeGreaterThan(seeds.length);
  });
});
