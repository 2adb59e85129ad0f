import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { callApi, fakeMp4, startMediaServer } from './fixtures.js';
import type { ApiAnswer, MediaServer } from './fixtures.js';
import { startSimulator } from './index.js';
import type { Simulator, SimulatorOptions } from './index.js';

const GB = 1024 ** 3;
const T0 = Date.parse('2025-06-01T10:00:00Z');
const INSTANT = { validatingMs: 0, pendingMs: 0, queuedMs: 0, indexingMs: 0, assetProcessingMs: 0 };

describe('assets (POST|GET|DELETE /assets)', () => {
  let media: MediaServer;
  let sim: Simulator | undefined;

  beforeAll(async () => {
    media = await startMediaServer();
    media.put('library/clip one.mp4', { bytes: fakeMp4() });
    media.put('library/Meeting Notes.MOV', { bytes: fakeMp4(5000) });
    media.put('library/song.mp3', { bytes: fakeMp4(3000) });
    media.put('huge.mp4', { size: 4 * GB + 1, head: fakeMp4(1024) });
    media.put('exactly-4gb.mp4', { size: 4 * GB, head: fakeMp4(1024) });
    media.put('three-gb.mp4', { size: 3 * GB, head: fakeMp4(1024) });
    media.put('notes.mp4', { bytes: Buffer.from('these are not the bytes of a video') });
    media.put('expired.mp4', { status: 403 });
  });
  afterAll(() => media.close());
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
  });

  const start = async (options: SimulatorOptions = {}): Promise<Simulator> => {
    sim = await startSimulator({ lifecycle: INSTANT, ...options });
    return sim;
  };
  const create = (s: Simulator, form: Record<string, string | { bytes: Buffer; filename: string }>): Promise<ApiAnswer> =>
    callApi(s, 'POST', '/assets', { form });
  const byUrl = (s: Simulator, path: string, extra: Record<string, string> = {}): Promise<ApiAnswer> =>
    create(s, { method: 'url', url: media.url(path), ...extra });

  describe('POST /assets', () => {
    it('creates an asset from a URL: 201 with the Asset, processing, filename = decoded last path segment', async () => {
      const s = await start({ clock: { startAt: T0 } });
      const res = await byUrl(s, 'library/clip one.mp4', { user_metadata: '{"tlm_source":"s3://b/clip one.mp4","n":1}' });
      expect(res.status).toBe(201);
      expect(res.body).toEqual({
        _id: expect.stringMatching(/^[0-9a-f]{24}$/),
        method: 'url',
        status: 'processing',
        filename: 'clip one.mp4',
        file_type: 'video/mp4',
        created_at: '2025-06-01T10:00:00.000Z',
        user_metadata: { tlm_source: 's3://b/clip one.mp4', n: 1 },
      });
      expect(s.asset(res.body._id)).toMatchObject({ status: 'processing', sourcePath: '/library/clip one.mp4', sourceUrl: media.url('library/clip one.mp4') });
      expect(s.counts()).toMatchObject({ assetsCreated: 1, assetsBySourcePath: new Map([['/library/clip one.mp4', 1]]) });
      expect(s.requests[0]?.body).toEqual({ method: 'url', url: media.url('library/clip one.mp4'), user_metadata: '{"tlm_source":"s3://b/clip one.mp4","n":1}' });
    });

    it('keeps a given filename, omits user_metadata when none was set, answers 200 with the createAssetStatus variant', async () => {
      const s = await start({ variants: { createAssetStatus: 200 } });
      const res = await byUrl(s, 'library/clip one.mp4', { filename: 'renamed.mov', enable_hls: 'true', enable_thumbnail: 'false' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ filename: 'renamed.mov', file_type: 'video/quicktime' });
      expect(res.body).not.toHaveProperty('user_metadata');
      expect(s.asset(res.body._id)).toMatchObject({ enableHls: true, enableThumbnail: false });
    });

    it('accepts method=direct with a file part', async () => {
      const s = await start();
      const res = await create(s, { method: 'direct', file: { bytes: fakeMp4(2000), filename: 'upload.mp4' } });
      expect(res.status).toBe(201);
      expect(res.body.method).toBe('direct');
      const done = await s.waitForAsset(res.body._id);
      expect(done).toMatchObject({ status: 'ready', sourcePath: 'file:upload.mp4', meta: { size: 2000, filename: 'upload.mp4' } });
      expect(s.counts().assetsBySourcePath.get('file:upload.mp4')).toBe(1);
    });

    it.each([
      ['no method', { url: 'http://x/a.mp4' }, 'parameter_not_provided'],
      ['an unknown method', { method: 'multipart', url: 'http://x/a.mp4' }, 'parameter_invalid'],
      ['method=url without url', { method: 'url' }, 'parameter_not_provided'],
      ['method=direct without file', { method: 'direct' }, 'parameter_not_provided'],
      ['method=url with a file too', { method: 'url', url: 'http://x/a.mp4', file: { bytes: fakeMp4(), filename: 'a.mp4' } }, 'parameter_invalid'],
      ['method=direct with a url too', { method: 'direct', url: 'http://x/a.mp4', file: { bytes: fakeMp4(), filename: 'a.mp4' } }, 'parameter_invalid'],
      ['a url that is not http(s)', { method: 'url', url: 'ftp://x/a.mp4' }, 'parameter_invalid'],
      ['a url that is not a URL', { method: 'url', url: 'a.mp4' }, 'parameter_invalid'],
      ['nested user_metadata', { method: 'url', url: 'http://x/a.mp4', user_metadata: '{"a":{"b":1}}' }, 'parameter_invalid'],
      ['user_metadata that is not JSON', { method: 'url', url: 'http://x/a.mp4', user_metadata: 'a=1' }, 'parameter_invalid'],
      ['a bad enable_hls', { method: 'url', url: 'http://x/a.mp4', enable_hls: 'yes' }, 'parameter_invalid'],
      ['an unknown field', { method: 'url', url: 'http://x/a.mp4', index_id: 'x' }, 'parameter_unknown'],
    ] as const)('refuses %s with 400 %s', async (_name, form, code) => {
      const s = await start();
      const res = await create(s, form);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe(code);
      expect(s.assets()).toHaveLength(0);
      expect(s.counts().assetsCreated).toBe(0);
    });

    it('refuses a body that is not multipart', async () => {
      const s = await start();
      const res = await callApi(s, 'POST', '/assets', { json: { method: 'url', url: 'http://x/a.mp4' } });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('parameter_invalid');
    });
  });

  describe('processing', () => {
    it('moves processing -> ready on the manual clock once the file was read (Range GET), then shows size, duration and technical metadata', async () => {
      const s = await start({ clock: { startAt: T0 }, lifecycle: { assetProcessingMs: 100 } });
      const id = (await byUrl(s, 'library/clip one.mp4')).body._id;
      await s.advance(99);
      expect((await callApi(s, 'GET', `/assets/${id}`)).body.status).toBe('processing');
      expect((await callApi(s, 'GET', `/assets/${id}`)).body).not.toHaveProperty('technical_metadata');
      await s.advance(1);
      const ready = await callApi(s, 'GET', `/assets/${id}`);
      expect(ready.body).toEqual({
        _id: id,
        method: 'url',
        status: 'ready',
        filename: 'clip one.mp4',
        file_type: 'video/mp4',
        created_at: '2025-06-01T10:00:00.000Z',
        size: 4096,
        duration: 60,
        technical_metadata: {
          file_size_bytes: 4096, file_mime_type: 'video/mp4', video_width: 1280, video_height: 720, video_fps: 30, video_duration_seconds: 60, total_video_streams: 1,
        },
      });
      expect(media.requests.find((r) => r.path === '/library/clip one.mp4')?.range).toBe('bytes=0-65535');
      expect(s.asset(id)?.meta).toEqual({ filename: 'clip one.mp4', size: 4096, duration: 60, width: 1280, height: 720, fps: 30 });
    });

    it('adds hls and thumbnail when asked, by status', async () => {
      const s = await start({ clock: 'manual', lifecycle: { assetProcessingMs: 10 } });
      const id = (await byUrl(s, 'library/clip one.mp4', { enable_hls: 'true', enable_thumbnail: 'true' })).body._id;
      expect((await callApi(s, 'GET', `/assets/${id}`)).body).toMatchObject({ hls: { status: 'processing' }, thumbnail: { status: 'processing' } });
      await s.advance(10);
      const ready = (await callApi(s, 'GET', `/assets/${id}`)).body;
      expect(ready.hls).toEqual({ status: 'ready', manifest_url: expect.stringMatching(/\.m3u8$/) });
      expect(ready.thumbnail).toEqual({ status: 'ready', representative_url: expect.stringMatching(/\.jpg$/) });
    });

    it.each([
      ['an expired presigned URL (403)', 'expired.mp4', /HTTP 403/],
      ['a missing object (404)', 'missing.mp4', /HTTP 404/],
      ['bytes without a container signature', 'notes.mp4', /Cannot read video file/],
      ['a file over 4 GB (size from Content-Range)', 'huge.mp4', /at most 4GB \(4294967296 bytes\)/],
    ])('fails %s with error.message', async (_name, path, message) => {
      const s = await start();
      const id = (await byUrl(s, path)).body._id;
      const done = await s.waitForAsset(id);
      expect(done.status).toBe('failed');
      expect(done.failure?.message).toMatch(message);
      const res = await callApi(s, 'GET', `/assets/${id}`);
      expect(res.body.status).toBe('failed');
      expect(res.body.error).toEqual({ message: expect.stringMatching(message) });
      expect(res.body).not.toHaveProperty('technical_metadata');
    });

    it('accepts exactly 4 GB and a 3 GB file (the 2 GB limit is for /tasks only)', async () => {
      const s = await start();
      for (const [path, size] of [['exactly-4gb.mp4', 4 * GB], ['three-gb.mp4', 3 * GB]] as const) {
        const done = await s.waitForAsset((await byUrl(s, path)).body._id);
        expect(done.status).toBe('ready');
        expect(done.meta?.size).toBe(size);
      }
    });

    it('takes the size limits from `limits` (URL and direct)', async () => {
      const s = await start({ limits: { maxAssetUrlSize: 4000, maxAssetDirectSize: 1000 } });
      const byLink = await s.waitForAsset((await byUrl(s, 'library/clip one.mp4')).body._id);
      expect(byLink.failure?.message).toMatch(/uploaded by URL may be at most .*\(4000 bytes\)/);
      const direct = await s.waitForAsset((await create(s, { method: 'direct', file: { bytes: fakeMp4(1001), filename: 'big.mp4' } })).body._id);
      expect(direct.failure?.message).toMatch(/uploaded directly may be at most .*\(1000 bytes\)/);
    });

    it('does not judge duration or resolution (indexing does)', async () => {
      const s = await start({ describeVideo: () => ({ duration: 1, width: 100, height: 100 }) });
      const done = await s.waitForAsset((await byUrl(s, 'library/clip one.mp4')).body._id);
      expect(done.status).toBe('ready');
      expect(done.meta).toMatchObject({ duration: 1, width: 100 });
    });
  });

  describe('GET /assets', () => {
    const seed = async (s: Simulator): Promise<string[]> => {
      const ids: string[] = [];
      for (const path of ['library/clip one.mp4', 'library/Meeting Notes.MOV', 'library/song.mp3', 'notes.mp4']) {
        ids.push((await byUrl(s, path)).body._id);
        await s.advance(1000);
      }
      return ids;
    };
    const list = async (s: Simulator, query: Record<string, string | string[]>): Promise<{ status: number; ids: string[]; body: ApiAnswer['body'] }> => {
      const res = await callApi(s, 'GET', '/assets', { query });
      return { status: res.status, ids: res.status === 200 ? res.body.data.map((a: { _id: string }) => a._id) : [], body: res.body };
    };

    it('lists newest first with page_info and AssetDetail items', async () => {
      const s = await start({ clock: { startAt: T0 } });
      const ids = await seed(s);
      const first = await list(s, { page_limit: '3' });
      expect(first.ids).toEqual([ids[3], ids[2], ids[1]]);
      expect(first.body.page_info).toEqual({ limit_per_page: 3, page: 1, total_page: 2, total_results: 4 });
      expect((await list(s, { page_limit: '3', page: '2' })).ids).toEqual([ids[0]]);
      expect((await list(s, { page: '3', page_limit: '3' })).ids).toEqual([]);
      const failed = first.body.data.find((a: { _id: string }) => a._id === ids[3]);
      expect(failed).toMatchObject({ status: 'failed', error: { message: expect.any(String) } });
      const ready = first.body.data.find((a: { _id: string }) => a._id === ids[1]);
      expect(ready).toMatchObject({ status: 'ready', size: 5000, file_type: 'video/quicktime' });
    });

    it('filters by repeated asset_ids, case-insensitive filename substring and asset_types', async () => {
      const s = await start({ clock: { startAt: T0 } });
      const ids = await seed(s);
      expect((await list(s, { asset_ids: [ids[0] ?? '', ids[2] ?? ''] })).ids).toEqual([ids[2], ids[0]]);
      expect((await list(s, { filename: 'meeting' })).ids).toEqual([ids[1]]);
      expect((await list(s, { filename: '.MP' })).ids).toEqual([ids[3], ids[2], ids[0]]);
      expect((await list(s, { asset_types: 'audio' })).ids).toEqual([ids[2]]);
      expect((await list(s, { asset_types: ['video', 'image'] })).ids).toEqual([ids[3], ids[1], ids[0]]);
    });

    it.each([[{ page_limit: '51' }], [{ page: '0' }], [{ asset_types: 'movie' }]])('refuses %j with 400 parameter_invalid', async (query) => {
      const s = await start();
      const res = await list(s, query);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('parameter_invalid');
    });
  });

  describe('GET and DELETE /assets/{id}', () => {
    it('answers 404 resource_not_exist for an unknown asset (400 with the notFoundStatus variant)', async () => {
      const s = await start();
      const unknown = 'aaaaaaaaaaaaaaaaaaaaaaaa';
      for (const [method, path] of [['GET', `/assets/${unknown}`], ['DELETE', `/assets/${unknown}`], ['GET', `/assets/${unknown}/indexed-assets`]] as const) {
        const res = await callApi(s, method, path);
        expect([path, res.status, res.body.code]).toEqual([path, 404, 'resource_not_exist']);
      }
      s.variants.set({ notFoundStatus: 400 });
      expect((await callApi(s, 'GET', `/assets/${unknown}`)).status).toBe(400);
    });

    it('deletes an unreferenced asset (204); refuses with 409 asset_in_use while indexed assets reference it, unless force=true', async () => {
      const s = await start();
      const index = s.createIndex();
      const lone = await s.waitForAsset((await byUrl(s, 'library/song.mp3')).body._id);
      expect((await callApi(s, 'DELETE', `/assets/${lone.id}`)).status).toBe(204);
      expect(s.asset(lone.id)).toBeUndefined();
      expect((await callApi(s, 'GET', `/assets/${lone.id}`)).status).toBe(404);

      const used = await s.waitForAsset((await byUrl(s, 'library/clip one.mp4')).body._id);
      const indexed = await callApi(s, 'POST', `/indexes/${index.id}/indexed-assets`, { json: { asset_id: used.id } });
      expect(indexed.status).toBe(202);
      const refused = await callApi(s, 'DELETE', `/assets/${used.id}`);
      expect(refused.status).toBe(409);
      expect(refused.body.code).toBe('asset_in_use');
      expect(refused.body.message).toContain(indexed.body._id);
      expect((await callApi(s, 'DELETE', `/assets/${used.id}`, { query: { force: 'false' } })).status).toBe(409);
      expect((await callApi(s, 'DELETE', `/assets/${used.id}`, { query: { force: 'maybe' } })).body.code).toBe('parameter_invalid');
      expect((await callApi(s, 'DELETE', `/assets/${used.id}`, { query: { force: 'true' } })).status).toBe(204);
      expect(s.asset(used.id)).toBeUndefined();
      // The index keeps what it indexed.
      await s.waitForIndexedAsset(indexed.body._id);
      expect(s.videos(index.id).map((v) => v.id)).toEqual([indexed.body._id]);
    });

    it('deletes an asset once its indexed asset was deleted', async () => {
      const s = await start();
      const index = s.createIndex();
      const asset = await s.waitForAsset((await byUrl(s, 'library/clip one.mp4')).body._id);
      const indexed = await callApi(s, 'POST', `/indexes/${index.id}/indexed-assets`, { json: { asset_id: asset.id } });
      expect((await callApi(s, 'DELETE', `/indexes/${index.id}/indexed-assets/${indexed.body._id}`)).status).toBe(204);
      expect((await callApi(s, 'DELETE', `/assets/${asset.id}`)).status).toBe(204);
    });
  });

  it('GET /assets/{id}/indexed-assets lists the asset\'s indexed assets across indexes, newest first, with index id and name', async () => {
    const s = await start({ clock: { startAt: T0 } });
    const first = s.createIndex({ name: 'first' });
    const second = s.createIndex({ name: 'second' });
    const asset = await s.waitForAsset((await byUrl(s, 'library/clip one.mp4')).body._id);
    const other = await s.waitForAsset((await byUrl(s, 'library/song.mp3')).body._id);
    const ids: string[] = [];
    for (const index of [first, second, first]) {
      ids.push((await callApi(s, 'POST', `/indexes/${index.id}/indexed-assets`, { json: { asset_id: asset.id } })).body._id);
      await s.advance(10);
    }
    await callApi(s, 'POST', `/indexes/${second.id}/indexed-assets`, { json: { asset_id: other.id } });
    const res = await callApi(s, 'GET', `/assets/${asset.id}/indexed-assets`, { query: { page_limit: '2' } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: [
        { _id: ids[2], index: { _id: first.id, name: 'first' } },
        { _id: ids[1], index: { _id: second.id, name: 'second' } },
      ],
      page_info: { limit_per_page: 2, page: 1, total_page: 2, total_results: 3 },
    });
    expect((await callApi(s, 'GET', `/assets/${asset.id}/indexed-assets`, { query: { page_limit: '51' } })).status).toBe(400);
  });

  it('seedAsset adds ready, failed or processing assets without requests or counts', async () => {
    const s = await start({ clock: { startAt: T0 } });
    const index = s.createIndex();
    const ready = s.seedAsset({ filename: 'old clip.mp4', size: 3 * GB, duration: 30, sourceUrl: 'https://bucket.example/lib/old%20clip.mp4', userMetadata: { k: 'v' } });
    const failed = s.seedAsset({ filename: 'broken.mp4', size: 1, status: 'failed' });
    const processing = s.seedAsset({ filename: 'later.mov', size: 1, status: 'processing', createdAt: T0 - 1000 });
    expect(ready).toMatchObject({ method: 'url', status: 'ready', sourcePath: '/lib/old clip.mp4', meta: { size: 3 * GB, duration: 30, width: 1280 } });
    expect(failed).toMatchObject({ method: 'direct', status: 'failed', failure: { code: 'video_file_broken' } });
    const listed = await callApi(s, 'GET', '/assets');
    expect(listed.body.data.map((a: { _id: string }) => a._id)).toEqual([failed.id, ready.id, processing.id]);
    expect(listed.body.data[1]).toMatchObject({ user_metadata: { k: 'v' }, size: 3 * GB, duration: 30 });
    expect(s.counts()).toMatchObject({ assetsCreated: 0, requests: 1 });
    const indexed = await callApi(s, 'POST', `/indexes/${index.id}/indexed-assets`, { json: { asset_id: ready.id } });
    expect((await s.waitForIndexedAsset(indexed.body._id)).status).toBe('ready');
    expect((await callApi(s, 'POST', `/indexes/${index.id}/indexed-assets`, { json: { asset_id: processing.id } })).body.code).toBe('asset_not_ready');
  });
});
