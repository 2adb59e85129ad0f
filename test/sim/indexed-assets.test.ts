import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { callApi, fakeMp4, startMediaServer } from './fixtures.js';
import type { ApiAnswer, MediaServer } from './fixtures.js';
import { startSimulator } from './index.js';
import type { SimIndex, Simulator, SimulatorOptions } from './index.js';

const GB = 1024 ** 3;
const T0 = Date.parse('2025-07-01T08:00:00Z');
const INSTANT = { validatingMs: 0, pendingMs: 0, queuedMs: 0, indexingMs: 0, assetProcessingMs: 0 };

describe('indexed assets (/indexes/{id}/indexed-assets)', () => {
  let media: MediaServer;
  let sim: Simulator | undefined;

  beforeAll(async () => {
    media = await startMediaServer();
    for (let i = 0; i < 6; i++) media.put(`clips/clip-${i}.mp4`, { bytes: fakeMp4(1000 * (i + 1)) });
    media.put('clips/short.mp4', { bytes: fakeMp4() });
    media.put('clips/three-gb.mp4', { size: 3 * GB, head: fakeMp4(1024) });
  });
  afterAll(() => media.close());
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
  });

  const start = async (options: SimulatorOptions = {}): Promise<{ s: Simulator; index: SimIndex }> => {
    sim = await startSimulator({ lifecycle: INSTANT, ...options });
    return { s: sim, index: sim.createIndex({ name: 'lib' }) };
  };
  const readyAsset = async (s: Simulator, path: string): Promise<string> => {
    const res = await callApi(s, 'POST', '/assets', { form: { method: 'url', url: media.url(path) } });
    const asset = await s.waitForAsset(res.body._id);
    expect(asset.status).toBe('ready');
    return asset.id;
  };
  const index = (s: Simulator, indexId: string, json: unknown): Promise<ApiAnswer> =>
    callApi(s, 'POST', `/indexes/${indexId}/indexed-assets`, { json });

  describe('POST', () => {
    it('answers 202 {_id, asset_id} and starts pending; the SDK-style JSON body is recorded', async () => {
      const { s, index: idx } = await start({ lifecycle: { pendingMs: 1000, assetProcessingMs: 0 }, clock: 'manual' });
      const assetId = await readyAsset(s, 'clips/clip-0.mp4');
      const res = await index(s, idx.id, { asset_id: assetId, enable_video_stream: false, user_metadata: { tlm_source: 's3://b/clips/clip-0.mp4', n: 2 } });
      expect(res.status).toBe(202);
      expect(res.body).toEqual({ _id: expect.stringMatching(/^[0-9a-f]{24}$/), asset_id: assetId });
      expect(s.indexedAsset(res.body._id)).toMatchObject({ status: 'pending', assetId, indexId: idx.id, enableVideoStream: false, userMetadata: { tlm_source: 's3://b/clips/clip-0.mp4', n: 2 } });
      expect(s.requests.at(-1)?.body).toEqual({ asset_id: assetId, enable_video_stream: false, user_metadata: { tlm_source: 's3://b/clips/clip-0.mp4', n: 2 } });
      expect(s.counts()).toMatchObject({ indexedAssetsCreated: 1, indexedAssetsByAsset: new Map([[assetId, 1]]) });
    });

    it('answers 200 or 201 with the createIndexedAssetStatus variant', async () => {
      const { s, index: idx } = await start({ variants: { createIndexedAssetStatus: 201 } });
      expect((await index(s, idx.id, { asset_id: await readyAsset(s, 'clips/clip-0.mp4') })).status).toBe(201);
    });

    it('answers 404 resource_not_exist for an unknown index or asset (400 with the notFoundStatus variant)', async () => {
      const { s, index: idx } = await start();
      const assetId = await readyAsset(s, 'clips/clip-0.mp4');
      const unknownIndex = await index(s, 'ffffffffffffffffffffffff', { asset_id: assetId });
      expect([unknownIndex.status, unknownIndex.body.code]).toEqual([404, 'resource_not_exist']);
      const unknownAsset = await index(s, idx.id, { asset_id: 'aaaaaaaaaaaaaaaaaaaaaaaa' });
      expect([unknownAsset.status, unknownAsset.body.code]).toEqual([404, 'resource_not_exist']);
      s.variants.set({ notFoundStatus: 400 });
      expect((await index(s, idx.id, { asset_id: 'aaaaaaaaaaaaaaaaaaaaaaaa' })).status).toBe(400);
      expect(s.indexedAssets()).toHaveLength(0);
    });

    it('refuses an asset that is still processing, or failed, with 400 asset_not_ready', async () => {
      const { s, index: idx } = await start({ clock: 'manual', lifecycle: { assetProcessingMs: 500 } });
      const processing = (await callApi(s, 'POST', '/assets', { form: { method: 'url', url: media.url('clips/clip-0.mp4') } })).body._id;
      const refused = await index(s, idx.id, { asset_id: processing });
      expect(refused.status).toBe(400);
      expect(refused.body).toEqual({ code: 'asset_not_ready', message: expect.stringContaining('processing') });
      const failed = (await callApi(s, 'POST', '/assets', { form: { method: 'url', url: media.url('clips/missing.mp4') } })).body._id;
      await s.advance(500);
      expect(s.asset(failed)?.status).toBe('failed');
      expect((await index(s, idx.id, { asset_id: failed })).body.code).toBe('asset_not_ready');
      expect((await index(s, idx.id, { asset_id: processing })).status).toBe(202);
    });

    it.each([
      ['an empty body', undefined, 'parameter_not_provided'],
      ['no asset_id', { enable_video_stream: true }, 'parameter_not_provided'],
      ['a numeric asset_id', { asset_id: 5 }, 'parameter_invalid'],
      ['a string enable_video_stream', { asset_id: '<asset>', enable_video_stream: 'true' }, 'parameter_invalid'],
      ['nested user_metadata', { asset_id: '<asset>', user_metadata: { a: { b: 1 } } }, 'parameter_invalid'],
      ['user_metadata as a JSON string', { asset_id: '<asset>', user_metadata: '{"a":1}' }, 'parameter_invalid'],
      ['an unknown field', { asset_id: '<asset>', index_id: 'x' }, 'parameter_unknown'],
      ['a JSON array', ['<asset>'], 'parameter_invalid'],
    ] as const)('refuses %s with 400 %s', async (_name, body, code) => {
      const { s, index: idx } = await start();
      const assetId = await readyAsset(s, 'clips/clip-0.mp4');
      const json = body === undefined ? undefined : JSON.parse(JSON.stringify(body).replace('<asset>', assetId));
      const res = await callApi(s, 'POST', `/indexes/${idx.id}/indexed-assets`, json === undefined ? {} : { json });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe(code);
      expect(s.indexedAssets()).toHaveLength(0);
    });
  });

  describe('lifecycle', () => {
    it('walks pending -> queued -> indexing -> ready on the manual clock; then a video with the same id and asset_id lists and retrieves', async () => {
      const { s, index: idx } = await start({ clock: { startAt: T0 }, lifecycle: { pendingMs: 50, queuedMs: 50, indexingMs: 100, assetProcessingMs: 0 } });
      const assetId = await readyAsset(s, 'clips/clip-1.mp4');
      const id = (await index(s, idx.id, { asset_id: assetId, user_metadata: { tlm_source: 's3://b/clip-1.mp4' } })).body._id;
      const seen: string[] = [];
      const status = async (): Promise<string> => (await callApi(s, 'GET', `/indexes/${idx.id}/indexed-assets/${id}`)).body.status;
      seen.push(await status());
      for (const ms of [49, 1, 50, 99, 1]) {
        await s.advance(ms);
        seen.push(await status());
      }
      expect(seen).toEqual(['pending', 'pending', 'queued', 'indexing', 'indexing', 'ready']);

      const detail = await callApi(s, 'GET', `/indexes/${idx.id}/indexed-assets/${id}`);
      expect(detail.body).toEqual({
        _id: id,
        asset_id: assetId,
        created_at: '2025-07-01T08:00:00.000Z',
        updated_at: '2025-07-01T08:00:00.200Z',
        indexed_at: '2025-07-01T08:00:00.200Z',
        status: 'ready',
        system_metadata: { filename: 'clip-1.mp4', duration: 60, fps: 30, width: 1280, height: 720, size: 2000 },
        user_metadata: { tlm_source: 's3://b/clip-1.mp4' },
        hls: { video_url: expect.stringContaining(`/hls/${id}/`), thumbnail_urls: [expect.any(String)], status: 'COMPLETE', updated_at: '2025-07-01T08:00:00.200Z' },
      });

      const videos = await callApi(s, 'GET', `/indexes/${idx.id}/videos`);
      expect(videos.body.data).toEqual([expect.objectContaining({ _id: id, asset_id: assetId, system_metadata: expect.objectContaining({ filename: 'clip-1.mp4', size: 2000 }) })]);
      const video = await callApi(s, 'GET', `/indexes/${idx.id}/videos/${id}`);
      expect(video.body).toMatchObject({ _id: id, asset_id: assetId, user_metadata: { tlm_source: 's3://b/clip-1.mp4' } });
      expect((await callApi(s, 'GET', `/indexes/${idx.id}`)).body).toMatchObject({ video_count: 1, total_duration: 60 });
      expect((await callApi(s, 'GET', '/tasks')).body.data).toEqual([]);
    });

    it('lists no indexed_at before ready, and the video only once ready', async () => {
      const { s, index: idx } = await start({ clock: 'manual', lifecycle: { pendingMs: 5, queuedMs: 5, indexingMs: 5, assetProcessingMs: 0 } });
      const id = (await index(s, idx.id, { asset_id: await readyAsset(s, 'clips/clip-0.mp4') })).body._id;
      const early = await callApi(s, 'GET', `/indexes/${idx.id}/indexed-assets`);
      expect(early.body.data[0]).not.toHaveProperty('indexed_at');
      expect(early.body.data[0]).not.toHaveProperty('user_metadata');
      expect((await callApi(s, 'GET', `/indexes/${idx.id}/videos`)).body.data).toEqual([]);
      await s.advance(15);
      expect((await s.waitForIndexedAsset(id)).status).toBe('ready');
      expect((await callApi(s, 'GET', `/indexes/${idx.id}/videos`)).body.data).toHaveLength(1);
    });

    it.each([
      [{ duration: 3 }, 'video_duration_too_short'],
      [{ duration: 7201 }, 'video_duration_too_long'],
      [{ width: 640, height: 359 }, 'video_resolution_too_low'],
      [{ width: 5185, height: 2160 }, 'video_resolution_too_high'],
      [{ width: 1000, height: 400 }, 'video_resolution_invalid_aspect_ratio'],
    ])('fails an asset described as %j with %s, makes no video', async (described, code) => {
      const { s, index: idx } = await start({ describeVideo: ({ filename }) => (filename === 'short.mp4' ? described : undefined) });
      const id = (await index(s, idx.id, { asset_id: await readyAsset(s, 'clips/short.mp4') })).body._id;
      const done = await s.waitForIndexedAsset(id);
      expect(done.status).toBe('failed');
      expect(done.failure?.code).toBe(code);
      expect(s.videos(idx.id)).toHaveLength(0);
    });

    it('indexes a 3 GB asset: the 2 GB limit of /tasks does not apply', async () => {
      const { s, index: idx } = await start();
      const id = (await index(s, idx.id, { asset_id: await readyAsset(s, 'clips/three-gb.mp4') })).body._id;
      expect((await s.waitForIndexedAsset(id)).status).toBe('ready');
      expect(s.videos(idx.id)[0]?.meta.size).toBe(3 * GB);
    });

    it('exposes the failure on GET only through the indexedAssetErrorField variant, never in lists', async () => {
      const { s, index: idx } = await start({ describeVideo: () => ({ duration: 2 }) });
      const id = (await index(s, idx.id, { asset_id: await readyAsset(s, 'clips/clip-0.mp4') })).body._id;
      await s.waitForIndexedAsset(id);
      const path = `/indexes/${idx.id}/indexed-assets/${id}`;
      const plain = (await callApi(s, 'GET', path)).body;
      expect(plain.status).toBe('failed');
      expect(plain).not.toHaveProperty('error');
      expect(plain.hls.status).toBe('ERROR');
      s.variants.set({ indexedAssetErrorField: 'error' });
      expect((await callApi(s, 'GET', path)).body.error).toEqual({ code: 'video_duration_too_short', message: expect.stringContaining('Current duration is 2 seconds') });
      s.variants.set({ indexedAssetErrorField: 'error_message' });
      expect((await callApi(s, 'GET', path)).body.error_message).toMatch(/^Video is too short/);
      expect((await callApi(s, 'GET', `/indexes/${idx.id}/indexed-assets`)).body.data[0]).not.toHaveProperty('error_message');
    });

    it('deleting while indexing leaves no video behind', async () => {
      const { s, index: idx } = await start({ clock: 'manual', lifecycle: { pendingMs: 10, queuedMs: 10, indexingMs: 10, assetProcessingMs: 0 } });
      const id = (await index(s, idx.id, { asset_id: await readyAsset(s, 'clips/clip-0.mp4') })).body._id;
      await s.advance(15);
      expect((await callApi(s, 'DELETE', `/indexes/${idx.id}/indexed-assets/${id}`)).status).toBe(204);
      await s.advance(100);
      expect(s.videos(idx.id)).toHaveLength(0);
      expect((await callApi(s, 'GET', `/indexes/${idx.id}/indexed-assets/${id}`)).status).toBe(404);
    });
  });

  describe('GET /indexes/{id}/indexed-assets', () => {
    const seed = async (s: Simulator, indexId: string): Promise<string[]> => {
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) {
        const assetId = await readyAsset(s, `clips/clip-${i}.mp4`);
        const metadata = { category: i < 3 ? 'news' : 'sport', batch: i % 3, reviewed: i === 4 };
        ids.push((await index(s, indexId, { asset_id: assetId, user_metadata: metadata })).body._id);
        await s.advance(60_000);
      }
      return ids;
    };
    const list = async (s: Simulator, indexId: string, query: Record<string, string | string[]> | string): Promise<{ status: number; ids: string[]; body: ApiAnswer['body'] }> => {
      const res = await callApi(s, 'GET', `/indexes/${indexId}/indexed-assets`, { query });
      return { status: res.status, ids: res.status === 200 ? res.body.data.map((a: { _id: string }) => a._id) : [], body: res.body };
    };

    it('pages newest first, sorts on request', async () => {
      const { s, index: idx } = await start({ clock: { startAt: T0 } });
      const ids = await seed(s, idx.id);
      const first = await list(s, idx.id, { page_limit: '4' });
      expect(first.ids).toEqual([ids[5], ids[4], ids[3], ids[2]]);
      expect(first.body.page_info).toEqual({ limit_per_page: 4, page: 1, total_page: 2, total_results: 6 });
      expect((await list(s, idx.id, { page_limit: '4', page: '3' })).ids).toEqual([]);
      expect((await list(s, idx.id, { sort_option: 'asc', page_limit: '2' })).ids).toEqual([ids[0], ids[1]]);
      await callApi(s, 'PATCH', `/indexes/${idx.id}/indexed-assets/${ids[1]}`, { json: { user_metadata: { touched: true } } });
      expect((await list(s, idx.id, { sort_by: 'updated_at', page_limit: '1' })).ids).toEqual([ids[1]]);
    });

    it('filters by repeated status, filename, ranges, created_at/updated_at and user metadata (three encodings)', async () => {
      const { s, index: idx } = await start({ clock: { startAt: T0 }, describeVideo: ({ filename }) => (filename === 'clip-5.mp4' ? { duration: 2 } : undefined) });
      const ids = await seed(s, idx.id);
      expect((await list(s, idx.id, { status: 'failed' })).ids).toEqual([ids[5]]);
      expect((await list(s, idx.id, { status: ['failed', 'ready'], page_limit: '1' })).body.page_info.total_results).toBe(6);
      expect((await list(s, idx.id, { filename: 'clip-2.mp4' })).ids).toEqual([ids[2]]);
      expect((await list(s, idx.id, { 'size[gte]': '2000', 'size[lte]': '3000' })).ids).toEqual([ids[2], ids[1]]);
      expect((await list(s, idx.id, { duration: '2' })).ids).toEqual([ids[5]]);
      expect((await list(s, idx.id, { created_at: new Date(T0 + 4 * 60_000).toISOString() })).ids).toEqual([ids[5], ids[4]]);
      expect((await list(s, idx.id, { category: 'sport', batch: '1' })).ids).toEqual([ids[4]]);
      expect((await list(s, idx.id, { 'user_metadata[reviewed]': 'true' })).ids).toEqual([ids[4]]);
      expect((await list(s, idx.id, { user_metadata: '{"category":"news","batch":0}' })).ids).toEqual([ids[0]]);
      s.variants.set({ metadataFilterEncodings: ['json'] });
      expect((await list(s, idx.id, { category: 'sport' })).ids).toHaveLength(6);
    });

    it.each([[{ page_limit: '51' }], [{ status: 'validating' }], [{ sort_by: 'filename' }], [{ 'duration[gte]': 'long' }], [{ created_at: 'yesterday' }]])(
      'refuses %j with 400 parameter_invalid',
      async (query) => {
        const { s, index: idx } = await start();
        const res = await list(s, idx.id, query);
        expect(res.status).toBe(400);
        expect(res.body.code).toBe('parameter_invalid');
      },
    );

    it('answers 404 for an unknown index, and for an indexed asset of another index', async () => {
      const { s, index: idx } = await start();
      const other = s.createIndex();
      const id = (await index(s, idx.id, { asset_id: await readyAsset(s, 'clips/clip-0.mp4') })).body._id;
      expect((await callApi(s, 'GET', '/indexes/ffffffffffffffffffffffff/indexed-assets')).status).toBe(404);
      for (const method of ['GET', 'PATCH', 'DELETE']) {
        const res = await callApi(s, method, `/indexes/${other.id}/indexed-assets/${id}`, method === 'PATCH' ? { json: {} } : {});
        expect([method, res.status, res.body.code]).toEqual([method, 404, 'resource_not_exist']);
      }
    });
  });

  describe('updating and deleting', () => {
    it('PATCH merges user_metadata into the indexed asset and its video (204, or 200 with the body)', async () => {
      const { s, index: idx } = await start();
      const id = (await index(s, idx.id, { asset_id: await readyAsset(s, 'clips/clip-0.mp4'), user_metadata: { a: 1, b: 'x' } })).body._id;
      await s.waitForIndexedAsset(id);
      expect((await callApi(s, 'PATCH', `/indexes/${idx.id}/indexed-assets/${id}`, { json: { user_metadata: { b: null, c: true } } })).status).toBe(204);
      expect((await callApi(s, 'GET', `/indexes/${idx.id}/videos/${id}`)).body.user_metadata).toEqual({ a: 1, c: true });
      await callApi(s, 'PATCH', `/indexes/${idx.id}/videos/${id}`, { json: { user_metadata: { d: 2.5 } } });
      expect((await callApi(s, 'GET', `/indexes/${idx.id}/indexed-assets/${id}`)).body.user_metadata).toEqual({ a: 1, c: true, d: 2.5 });
      s.variants.set({ updateVideoStatus: 200 });
      const updated = await callApi(s, 'PATCH', `/indexes/${idx.id}/indexed-assets/${id}`, { json: { user_metadata: { a: 2 } } });
      expect(updated.status).toBe(200);
      expect(updated.body.user_metadata).toEqual({ a: 2, c: true, d: 2.5 });
      expect((await callApi(s, 'PATCH', `/indexes/${idx.id}/indexed-assets/${id}`, { json: { user_metadata: { a: [1] } } })).status).toBe(400);
    });

    it('DELETE of the indexed asset removes its video, and DELETE of the video removes the indexed asset', async () => {
      const { s, index: idx } = await start();
      const first = (await index(s, idx.id, { asset_id: await readyAsset(s, 'clips/clip-0.mp4') })).body._id;
      const second = (await index(s, idx.id, { asset_id: await readyAsset(s, 'clips/clip-1.mp4') })).body._id;
      await Promise.all([s.waitForIndexedAsset(first), s.waitForIndexedAsset(second)]);
      expect((await callApi(s, 'DELETE', `/indexes/${idx.id}/indexed-assets/${first}`)).status).toBe(204);
      expect((await callApi(s, 'GET', `/indexes/${idx.id}/videos/${first}`)).status).toBe(404);
      expect((await callApi(s, 'DELETE', `/indexes/${idx.id}/videos/${second}`)).status).toBe(204);
      expect((await callApi(s, 'GET', `/indexes/${idx.id}/indexed-assets/${second}`)).status).toBe(404);
      expect(s.indexedAssets(idx.id)).toEqual([]);
      s.variants.set({ deleteStatus: 200 });
      const third = (await index(s, idx.id, { asset_id: await readyAsset(s, 'clips/clip-2.mp4') })).body._id;
      expect((await callApi(s, 'DELETE', `/indexes/${idx.id}/indexed-assets/${third}`)).status).toBe(200);
    });
  });

  it('lists videos of both upload paths together', async () => {
    const { s, index: idx } = await start();
    const task = await callApi(s, 'POST', '/tasks', { form: { index_id: idx.id, video_url: media.url('clips/clip-3.mp4') } });
    const indexed = (await index(s, idx.id, { asset_id: await readyAsset(s, 'clips/clip-4.mp4') })).body._id;
    await s.waitForTask(task.body._id);
    await s.waitForIndexedAsset(indexed);
    const videos = (await callApi(s, 'GET', `/indexes/${idx.id}/videos`)).body.data as Array<{ _id: string; asset_id?: string }>;
    expect(videos.map((v) => v._id).sort()).toEqual([task.body.video_id, indexed].sort());
    expect(videos.find((v) => v._id === task.body.video_id)).not.toHaveProperty('asset_id');
  });
});
