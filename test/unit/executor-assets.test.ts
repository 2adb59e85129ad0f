import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { executePlan } from '../../src/executor/executor.js';
import type { ExecuteOptions, ExecutorApi } from '../../src/executor/types.js';
import { StateStore } from '../../src/state/index.js';
import { FakeClock } from './fake-clock.js';
import { FakeAssets } from './fake-assets.js';

const unusedTasksApi: ExecutorApi = {
  createTask: () => Promise.reject(new Error('the assets path must not POST /tasks')),
  listTasks: () => Promise.reject(new Error('unused')),
  getTask: () => Promise.reject(new Error('unused')),
  listVideos: async () => ({ data: [], page_info: { page: 1, limit_per_page: 50, total_page: 1, total_results: 0 } }),
  getVideo: () => Promise.reject(new Error('unused')),
};

async function setup(keys: string[], fake: (clock: FakeClock) => FakeAssets) {
  const dir = mkdtempSync(join(tmpdir(), 'tlm-assets-'));
  const clock = new FakeClock(Date.parse('2026-11-01T00:00:00Z'));
  const assets = fake(clock);
  const store = await StateStore.open(join(dir, 'state.json'), { uri: 's3://bkt', bucket: 'bkt', prefix: '', indexId: 'idx' }, 'test', 'tlmigrate test');
  for (const key of keys) await store.setItem(`s3://bkt/${key}`, { key, size: 10, etag: `e-${key}`, status: 'planned', attempts: 0, updatedAt: '2026-11-01T00:00:00Z' });
  const options: ExecuteOptions = {
    api: unusedTasksApi,
    assetsApi: assets,
    via: 'assets',
    source: { head: async (key) => ({ key, size: 10, etag: `e-${key}`, lastModified: '' }), presignGet: async (key) => `https://s3.test/bkt/${key}?X-Amz-Signature=s` },
    store,
    clock,
    indexId: 'idx',
    bucket: 'bkt',
    runId: 'r1',
    uris: keys.map((k) => `s3://bkt/${k}`),
    concurrency: 3,
    presignExpiresSeconds: 3600,
    enableVideoStream: true,
    userMetadata: {},
    reconcileLagMs: 500,
    assetPollMs: 1000,
    random: () => 0.5,
  };
  return { assets, store, options };
}

const keys = (n: number) => Array.from({ length: n }, (_, i) => `m/clip-${i}.mp4`);

describe('executePlan --via assets', () => {
  it('creates one asset and one indexed asset per object, indexing each once its asset is ready', async () => {
    const { assets, store, options } = await setup(keys(7), (c) => new FakeAssets(c, {}, 2));
    const result = await executePlan(options);
    expect(result).toMatchObject({ submitted: 7, failed: 0, pending: 0 });
    for (const key of keys(7)) {
      expect([assets.assetsFor(key), assets.indexedFor(key)]).toEqual([1, 1]);
      const item = store.item(`s3://bkt/${key}`);
      expect(item?.assetId).toMatch(/^a/);
      expect(item?.videoId).toBe(item?.indexedAssetId);
    }
    await store.close();
  });

  it('reconciles a lost POST /assets answer by the fingerprint instead of creating a second asset', async () => {
    const { assets, store, options } = await setup(keys(3), (c) => new FakeAssets(c, { asset: (n) => (n === 2 ? 'lose-answer' : 'ok') }));
    const result = await executePlan(options);
    expect(result).toMatchObject({ submitted: 3, reconciled: 1 });
    for (const key of keys(3)) expect([assets.assetsFor(key), assets.indexedFor(key)]).toEqual([1, 1]);
    await store.close();
  });

  it('reconciles a lost indexed-asset answer by the asset id instead of indexing it twice', async () => {
    const { assets, store, options } = await setup(keys(3), (c) => new FakeAssets(c, { index: (n) => (n === 1 ? 'lose-answer' : 'ok') }));
    const result = await executePlan(options);
    expect(result).toMatchObject({ submitted: 3, reconciled: 1 });
    expect(assets.indexPosts).toBe(3);
    for (const key of keys(3)) expect(assets.indexedFor(key)).toBe(1);
    await store.close();
  });

  it('on resume, reuses an asset created by the killed run and never creates it again', async () => {
    const { assets, store, options } = await setup(keys(2), (c) => new FakeAssets(c));
    // The killed run created the asset and recorded it, but never indexed it.
    const asset = await assets.createAsset({ url: 'https://s3.test/bkt/m/clip-0.mp4', filename: 'clip-0.mp4', userMetadata: { tlm_source: 's3://bkt/m/clip-0.mp4', tlm_etag: 'e-m/clip-0.mp4' } });
    await store.setItem('s3://bkt/m/clip-0.mp4', { status: 'asset_processing', assetId: asset._id });
    // And it sent the second object's asset POST, then died before recording anything but the intent.
    await assets.createAsset({ url: 'https://s3.test/bkt/m/clip-1.mp4', filename: 'clip-1.mp4', userMetadata: { tlm_source: 's3://bkt/m/clip-1.mp4', tlm_etag: 'e-m/clip-1.mp4' } });
    await store.setItem('s3://bkt/m/clip-1.mp4', { status: 'intent', step: 'asset', intentAt: '2026-11-01T00:00:00.000Z', attempts: 1 });
    const before = assets.assetPosts;
    const result = await executePlan(options);
    expect(assets.assetPosts).toBe(before);
    expect(result).toMatchObject({ submitted: 2, reconciled: 1 });
    for (const key of keys(2)) expect([assets.assetsFor(key), assets.indexedFor(key)]).toEqual([1, 1]);
    await store.close();
  });

  it('fails the item when the platform cannot process its asset, and never indexes it', async () => {
    const { assets, store, options } = await setup(keys(2), (c) => new FakeAssets(c, { failKey: 'clip-1.mp4' }));
    const result = await executePlan(options);
    expect(result).toMatchObject({ submitted: 1, failed: 1 });
    expect(store.item('s3://bkt/m/clip-1.mp4')).toMatchObject({ status: 'failed', lastError: { code: 'asset_failed', message: 'unsupported codec' } });
    expect(assets.indexedFor('m/clip-1.mp4')).toBe(0);
    await store.close();
  });

  it('leaves assets that never leave processing to the next run once none moved for the asset wait, and that run indexes them without a new asset', async () => {
    const { assets, store, options } = await setup(keys(3), (c) => new FakeAssets(c, {}, Number.POSITIVE_INFINITY));
    const first = await executePlan({ ...options, assetWaitMs: 10 * 60_000 });
    expect(first).toMatchObject({ submitted: 0, failed: 0 });
    for (const key of keys(3)) expect(store.item(`s3://bkt/${key}`)?.status).toBe('asset_processing');
    assets.readyAfterPolls = 1;
    const second = await executePlan({ ...options, assetWaitMs: 10 * 60_000 });
    expect(second).toMatchObject({ failed: 0 });
    expect(assets.assetPosts).toBe(3);
    for (const key of keys(3)) expect([assets.assetsFor(key), assets.indexedFor(key), store.item(`s3://bkt/${key}`)?.status]).toEqual([1, 1, 'submitted']);
    await store.close();
  });
});
