import { cpSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { applyPlanRun, type ApplyRunInput, type RunSettings } from '../../src/executor/apply.js';
import { followTasks } from '../../src/executor/follow.js';
import { HashedIds, HashedOwners } from '../../src/executor/compact-sets.js';
import { hash64 } from '../../src/planner/lookup.js';
import { PLAN_VERSION, emptySummary, type PlanItem } from '../../src/planner/index.js';
import type { PlanReader } from '../../src/planner/plan-file.js';
import { PartedStore, type CheckpointPoint, type PartedStoreOptions } from '../../src/state/parted-store.js';
import { openRunStore, stateLayout } from '../../src/state/open-run-store.js';
import { StateStore } from '../../src/state/store.js';
import type { ItemState } from '../../src/state/types.js';
import { openStateView } from '../../src/state/view.js';
import { FakeApi, FakeSource, type Behaviour } from './fake-api.js';
import { FakeAssets } from './fake-assets.js';
import { FakeClock } from './fake-clock.js';
import { somePlanOptions } from './builders.js';
import { useTmpDir } from './tmp-dir.js';

// `apply` on a state in parts (issue 15): parts of 4 items, so that a plan of 20 spans five parts
// and every window, hold and compact set is exercised; the fake API and the fake clock; real files.

const IDENTITY = { uri: 's3://bkt', bucket: 'bkt', prefix: '', indexId: 'idx' };
const LM = '2026-01-01T00:00:00Z';
const keyOf = (n: number) => `clips/c-${String(n).padStart(3, '0')}.mp4`;
const upload = (key: string, etag = `etag-${key}`): PlanItem => ({ key, size: 100, etag, lastModified: LM, action: 'upload' });

function aPlan(items: PlanItem[]): PlanReader {
  return {
    header: { version: PLAN_VERSION, planId: 'plan-1', createdAt: '2026-11-01T00:00:00.000Z', tool: 'tlmigrate test', source: { uri: 's3://bkt', bucket: 'bkt', prefix: '' }, indexId: 'idx', options: somePlanOptions() },
    summary: { ...emptySummary(), total: items.length },
    items: async function* () {
      yield* items;
    },
  };
}

function world(behaviour?: (n: number) => Behaviour) {
  const clock = new FakeClock(Date.parse('2026-11-01T00:00:00Z'));
  const api = new FakeApi(clock, behaviour ? (_r, n) => behaviour(n) : undefined);
  const source = new FakeSource();
  const objects = (items: PlanItem[]) => {
    for (const item of items) source.objects.set(item.key, { key: item.key, size: item.size, etag: item.etag, lastModified: LM });
  };
  const run = (store: PartedStore, plan: PlanReader, settings: Partial<RunSettings> = {}, extra: Partial<ApplyRunInput> = {}) =>
    applyPlanRun({
      plan,
      planPath: 'plan.json',
      statePath: store.path,
      store,
      retryFailed: false,
      stop: new AbortController().signal,
      settings: { api, source, clock, concurrency: 2, presignExpiresSeconds: 3600, enableVideoStream: true, userMetadata: {}, reconcileLagMs: 1000, random: () => 0.5, ...settings },
      ...extra,
    });
  return { api, clock, source, objects, run };
}

const open = (path: string, options: PartedStoreOptions = {}) => PartedStore.open(path, IDENTITY, 'apply plan.json', 'tlmigrate test', { partSize: 4, ...options });

async function stateItems(path: string): Promise<Map<string, ItemState>> {
  const view = await openStateView(path);
  const items = new Map<string, ItemState>();
  if (!view) return items;
  try {
    for await (const [uri, item] of view.items()) items.set(uri, item);
  } finally {
    await view.close();
  }
  return items;
}

/** Every object of the plan has exactly one task, and the state records that task for it. */
async function expectExactlyOnce(api: FakeApi, path: string, keys: string[]): Promise<void> {
  const items = await stateItems(path);
  for (const key of keys) {
    expect(api.postsFor(key), key).toBe(1);
    const task = api.tasks.find((t) => t.metadata.tlm_source === `s3://bkt/${key}`);
    expect(items.get(`s3://bkt/${key}`)?.taskId, key).toBe(task?._id);
  }
}

describe('apply on a state in parts', () => {
  const tmp = useTmpDir();

  it('sends one task per object, a window at a time, with at most a window of parts in memory', async () => {
    const w = world();
    const items = Array.from({ length: 20 }, (_, n) => upload(keyOf(n)));
    w.objects(items);
    const store = await open(tmp.path('state.json'));
    let mostLoaded = 0;
    const outcome = await w.run(store, aPlan(items), { onEvent: () => (mostLoaded = Math.max(mostLoaded, store.loadedParts)) });
    expect(outcome).toMatchObject({ exitCode: 0, outcome: 'completed', result: { submitted: 20 }, counts: { submitted: 20 }, left: { items: 0 } });
    expect(store.partList().length).toBe(5);
    expect(mostLoaded).toBe(1);
    expect(store.held).toBe(0);
    await store.close();
    await expectExactlyOnce(w.api, tmp.path('state.json'), items.map((i) => i.key));
    expect(await stateLayout(tmp.path('state.json'))).toBe('parts');
  });

  it('a second apply of the same plan sends nothing and reads its counts from the manifest', async () => {
    const w = world();
    const items = Array.from({ length: 12 }, (_, n) => upload(keyOf(n)));
    w.objects(items);
    let store = await open(tmp.path('state.json'));
    await w.run(store, aPlan(items));
    await store.close();
    store = await open(tmp.path('state.json'));
    const again = await w.run(store, aPlan(items));
    await store.close();
    expect(again).toMatchObject({ exitCode: 0, result: { submitted: 0 }, counts: { submitted: 12 } });
    expect(w.api.posts).toBe(12);
  });

  it('follows progress (status --refresh, --wait) without loading a part: the changes go to the journal', async () => {
    const w = world();
    const items = Array.from({ length: 12 }, (_, n) => upload(keyOf(n)));
    w.objects(items);
    let store = await open(tmp.path('state.json'));
    await w.run(store, aPlan(items));
    await store.close();
    for (const task of w.api.tasks.slice(0, 10)) task.status = 'ready';
    store = await open(tmp.path('state.json'));
    const counts = await followTasks({ api: w.api, store, clock: w.clock, indexId: 'idx', pollMs: 0, once: true });
    expect(counts).toEqual({ ready: 10, validating: 2 });
    expect(store.loadedParts).toBe(0);
    expect(await store.statusCounts()).toEqual({ ready: 10, validating: 2 });
    await store.close();
    const states = [...(await stateItems(tmp.path('state.json'))).values()].map((i) => i.status);
    expect(states.filter((s) => s === 'ready')).toHaveLength(10);
  });

  it('reconciles a POST whose answer was lost instead of sending it again', async () => {
    const w = world((n) => (n === 7 ? 'accept-then-lose' : 'ok'));
    const items = Array.from({ length: 16 }, (_, n) => upload(keyOf(n)));
    w.objects(items);
    const store = await open(tmp.path('state.json'));
    const outcome = await w.run(store, aPlan(items));
    await store.close();
    expect(outcome.result).toMatchObject({ submitted: 16, reconciled: 1 });
    await expectExactlyOnce(w.api, tmp.path('state.json'), items.map((i) => i.key));
  });

  it('an item set aside after a lost answer is held past its window and settled after the others (two searches, the minimum age)', async () => {
    const w = world((n) => (n === 2 ? 'accept-then-lose' : 'ok'));
    const items = Array.from({ length: 16 }, (_, n) => upload(keyOf(n)));
    w.objects(items);
    // The listing lags: the lost task shows only from the third search on.
    const listTasks = w.api.listTasks.bind(w.api);
    let searches = 0;
    w.api.listTasks = (query) => (query.filename && ++searches <= 2 ? listTasks({ ...query, filename: 'nothing-yet' }) : listTasks(query));
    const store = await open(tmp.path('state.json'));
    let heldAtMost = 0;
    const outcome = await w.run(store, aPlan(items), { onEvent: () => (heldAtMost = Math.max(heldAtMost, store.held)) });
    await store.close();
    expect(heldAtMost).toBe(1);
    expect(searches).toBeGreaterThanOrEqual(3);
    expect(outcome.result).toMatchObject({ submitted: 16, reconciled: 1 });
    await expectExactlyOnce(w.api, tmp.path('state.json'), items.map((i) => i.key));
  });

  it('--via assets: assets still processing at the end of their window are held, drained once twice a part is held, and indexed once', async () => {
    const w = world();
    const assets = new FakeAssets(w.clock, { asset: (n) => (n === 5 ? 'lose-answer' : 'ok') }, 2);
    const items = Array.from({ length: 14 }, (_, n) => upload(keyOf(n)));
    w.objects(items);
    const store = await open(tmp.path('state.json'));
    let heldAtMost = 0;
    const outcome = await w.run(store, aPlan(items), { via: 'assets', assetsApi: assets, assetPollMs: 1000, onEvent: () => (heldAtMost = Math.max(heldAtMost, store.held)) });
    await store.close();
    expect(outcome).toMatchObject({ exitCode: 0, result: { submitted: 14 } });
    // Parts of 4: past 8 held (twice the part size) the run drains before the next window, so it never holds all 14.
    expect(heldAtMost).toBeGreaterThan(4);
    expect(heldAtMost).toBeLessThanOrEqual(12);
    for (const { key } of items) {
      expect(assets.assetsFor(key), key).toBe(1);
      expect(assets.indexedFor(key), key).toBe(1);
    }
    const recorded = await stateItems(tmp.path('state.json'));
    expect([...recorded.values()].every((i) => i.status === 'submitted' && i.assetId && i.indexedAssetId)).toBe(true);
  });

  it('skips content the state or an earlier part already holds under another key, across parts', async () => {
    const w = world();
    const first = Array.from({ length: 8 }, (_, n) => upload(keyOf(n)));
    w.objects(first);
    let store = await open(tmp.path('state.json'));
    await w.run(store, aPlan(first));
    await store.close();
    // Later parts: a copy of c-001 (created by the first run) and two copies of the new c-010.
    const copies = [upload('clips/z-copy-of-001.mp4', `etag-${keyOf(1)}`), upload(keyOf(10)), upload('clips/zz-copy-of-010.mp4', `etag-${keyOf(10)}`)];
    const later = [...first, upload(keyOf(9)), ...copies, ...Array.from({ length: 6 }, (_, n) => upload(`clips/zzz-${n}.mp4`))].sort((a, b) => (a.key < b.key ? -1 : 1));
    w.objects(later);
    store = await open(tmp.path('state.json'));
    const outcome = await w.run(store, aPlan(later));
    await store.close();
    expect(outcome.result).toMatchObject({ duplicates: 2, submitted: 8 });
    const items = await stateItems(tmp.path('state.json'));
    expect(items.get('s3://bkt/clips/z-copy-of-001.mp4')).toMatchObject({ status: 'skipped', reason: 'duplicate', duplicateOf: `s3://bkt/${keyOf(1)}` });
    expect(items.get('s3://bkt/clips/zz-copy-of-010.mp4')).toMatchObject({ status: 'skipped', reason: 'duplicate', duplicateOf: `s3://bkt/${keyOf(10)}` });
    expect(w.api.tasks.length).toBe(16);
  });

  it('a plan out of key order is merged and applied all the same (a part load per item out of order)', async () => {
    const w = world();
    const items = Array.from({ length: 20 }, (_, n) => upload(keyOf((n * 7) % 20)));
    w.objects(items);
    const store = await open(tmp.path('state.json'));
    const outcome = await w.run(store, aPlan(items));
    await store.close();
    expect(outcome.result.submitted).toBe(20);
    await expectExactlyOnce(w.api, tmp.path('state.json'), items.map((i) => i.key));
  });

  it('a crash between parts (the files as a kill -9 leaves them) resumes with exactly one task per object', async () => {
    const w = world();
    const items = Array.from({ length: 20 }, (_, n) => upload(keyOf(n)));
    w.objects(items);
    const store = await open(tmp.path('state.json'));
    const crash = tmp.path('crash');
    let frozen = false;
    // At the 9th task (the third part), the disk as it is then is what the killed process leaves; its POSTs in flight land but never answer.
    const createTask = w.api.createTask.bind(w.api);
    w.api.createTask = async (request) => {
      if (frozen) {
        void createTask(request).catch(() => undefined);
        return new Promise(() => undefined);
      }
      const created = await createTask(request);
      if (!frozen && w.api.posts >= 9) {
        snapshot(tmp.path('state.json'), crash);
        frozen = true;
      }
      return created;
    };
    void w.run(store, aPlan(items)).catch(() => undefined);
    await until(() => frozen);
    const landed = w.api.tasks.length;
    // The killed run stays dead (its POSTs never answer); the resume talks to the same platform.
    const api = w.api;
    const platform = { createTask, listTasks: api.listTasks.bind(api), getTask: api.getTask.bind(api), listVideos: api.listVideos.bind(api), getVideo: api.getVideo.bind(api) };
    const spoolsLeft = readdirSync(crash).filter((name) => name.includes('.apply-')).length;
    const resumed = await open(`${crash}/state.json`);
    const outcome = await w.run(resumed, aPlan(items), { api: platform });
    await resumed.close();
    expect(outcome.exitCode).toBe(0);
    expect(w.api.tasks.length).toBe(20);
    expect(landed).toBeGreaterThanOrEqual(9);
    await expectExactlyOnce(w.api, `${crash}/state.json`, items.map((i) => i.key));
    // The killed run's work spool, left beside the state, is gone once the resume is over (and its own too).
    expect(spoolsLeft).toBe(1);
    expect(readdirSync(crash).filter((name) => name.includes('.apply-'))).toEqual([]);
  });

  it.each<CheckpointPoint>(['switched', 'part-written', 'manifest-written', 'journal-retired'])('a kill -9 during a checkpoint (%s) mid-run resumes exactly once', async (point) => {
    const w = world();
    const items = Array.from({ length: 20 }, (_, n) => upload(keyOf(n)));
    w.objects(items);
    const crash = tmp.path('crash');
    let taken = false;
    const store = await open(tmp.path('state.json'), {
      pause: (at) => {
        if (taken || at !== point || w.api.posts < 6) return;
        snapshot(tmp.path('state.json'), crash);
        taken = true;
      },
    });
    await w.run(store, aPlan(items));
    await store.close();
    expect(taken).toBe(true);
    // The same platform (its 20 tasks), the state as the kill left it.
    const resumed = await open(`${crash}/state.json`);
    const outcome = await w.run(resumed, aPlan(items));
    await resumed.close();
    expect(outcome.exitCode).toBe(0);
    expect(w.api.tasks.length).toBe(20);
    await expectExactlyOnce(w.api, `${crash}/state.json`, items.map((i) => i.key));
  });
});

describe('openRunStore: which layout apply writes', () => {
  const tmp = useTmpDir();

  it('a new state in parts past the threshold, in one file below it; an existing one as it is', async () => {
    const big = await openRunStore(tmp.path('big.json'), IDENTITY, 'apply', 'test', { planItems: 11, threshold: 10 });
    const small = await openRunStore(tmp.path('small.json'), IDENTITY, 'apply', 'test', { planItems: 10, threshold: 10 });
    expect(big).toBeInstanceOf(PartedStore);
    expect(small).toBeInstanceOf(StateStore);
    await big.close();
    await small.close();
    expect(await stateLayout(tmp.path('big.json'))).toBe('parts');
    expect(await stateLayout(tmp.path('small.json'))).toBe('one-file');
    expect(await stateLayout(tmp.path('none.json'))).toBe('none');
    const reopened = await openRunStore(tmp.path('small.json'), IDENTITY, 'apply', 'test', { planItems: 1_000_000, threshold: 10 });
    expect(reopened).toBeInstanceOf(StateStore);
    await reopened.close();
    expect((await readFile(tmp.path('big.json'), 'utf8')).split('\n')[0]).toMatch(/"parts":\[$/);
  });
});

describe('compact sets: a hash hit is confirmed before it counts', () => {
  const item = (patch: Partial<ItemState>): ItemState => ({ key: 'k', size: 100, etag: 'e', status: 'submitted', attempts: 1, updatedAt: LM, ...patch });
  const parts = new Map<number, Array<[string, ItemState]>>([
    [1, [['s3://bkt/a.mp4', item({ taskId: 'task-a' })]]],
    [2, [['s3://bkt/b.mp4', item({ taskId: 'task-b', etag: 'eb' })]]],
  ]);
  const lookup = {
    partOf: (uri: string) => (uri < 's3://bkt/b' ? 1 : 2),
    lineage: (id: number) => (id === 1 ? [1, 3] : [id]),
    scanPart: async function* (id: number) {
      yield* parts.get(id) ?? [];
    },
  };

  it('an id whose hash is in the table but whose part does not record it (a collision) is not claimed', async () => {
    const ids = new HashedIds(lookup);
    ids.addRecorded('task-a', 1);
    ids.addRecorded('task-x', 2);
    expect(await ids.has('task-a')).toBe(true);
    expect(await ids.has('task-x')).toBe(false);
    expect(await ids.has('task-b')).toBe(false);
  });

  it('an id added this run counts at once, before its item records it, and is kept exactly until it does', async () => {
    const ids = new HashedIds(lookup);
    ids.add('task-new', 's3://bkt/a.mp4');
    expect(await ids.has('task-new')).toBe(true);
    ids.prune(() => item({ taskId: 'other' }));
    expect(ids.exact).toBe(1);
    ids.prune(() => item({ taskId: 'task-new' }));
    expect(ids.exact).toBe(0);
  });

  it('follows an item into a part cut from its hinted one', async () => {
    parts.set(3, [['s3://bkt/a2.mp4', item({ taskId: 'task-moved', etag: 'e-moved' })]]);
    const ids = new HashedIds(lookup);
    ids.addRecorded('task-moved', 1);
    expect(await ids.has('task-moved')).toBe(true);
  });

  it('a content owner is the created item of that content in the hinted part, never the item asking', async () => {
    const owners = new HashedOwners(lookup);
    owners.addRecorded('100\0e', 1);
    owners.addRecorded('100\0zz', 1);
    expect(await owners.get('100\0e', 's3://bkt/other.mp4')).toBe('s3://bkt/a.mp4');
    expect(await owners.get('100\0e', 's3://bkt/a.mp4')).toBeUndefined();
    expect(await owners.get('100\0zz', 's3://bkt/other.mp4')).toBeUndefined();
    expect(await owners.get('100\0none', 's3://bkt/other.mp4')).toBeUndefined();
  });

  it('hashes spread: 100k ids, no two alike', () => {
    const seen = new Set<string>();
    for (let n = 0; n < 100_000; n++) seen.add(hash64(`${n.toString(16).padStart(24, '0')}`).join(':'));
    expect(seen.size).toBe(100_000);
  });
});

/** Copies a state (manifest, parts, journals) as it is on disk now, but its lock: what a process killed now leaves. */
function snapshot(path: string, to: string): void {
  rmSync(to, { recursive: true, force: true });
  cpSync(`${path}.parts`, `${to}/state.json.parts`, { recursive: true });
  for (const suffix of ['', '.journal', '.journal.next']) if (existsSync(`${path}${suffix}`)) cpSync(`${path}${suffix}`, `${to}/state.json${suffix}`);
  for (const name of readdirSync(dirname(path))) if (name.startsWith(`${basename(path)}.apply-`)) cpSync(join(dirname(path), name), join(to, `state.json.apply-${name.slice(`${basename(path)}.apply-`.length)}`), { recursive: true });
}

async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000 && !done(); i++) await new Promise((r) => setTimeout(r, 1));
  expect(done()).toBe(true);
}
