import { describe, expect, it } from 'vitest';
import { PlanFileError } from '../../src/errors.js';
import { applyPlanRun, type ApplyRunInput, type RunSettings } from '../../src/executor/apply.js';
import { PLAN_VERSION, emptySummary, type PlanItem } from '../../src/planner/index.js';
import type { PlanReader } from '../../src/planner/plan-file.js';
import { MemoryStore } from '../../src/state/index.js';
import { FakeApi, FakeSource, type Behaviour } from './fake-api.js';
import { FakeClock } from './fake-clock.js';
import { somePlanOptions } from './builders.js';

// The apply use case in-process: the memory store, a fake API and the fake clock; no disk, no spawn.

const LM = '2026-01-01T00:00:00Z';
const upload = (key: string): PlanItem => ({ key, size: 100, etag: `etag-${key}`, lastModified: LM, action: 'upload' });

function aPlan(items: PlanItem[], o: { planId?: string; createdAt?: string } = {}): PlanReader {
  return {
    header: {
      version: PLAN_VERSION,
      planId: o.planId ?? 'plan-1',
      createdAt: o.createdAt ?? '2026-11-01T00:00:00.000Z',
      tool: 'tlmigrate test',
      source: { uri: 's3://bkt', bucket: 'bkt', prefix: '' },
      indexId: 'idx',
      options: somePlanOptions(),
    },
    summary: emptySummary(),
    items: async function* () {
      yield* items;
    },
  };
}

function world(behaviour?: (n: number) => Behaviour) {
  const clock = new FakeClock(Date.parse('2026-11-01T00:00:00Z'));
  const api = new FakeApi(clock, behaviour ? (_r, n) => behaviour(n) : undefined);
  const source = new FakeSource();
  const store = new MemoryStore({ uri: 's3://bkt', bucket: 'bkt', prefix: '', indexId: 'idx' }, () => clock.now());
  const run = (plan: PlanReader, extra: Partial<ApplyRunInput> = {}, settings: Partial<RunSettings> = {}) => {
    for (const item of ['a.mp4', 'b.mp4', 'c.mp4', 'd.mp4']) source.objects.set(item, { key: item, size: 100, etag: `etag-${item}`, lastModified: '2026-01-01T00:00:00Z' });
    return applyPlanRun({
      plan,
      planPath: 'plan.json',
      statePath: 'state.json',
      store,
      retryFailed: false,
      stop: new AbortController().signal,
      settings: { api, source, clock, concurrency: 2, presignExpiresSeconds: 3600, enableVideoStream: true, userMetadata: {}, reconcileLagMs: 1000, random: () => 0.5, ...settings },
      ...extra,
    });
  };
  return { api, store, run, clock };
}

describe('applyPlanRun (memory store, fake clock)', () => {
  it('creates one task per upload item, records skips and preflight failures, and returns a result per item', async () => {
    const { api, store, run } = world();
    const plan = aPlan([upload('a.mp4'), upload('b.mp4'), { key: 'x.mp4', size: 5, etag: 'e', lastModified: LM, action: 'skip', reason: 'indexed' }, { key: 'bad.mp4', size: 5, etag: 'e', lastModified: LM, action: 'fail', reason: 'video_duration_too_short' }]);
    const outcome = await run(plan);
    expect(outcome).toMatchObject({ exitCode: 0, outcome: 'completed', result: { submitted: 2, failed: 0 }, failures: { platform: 0, earlier: 0, preflight: 1 }, left: { items: 0 } });
    expect(outcome.items.map((i) => [i.key, i.status, Boolean(i.taskId)])).toEqual([
      ['a.mp4', 'submitted', true],
      ['b.mp4', 'submitted', true],
    ]);
    expect(api.postsFor('a.mp4')).toBe(1);
    expect(store.item('s3://bkt/bad.mp4')).toMatchObject({ status: 'failed', lastError: { code: 'video_duration_too_short' } });
    expect(store.snapshot().runs).toEqual([expect.objectContaining({ runId: outcome.runId, outcome: 'completed', planId: 'plan-1' })]);
  });

  it('tells how far the merge got every 10,000 plan items, before the run starts', async () => {
    const { run } = world();
    const skips = Array.from({ length: 25_000 }, (_, i): PlanItem => ({ key: `s${i}.mp4`, size: 5, etag: `e${i}`, lastModified: LM, action: 'skip', reason: 'indexed' }));
    const plan = aPlan(skips);
    plan.summary.total = skips.length;
    const told: string[] = [];
    await run(plan, { onMerging: (n, total) => told.push(`${n}/${total}`), onStarted: () => told.push('started') });
    expect(told).toEqual(['10000/25000', '20000/25000', 'started']);
  });

  it('every POST follows a durable intent for its object', async () => {
    const { store, run } = world();
    await run(aPlan([upload('a.mp4'), upload('b.mp4'), upload('c.mp4')]));
    const intents = store.changes.filter((c) => 'i' in c.event && c.event.s?.status === 'intent');
    expect(intents).toHaveLength(3);
    for (const change of intents) expect(change.durable).toBe(true);
  });

  it('a second apply of the same plan sends nothing and leaves no empty run behind', async () => {
    const { api, store, run } = world();
    const plan = aPlan([upload('a.mp4'), upload('b.mp4')]);
    await run(plan);
    const posts = api.posts;
    const again = await run(plan);
    expect(again).toMatchObject({ exitCode: 0, outcome: 'completed', result: { submitted: 0 } });
    expect(api.posts).toBe(posts);
    expect(store.snapshot().runs).toHaveLength(1);
  });

  it('refuses a plan older than the one last applied, before anything is merged or sent', async () => {
    const { api, store, run } = world();
    await run(aPlan([upload('a.mp4')], { planId: 'new', createdAt: '2026-11-02T00:00:00.000Z' }));
    const posts = api.posts;
    const stale = run(aPlan([upload('b.mp4')], { planId: 'old', createdAt: '2026-11-01T00:00:00.000Z' }));
    await expect(stale).rejects.toThrow(PlanFileError);
    await expect(stale).rejects.toThrow(/older than the plan last applied to state\.json/);
    expect(api.posts).toBe(posts);
    expect(store.item('s3://bkt/b.mp4')).toBeUndefined();
    expect(store.snapshot().runs).toHaveLength(1);
  });

  it('a rejection fails the run (exit 1); the next run counts it as failed earlier, and --retry-failed sends it again', async () => {
    const { api, run } = world((n) => (n === 1 ? 'reject-400' : 'ok'));
    const plan = aPlan([upload('a.mp4')]);
    const first = await run(plan);
    expect(first).toMatchObject({ exitCode: 1, outcome: 'failed_items', failures: { platform: 1, earlier: 0 } });
    expect(first.items[0]).toMatchObject({ status: 'failed', error: { code: 'parameter_invalid' } });
    const second = await run(plan);
    expect(second).toMatchObject({ exitCode: 1, failures: { platform: 0, earlier: 1 } });
    expect(api.posts).toBe(1);
    const retried = await run(plan, { retryFailed: true });
    expect(retried).toMatchObject({ exitCode: 0, result: { submitted: 1 } });
    expect(api.postsFor('a.mp4')).toBe(1);
  });

  it('a stop before the first POST ends interrupted (130), sends nothing, and the run is recorded as such', async () => {
    const { api, store, run } = world();
    const stop = new AbortController();
    stop.abort(new Error('SIGINT'));
    const outcome = await run(aPlan([upload('a.mp4'), upload('b.mp4')]), { stop: stop.signal });
    expect(outcome).toMatchObject({ exitCode: 130, outcome: 'interrupted', left: { items: 2 } });
    expect(api.posts).toBe(0);
    expect(store.snapshot().runs[0]).toMatchObject({ outcome: 'interrupted', endedAt: expect.any(String) });
  });

  it('a budget stops cleanly (exit 0) and says what it left', async () => {
    const { api, store, run } = world();
    const outcome = await run(aPlan([upload('a.mp4'), upload('b.mp4'), upload('c.mp4')]), {}, { concurrency: 1, budget: { maxItems: 1 } });
    expect(outcome).toMatchObject({ exitCode: 0, outcome: 'budget', left: { items: 2 }, result: { submitted: 1 } });
    expect(api.posts).toBe(1);
    expect(store.snapshot().runs[0]?.budget).toMatchObject({ reason: 'max_items', left: { items: 2 } });
  });
});
