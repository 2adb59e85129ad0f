import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { executePlan } from '../../src/executor/executor.js';
import type { ExecuteOptions } from '../../src/executor/types.js';
import { MemoryStore, StateStore, type ItemState, type ItemStore } from '../../src/state/index.js';
import type { CreateTaskRequest, Task } from '../../src/twelvelabs/types.js';
import { FakeClock } from './fake-clock.js';
import { FakeApi, FakeSource, type Behaviour } from './fake-api.js';

type StoreKind = 'file' | 'memory';

async function openStore(kind: StoreKind, path: string, clock: FakeClock): Promise<{ store: ItemStore; close: () => Promise<void> }> {
  const identity = { uri: 's3://bkt', bucket: 'bkt', prefix: '', indexId: 'idx' };
  if (kind === 'memory') return { store: new MemoryStore(identity, () => clock.now()), close: async () => undefined };
  const store = await StateStore.open(path, identity, 'test', 'tlmigrate test');
  return { store, close: () => store.close() };
}

async function setup(kind: StoreKind, keys: string[], options: { behaviour?: (r: CreateTaskRequest, n: number) => Behaviour; metadataReadable?: boolean; seed?: (store: ItemStore) => Promise<void> } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'tlm-exec-'));
  const path = join(dir, 'state.json');
  const clock = new FakeClock(Date.parse('2026-11-01T00:00:00Z'));
  const api = new FakeApi(clock, options.behaviour, options.metadataReadable ?? true);
  const source = new FakeSource();
  const { store, close } = await openStore(kind, path, clock);
  const uris: string[] = [];
  for (const key of keys) {
    source.objects.set(key, { key, size: 100, etag: `etag-${key}`, lastModified: '2026-01-01T00:00:00Z' });
    const item: ItemState = { key, size: 100, etag: `etag-${key}`, status: 'planned', attempts: 0, updatedAt: '2026-11-01T00:00:00Z' };
    await store.setItem(`s3://bkt/${key}`, item);
    uris.push(`s3://bkt/${key}`);
  }
  await options.seed?.(store);
  const base: ExecuteOptions = {
    api,
    source,
    store,
    clock,
    indexId: 'idx',
    bucket: 'bkt',
    runId: 'run-1',
    uris,
    concurrency: 3,
    presignExpiresSeconds: 3600,
    enableVideoStream: true,
    userMetadata: { project: 'x' },
    reconcileLagMs: 1000,
    random: () => 0.5,
  };
  return { api, source, store, close, clock, path, base };
}

const keys = (n: number) => Array.from({ length: n }, (_, i) => `dir/video ${i}.mp4`);

// The invariants hold on the file store and on the memory store alike (no disk, the fake clock only).
describe.each<StoreKind>(['file', 'memory'])('executePlan (%s store)', (kind) => {
  it('submits every item exactly once with at most `concurrency` POSTs in flight', async () => {
    const { api, base, close } = await setup(kind, keys(20));
    const result = await executePlan(base);
    await close();
    expect(result).toMatchObject({ submitted: 20, failed: 0, pending: 0, reconciled: 0 });
    expect(api.posts).toBe(20);
    expect(api.maxInFlight).toBeLessThanOrEqual(3);
    for (const key of keys(20)) expect(api.postsFor(key)).toBe(1);
  });

  it('reconciles a POST whose answer was lost instead of sending it again', async () => {
    const { api, base, close } = await setup(kind, keys(5), { behaviour: (_r, n) => (n === 2 ? 'accept-then-lose' : 'ok') });
    const result = await executePlan(base);
    await close();
    expect(result).toMatchObject({ submitted: 5, reconciled: 1 });
    expect(api.posts).toBe(5);
    for (const key of keys(5)) expect(api.postsFor(key)).toBe(1);
  });

  it('resubmits after a 5xx only once reconciliation shows no task was created', async () => {
    const { api, base, close } = await setup(kind, keys(1), { behaviour: (_r, n) => (n === 1 ? 'refuse-5xx' : 'ok') });
    const result = await executePlan(base);
    await close();
    expect(result).toMatchObject({ submitted: 1, retries: 1, reconciled: 0 });
    expect(api.posts).toBe(2);
    expect(api.postsFor(keys(1)[0]!)).toBe(1);
  });

  it('records a definite rejection with its code and never retries it', async () => {
    const { api, store, base, close } = await setup(kind, keys(2), { behaviour: (r) => (r.videoUrl.includes('video%201') ? 'reject-400' : 'ok') });
    const result = await executePlan(base);
    expect(result).toMatchObject({ submitted: 1, failed: 1 });
    expect(api.posts).toBe(2);
    expect(store.item('s3://bkt/dir/video 1.mp4')).toMatchObject({ status: 'failed', lastError: { code: 'parameter_invalid', message: 'bad url' } });
    await close();
  });

  it('retries a 429 (nothing was created) after the pause', async () => {
    const { api, base, close } = await setup(kind, keys(3), { behaviour: (_r, n) => (n <= 2 ? 'throttle' : 'ok') });
    const result = await executePlan(base);
    await close();
    expect(result).toMatchObject({ submitted: 3, throttled: 2 });
    for (const key of keys(3)) expect(api.postsFor(key)).toBe(1);
  });

  it('stops cleanly on an exhausted daily quota, leaving the rest planned', async () => {
    const { api, base, close } = await setup(kind, keys(10), { behaviour: (_r, n) => (n >= 4 ? 'quota' : 'ok') });
    const result = await executePlan({ ...base, concurrency: 1 });
    await close();
    expect(result.quota?.resetAt).toBe('2026-11-01T05:00:00.000Z');
    expect(result.submitted).toBe(3);
    expect(result.pending).toBe(7);
    expect(api.posts).toBe(4);
  });

  it('on resume, finds the task of an item left in `intent` and does not POST it again', async () => {
    const { api, store, base, clock, close } = await setup(kind, keys(2));
    // A previous process recorded the intent, its POST created the task, then it died.
    await api.createTask({ indexId: 'idx', videoUrl: await new FakeSource().presignGet(keys(2)[0]!), enableVideoStream: true, userMetadata: { tlm_source: `s3://bkt/${keys(2)[0]}`, tlm_etag: `etag-${keys(2)[0]}` } });
    await store.setItem(`s3://bkt/${keys(2)[0]}`, { status: 'intent', intentAt: new Date(clock.now()).toISOString(), attempts: 1 });
    const postsBefore = api.posts;
    const result = await executePlan(base);
    await close();
    expect(result).toMatchObject({ submitted: 2, reconciled: 1 });
    expect(api.posts - postsBefore).toBe(1);
    for (const key of keys(2)) expect(api.postsFor(key)).toBe(1);
  });

  it('on resume, resubmits an `intent` item whose task never appeared', async () => {
    const { api, store, base, clock, close } = await setup(kind, keys(1));
    await store.setItem(`s3://bkt/${keys(1)[0]}`, { status: 'intent', intentAt: new Date(clock.now()).toISOString(), attempts: 1 });
    const result = await executePlan(base);
    await close();
    expect(result).toMatchObject({ submitted: 1, reconciled: 0 });
    expect(api.posts).toBe(1);
  });

  it('leaves an item `unknown` when several unconfirmable tasks could be it, and POSTs nothing', async () => {
    const { api, store, base, clock, close } = await setup(kind, ['a/x.mp4', 'b/x.mp4'], { metadataReadable: false });
    for (const key of ['a/x.mp4', 'b/x.mp4']) {
      await api.createTask({ indexId: 'idx', videoUrl: await new FakeSource().presignGet(key), enableVideoStream: true, userMetadata: {} });
      await store.setItem(`s3://bkt/${key}`, { status: 'unknown', intentAt: new Date(clock.now()).toISOString(), attempts: 1 });
    }
    const postsBefore = api.posts;
    const result = await executePlan(base);
    expect(api.posts).toBe(postsBefore);
    expect(result.pending).toBe(2);
    expect(store.item('s3://bkt/a/x.mp4')).toMatchObject({ status: 'unknown', lastError: { code: 'reconcile_ambiguous' } });
    await close();
  });

  it('the index decides: with a fresh state, an object whose video the index holds is recorded, not sent', async () => {
    const { api, store, base, close } = await setup(kind, keys(3));
    const held = keys(3)[1] as string;
    await api.createTask({ indexId: 'idx', videoUrl: await new FakeSource().presignGet(held), enableVideoStream: true, userMetadata: { tlm_source: `s3://bkt/${held}`, tlm_etag: `etag-${held}`, tlm_size: 100 } });
    (api.tasks[0] as Task).status = 'ready';
    const postsBefore = api.posts;
    const result = await executePlan(base);
    expect(result).toMatchObject({ submitted: 2, foundInIndex: 1, pending: 0 });
    expect(api.posts - postsBefore).toBe(2);
    expect(store.item(`s3://bkt/${held}`)).toMatchObject({ status: 'ready', reason: 'found_in_index', videoId: api.tasks[0]?.video_id });
    for (const key of keys(3)) expect(api.postsFor(key)).toBe(1);
    await close();
  });

  it('a lost answer is resubmitted only after two empty searches and the minimum age since its intent', async () => {
    const { api, base, close } = await setup(kind, keys(1), { behaviour: (_r, n) => (n === 1 ? 'refuse-5xx' : 'ok') });
    const result = await executePlan({ ...base, reconcileMinAgeMs: 45_000 });
    await close();
    expect(result).toMatchObject({ submitted: 1, retries: 1 });
    expect(api.postTimes).toHaveLength(2);
    expect((api.postTimes[1] as number) - (api.postTimes[0] as number)).toBeGreaterThanOrEqual(45_000);
  });

  it("never resends an item because another item's census saw its task first (two keys, one file name, unreadable metadata)", async () => {
    const { api, store, base, clock, close } = await setup(kind, ['a/x.mp4', 'b/x.mp4'], { metadataReadable: false });
    // A killed run left a/x.mp4 in `intent`, its task created; b/x.mp4 is still planned.
    await api.createTask({ indexId: 'idx', videoUrl: await new FakeSource().presignGet('a/x.mp4'), enableVideoStream: true, userMetadata: { tlm_source: 's3://bkt/a/x.mp4', tlm_etag: 'etag-a/x.mp4' } });
    await store.setItem('s3://bkt/a/x.mp4', { status: 'intent', intentAt: new Date(clock.now() - 600_000).toISOString(), attempts: 1 });
    const result = await executePlan(base);
    await close();
    expect(api.postsFor('a/x.mp4')).toBe(1);
    expect(api.postsFor('b/x.mp4')).toBe(0);
    expect(result.undecided).toBe(2);
  });

  it('fails items whose source object vanished or changed, without a POST', async () => {
    const { api, source, store, base, close } = await setup(kind, keys(3));
    source.objects.delete(keys(3)[0]!);
    source.objects.set(keys(3)[1]!, { key: keys(3)[1]!, size: 100, etag: 'other', lastModified: '' });
    const result = await executePlan(base);
    expect(result).toMatchObject({ submitted: 1, failed: 2 });
    expect(api.posts).toBe(1);
    expect(store.item(`s3://bkt/${keys(3)[0]}`)?.lastError?.code).toBe('source_missing');
    expect(store.item(`s3://bkt/${keys(3)[1]}`)?.lastError?.code).toBe('source_changed');
    await close();
  });

  it('never writes a presigned URL or its signature to the state', async () => {
    const { store, base, path, close } = await setup(kind, keys(4), { behaviour: (_r, n) => (n === 1 ? 'accept-then-lose' : n === 2 ? 'reject-400' : 'ok') });
    await executePlan(base);
    await close();
    const text = store instanceof MemoryStore ? JSON.stringify([store.snapshot(), store.changes]) : readFileSync(path, 'utf8') + readFileSync(`${path}.journal`, 'utf8');
    expect(text).toContain('video 1.mp4');
    expect(text).not.toMatch(/X-Amz-Signature|X-Amz-Credential|deadbeefsecret|s3\.test/);
  });

  it('stops starting new items once the stop signal fires, and reports interrupted', async () => {
    const { api, base, close } = await setup(kind, keys(30));
    const stop = new AbortController();
    let seen = 0;
    const result = await executePlan({ ...base, concurrency: 1, stop: stop.signal, onEvent: (e) => e.type === 'submitted' && ++seen === 5 && stop.abort() });
    await close();
    expect(result.interrupted).toBe(true);
    expect(result.submitted).toBe(5);
    expect(result.pending).toBe(25);
    expect(api.posts).toBe(5);
  });
});

describe('executePlan on the memory store', () => {
  const kind: StoreKind = 'memory';

  it('every POST follows a durable intent for its object, recorded after any earlier change to it', async () => {
    const seen: { store?: ItemStore } = {};
    const unguarded: string[] = [];
    const guard = (request: CreateTaskRequest, n: number): Behaviour => {
      const uri = String(request.userMetadata.tlm_source);
      const changes = seen.store instanceof MemoryStore ? seen.store.changes : [];
      const last = changes.findLast((c) => 'i' in c.event && c.event.i === uri);
      if (!last || !last.durable || !('i' in last.event) || last.event.s.status !== 'intent') unguarded.push(uri);
      return n % 4 === 0 ? 'accept-then-lose' : n % 5 === 0 ? 'refuse-5xx' : 'ok';
    };
    const opened = await setup(kind, keys(12), { behaviour: guard });
    seen.store = opened.store;
    const result = await executePlan({ ...opened.base, reconcileMinAgeMs: 30_000 });
    expect(unguarded).toEqual([]);
    expect(opened.api.posts).toBeGreaterThan(12);
    expect(result).toMatchObject({ submitted: 12, failed: 0, pending: 0 });
    for (const key of keys(12)) expect(opened.api.postsFor(key)).toBe(1);
  });
});
