import { TwelveLabs, TwelvelabsApi } from 'twelvelabs-js';
import type { TwelvelabsApiError } from 'twelvelabs-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeMp4, startMediaServer } from './fixtures.js';
import type { MediaServer } from './fixtures.js';
import { startSimulator } from './index.js';
import type { SimIndex, Simulator } from './index.js';

const GB = 1024 ** 3;

/** TwelveLabs 1.3.4 takes only { apiKey }: its base URL comes from TWELVELABS_BASE_URL at construction. */
function sdkClient(sim: Simulator): TwelveLabs {
  const saved = process.env.TWELVELABS_BASE_URL;
  process.env.TWELVELABS_BASE_URL = sim.url;
  try {
    return new TwelveLabs({ apiKey: sim.apiKey });
  } finally {
    if (saved === undefined) delete process.env.TWELVELABS_BASE_URL;
    else process.env.TWELVELABS_BASE_URL = saved;
  }
}

/**
 * The newer upload path driven by the official SDK (twelvelabs-js 1.3.4): it parses every answer
 * with its serializers (unknown keys pass through; a wrong type or a missing required field throws),
 * so these calls pass only if the simulator's assets and indexed assets are shapes the SDK reads.
 */
describe('the official SDK on the asset routes', () => {
  let media: MediaServer;
  let sim: Simulator;
  let index: SimIndex;
  let client: TwelveLabs;

  beforeAll(async () => {
    media = await startMediaServer();
    for (let i = 0; i < 4; i++) media.put(`library/clip ${i}.mp4`, { bytes: fakeMp4(1000 * (i + 1)) });
    media.put('library/expired.mp4', { status: 403 });
    media.put('library/huge.mp4', { size: 4 * GB + 1, head: fakeMp4(1024) });
    sim = await startSimulator({ lifecycle: { validatingMs: 1, pendingMs: 1, queuedMs: 1, indexingMs: 1, assetProcessingMs: 1 } });
    index = sim.createIndex({ name: 'sdk-assets' });
    client = sdkClient(sim);
  });
  afterAll(async () => {
    await sim.close();
    await media.close();
  });

  const assetIds: string[] = [];
  const indexedIds: string[] = [];
  const failure = (promise: Promise<unknown>): Promise<unknown> => promise.then(() => undefined, (error: unknown) => error);

  it('assets.create by URL (user metadata as a JSON string, hls on) and by file', async () => {
    for (let i = 0; i < 4; i++) {
      const asset = await client.assets.create({
        method: 'url',
        url: media.url(`library/clip ${i}.mp4`),
        enableHls: i === 0,
        userMetadata: JSON.stringify({ tlm_source: `s3://bucket/library/clip ${i}.mp4`, batch: i % 2 }),
      });
      expect(asset).toMatchObject({ method: 'url', status: 'processing', filename: `clip ${i}.mp4`, fileType: 'video/mp4' });
      expect(asset.id).toMatch(/^[0-9a-f]{24}$/);
      expect(asset.createdAt).toBeInstanceOf(Date);
      expect(asset.userMetadata).toEqual({ tlm_source: `s3://bucket/library/clip ${i}.mp4`, batch: i % 2 });
      assetIds.push(asset.id ?? '');
    }
    expect(sim.requests.find((r) => r.route === 'POST /assets')?.body).toEqual({
      method: 'url',
      url: media.url('library/clip 0.mp4'),
      enable_hls: 'true',
      user_metadata: JSON.stringify({ tlm_source: 's3://bucket/library/clip 0.mp4', batch: 0 }),
    });
    const direct = await client.assets.create({ method: 'direct', file: new File([fakeMp4(1500)], 'local.mp4'), filename: 'kept.mp4' });
    expect(direct).toMatchObject({ method: 'direct', filename: 'kept.mp4' });
    expect(direct.userMetadata).toBeUndefined();
    expect((await sim.waitForAsset(direct.id ?? '')).meta?.size).toBe(1500);
    await Promise.all(assetIds.map((id) => sim.waitForAsset(id)));
  });

  it('assets.retrieve: ready (size, duration, technical metadata, hls) and failed (error.message)', async () => {
    const ready = await client.assets.retrieve(assetIds[0] ?? '');
    expect(ready).toMatchObject({ status: 'ready', size: 1000, duration: 60, hls: { status: 'ready' } });
    expect(ready.technicalMetadata).toMatchObject({ videoWidth: 1280, videoHeight: 720, videoDurationSeconds: 60, fileSizeBytes: 1000 });
    expect(ready.hls?.manifestUrl).toMatch(/\.m3u8$/);
    for (const path of ['library/expired.mp4', 'library/huge.mp4']) {
      const created = await client.assets.create({ method: 'url', url: media.url(path) });
      await sim.waitForAsset(created.id ?? '');
      const failed = await client.assets.retrieve(created.id ?? '');
      expect(failed.status).toBe('failed');
      expect(failed.error?.message).toMatch(path.includes('huge') ? /4GB/ : /403/);
      await client.assets.delete(created.id ?? '');
    }
    const missing = await failure(client.assets.retrieve('aaaaaaaaaaaaaaaaaaaaaaaa'));
    expect(missing).toBeInstanceOf(TwelvelabsApi.NotFoundError);
  });

  it('assets.list iterates pages and sends asset_ids repeated, filename as is', async () => {
    const all: string[] = [];
    for await (const asset of await client.assets.list({ pageLimit: 2 })) all.push(asset.id ?? '');
    expect(all).toHaveLength(5);
    const picked: TwelvelabsApi.AssetDetail[] = [];
    for await (const asset of await client.assets.list({ assetIds: [assetIds[1] ?? '', assetIds[3] ?? ''], filename: 'CLIP', assetTypes: ['video'] })) picked.push(asset);
    expect(picked.map((a) => a.filename)).toEqual(['clip 3.mp4', 'clip 1.mp4']);
    expect(picked[0]?.technicalMetadata?.videoFps).toBe(30);
    expect(sim.requests.filter((r) => r.route === 'GET /assets').at(-2)?.query).toEqual({
      asset_ids: [assetIds[1], assetIds[3]], asset_types: 'video', filename: 'CLIP',
    });
  });

  it('indexes.indexedAssets.create sends JSON {asset_id, enable_video_stream, user_metadata} and gets {id, assetId}', async () => {
    for (const [i, assetId] of assetIds.entries()) {
      const created = await client.indexes.indexedAssets.create(index.id, {
        assetId,
        enableVideoStream: i !== 1,
        userMetadata: { tlm_source: `s3://bucket/library/clip ${i}.mp4`, batch: i % 2 },
      });
      expect(created).toEqual({ id: expect.stringMatching(/^[0-9a-f]{24}$/), assetId });
      indexedIds.push(created.id ?? '');
    }
    expect(sim.requests.find((r) => r.route === 'POST /indexes/{index_id}/indexed-assets')?.body).toEqual({
      asset_id: assetIds[0], enable_video_stream: true, user_metadata: { tlm_source: 's3://bucket/library/clip 0.mp4', batch: 0 },
    });
    await Promise.all(indexedIds.map((id) => sim.waitForIndexedAsset(id)));
  });

  it('indexes.indexedAssets.retrieve: status, system and user metadata, hls only when streaming', async () => {
    const streamed = await client.indexes.indexedAssets.retrieve(index.id, indexedIds[0] ?? '');
    expect(streamed).toMatchObject({ id: indexedIds[0], assetId: assetIds[0], status: 'ready', userMetadata: { tlm_source: 's3://bucket/library/clip 0.mp4', batch: 0 } });
    expect(streamed.systemMetadata).toEqual({ filename: 'clip 0.mp4', duration: 60, fps: 30, width: 1280, height: 720, size: 1000 });
    expect(Date.parse(streamed.indexedAt ?? '')).not.toBeNaN();
    expect(streamed.hls?.status).toBe('COMPLETE');
    expect((await client.indexes.indexedAssets.retrieve(index.id, indexedIds[1] ?? '')).hls).toBeUndefined();
    sim.variants.set({ indexedAssetErrorField: 'error' });
    try {
      expect((await client.indexes.indexedAssets.retrieve(index.id, indexedIds[2] ?? '')).status).toBe('ready');
    } finally {
      sim.variants.reset();
    }
  });

  it('indexes.indexedAssets.list iterates pages with status, range and user-metadata filters (JSON encoding)', async () => {
    const all: string[] = [];
    for await (const item of await client.indexes.indexedAssets.list(index.id, { pageLimit: 3, status: ['ready', 'failed'] })) all.push(item.id ?? '');
    expect(all.sort()).toEqual([...indexedIds].sort());
    const filtered: TwelvelabsApi.IndexedAsset[] = [];
    for await (const item of await client.indexes.indexedAssets.list(index.id, { size: { gte: 2000 }, userMetadata: { batch: 1 }, sortOption: 'asc' })) filtered.push(item);
    expect(filtered.map((v) => v.systemMetadata?.filename)).toEqual(['clip 1.mp4', 'clip 3.mp4']);
    expect(sim.requests.filter((r) => r.route === 'GET /indexes/{index_id}/indexed-assets').at(-2)?.query).toEqual({
      sort_option: 'asc', 'size[gte]': '2000', user_metadata: '{"batch":1}',
    });
  });

  it('indexes.indexedAssets.listByAsset gives {id, index: {id, name}}', async () => {
    const items: TwelvelabsApi.IndexedAssetSummary[] = [];
    for await (const item of await client.indexes.indexedAssets.listByAsset(assetIds[2] ?? '')) items.push(item);
    expect(items).toEqual([{ id: indexedIds[2], index: { id: index.id, name: 'sdk-assets' } }]);
  });

  it('the indexed assets are videos of the index for indexes.videos.list and retrieve', async () => {
    const videos: TwelvelabsApi.VideoVector[] = [];
    for await (const video of await client.indexes.videos.list(index.id, { pageLimit: 2 })) videos.push(video);
    expect(videos.map((v) => v.id).sort()).toEqual([...indexedIds].sort());
    const video = await client.indexes.videos.retrieve(index.id, indexedIds[3] ?? '');
    expect(video).toMatchObject({ id: indexedIds[3], assetId: assetIds[3], userMetadata: { tlm_source: 's3://bucket/library/clip 3.mp4', batch: 1 } });
    expect((await client.indexes.retrieve(index.id)).videoCount).toBe(4);
  });

  it('indexes.indexedAssets.update, then assets.delete refused with ConflictError (409) until indexedAssets.delete or force', async () => {
    await client.indexes.indexedAssets.update(index.id, indexedIds[3] ?? '', { userMetadata: { batch: null, tlm_run: 'r2' } as unknown as TwelvelabsApi.UserMetadata });
    expect((await client.indexes.indexedAssets.retrieve(index.id, indexedIds[3] ?? '')).userMetadata).toEqual({ tlm_source: 's3://bucket/library/clip 3.mp4', tlm_run: 'r2' });

    const conflict = await failure(client.assets.delete(assetIds[3] ?? ''));
    expect(conflict).toBeInstanceOf(TwelvelabsApi.ConflictError);
    expect((conflict as TwelvelabsApiError).body).toMatchObject({ code: 'asset_in_use' });
    await client.indexes.indexedAssets.delete(index.id, indexedIds[3] ?? '');
    await client.assets.delete(assetIds[3] ?? '');
    await client.assets.delete(assetIds[2] ?? '', { force: true });
    expect(sim.assets().map((a) => a.id)).not.toContain(assetIds[2]);
    expect(sim.requests.filter((r) => r.route === 'DELETE /assets/{asset_id}').at(-1)?.query).toEqual({ force: 'true' });
  });

  it('errors: BadRequestError asset_not_ready, NotFoundError for an unknown index or asset', async () => {
    // Time stands still in this simulator: the asset stays processing.
    const frozen = await startSimulator({ clock: 'manual', lifecycle: { assetProcessingMs: 1000 } });
    try {
      const frozenIndex = frozen.createIndex();
      const frozenClient = sdkClient(frozen);
      const processing = await frozenClient.assets.create({ method: 'url', url: media.url('library/clip 0.mp4') });
      const notReady = await failure(frozenClient.indexes.indexedAssets.create(frozenIndex.id, { assetId: processing.id ?? '' }));
      expect(notReady).toBeInstanceOf(TwelvelabsApi.BadRequestError);
      expect((notReady as TwelvelabsApiError).body).toMatchObject({ code: 'asset_not_ready' });
      expect((await frozenClient.assets.retrieve(processing.id ?? '')).status).toBe('processing');
    } finally {
      await frozen.close();
    }
    expect(await failure(client.indexes.indexedAssets.create('ffffffffffffffffffffffff', { assetId: assetIds[0] ?? '' }))).toBeInstanceOf(TwelvelabsApi.NotFoundError);
    expect(await failure(client.indexes.indexedAssets.create(index.id, { assetId: 'aaaaaaaaaaaaaaaaaaaaaaaa' }))).toBeInstanceOf(TwelvelabsApi.NotFoundError);
  });

  it('accepts the alternative success statuses (200 for assets, 201 for indexed assets)', async () => {
    sim.variants.set({ createAssetStatus: 200, createIndexedAssetStatus: 201 });
    try {
      const asset = await client.assets.create({ method: 'url', url: media.url('library/clip 1.mp4') });
      await sim.waitForAsset(asset.id ?? '');
      expect((await client.indexes.indexedAssets.create(index.id, { assetId: asset.id ?? '' })).assetId).toBe(asset.id);
    } finally {
      sim.variants.reset();
    }
  });

  it('its automatic retry of a create whose answer was a 500 indexes the asset twice', async () => {
    const asset = await client.assets.create({ method: 'url', url: media.url('library/clip 2.mp4') });
    await sim.waitForAsset(asset.id ?? '');
    const other = sim.createIndex();
    sim.faults.set({ postAcceptThenFail: { nth: [1], mode: '500', routes: ['POST /indexes/{index_id}/indexed-assets'] } });
    try {
      const created = await client.indexes.indexedAssets.create(other.id, { assetId: asset.id ?? '' }, { maxRetries: 1 });
      expect(created.assetId).toBe(asset.id);
    } finally {
      sim.faults.reset();
    }
    expect(sim.indexedAssets(other.id)).toHaveLength(2);
    expect(sim.assetDuplicates().indexings.get(`${other.id}/${asset.id}`)).toBe(2);
  });
});
