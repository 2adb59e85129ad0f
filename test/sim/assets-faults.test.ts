import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { callApi, fakeMp4, startMediaServer } from './fixtures.js';
import type { ApiAnswer, MediaServer } from './fixtures.js';
import { startSimulator } from './index.js';
import type { SimIndex, Simulator } from './index.js';

const NOON = Date.parse('2025-01-01T12:00:00Z');

/** The fault switches on the newer upload path: POST /assets, then POST /indexes/{id}/indexed-assets. */
describe('fault switches on the asset routes', () => {
  let media: MediaServer;
  let sim: Simulator;
  let index: SimIndex;

  beforeAll(async () => {
    media = await startMediaServer();
    for (const name of ['a.mp4', 'b.mp4', 'c.mp4', 'd.mp4']) media.put(name, { bytes: fakeMp4() });
  });
  afterAll(() => media.close());
  beforeEach(async () => {
    sim = await startSimulator({ clock: { startAt: NOON }, lifecycle: { pendingMs: 0, queuedMs: 0, indexingMs: 0, assetProcessingMs: 0 } });
    index = sim.createIndex();
  });
  afterEach(() => sim.close());

  const postAsset = (name: string, signal?: AbortSignal): Promise<ApiAnswer> =>
    callApi(sim, 'POST', '/assets', { form: { method: 'url', url: media.url(name) }, ...(signal ? { signal } : {}) });
  const postIndexed = (assetId: string): Promise<ApiAnswer> =>
    callApi(sim, 'POST', `/indexes/${index.id}/indexed-assets`, { json: { asset_id: assetId } });
  const postTask = (name: string): Promise<ApiAnswer> =>
    callApi(sim, 'POST', '/tasks', { form: { index_id: index.id, video_url: media.url(name) } });
  /** Creates ready assets with every switch off, then restores the switches. */
  const readyAssets = async (...names: string[]): Promise<string[]> => {
    const saved = { ...sim.faults.current };
    sim.faults.reset();
    const ids: string[] = [];
    for (const name of names) ids.push((await sim.waitForAsset((await postAsset(name)).body._id)).id);
    sim.faults.set(saved);
    sim.clearRequests();
    return ids;
  };
  const statusOf = async (promise: Promise<{ status: number }>): Promise<number | string> => {
    try {
      return (await promise).status;
    } catch (error) {
      return (error as { cause?: { code?: string } }).cause?.code ?? 'network-error';
    }
  };

  describe('postAcceptThenFail', () => {
    it('targets only POST /tasks by default', async () => {
      sim.faults.set({ postAcceptThenFail: { rate: 1, mode: '500' } });
      expect((await postAsset('a.mp4')).status).toBe(201);
      const [assetId] = await readyAssets('b.mp4');
      expect((await postIndexed(assetId ?? '')).status).toBe(202);
      expect((await postTask('a.mp4')).status).toBe(500);
    });

    it.each(['drop', 'reset'] as const)('%s on POST /assets: the nth asset is created but its answer is lost', async (mode) => {
      sim.faults.set({ postAcceptThenFail: { nth: [2], mode, routes: ['POST /assets'] } });
      expect(await statusOf(postAsset('a.mp4'))).toBe(201);
      const lost = await statusOf(postAsset('b.mp4'));
      expect(typeof lost).toBe('string');
      if (mode === 'reset') expect(lost).toBe('ECONNRESET');
      expect(await statusOf(postAsset('c.mp4'))).toBe(201);
      expect(sim.assets().map((a) => a.filename).sort()).toEqual(['a.mp4', 'b.mp4', 'c.mp4']);
      expect(sim.counts().assetsBySourcePath.get('/b.mp4')).toBe(1);
      expect(sim.requests.find((r) => r.fault === 'postAcceptThenFail')).toMatchObject({ route: 'POST /assets', outcome: mode === 'drop' ? 'dropped' : 'reset' });
    });

    it('500 on POST /assets: the asset exists; a blind retry duplicates it, and duplicates() says so', async () => {
      sim.faults.set({ postAcceptThenFail: { rate: 1, mode: '500', routes: ['POST /assets'] } });
      expect((await postAsset('a.mp4')).status).toBe(500);
      expect(sim.assets()).toHaveLength(1);
      await postAsset('a.mp4');
      expect(sim.counts().assetsBySourcePath.get('/a.mp4')).toBe(2);
      expect(sim.assetDuplicates().sources).toEqual(new Map([['/a.mp4', 2]]));
      expect(sim.duplicates()).toEqual(new Map([['asset:/a.mp4', 2]]));
    });

    it('500 on POST /indexes/{id}/indexed-assets: indexing started anyway; a blind retry indexes the asset twice', async () => {
      const [assetId = ''] = await readyAssets('a.mp4');
      sim.faults.set({ postAcceptThenFail: { rate: 1, mode: '500', routes: ['POST /indexes/{index_id}/indexed-assets'] } });
      const res = await postIndexed(assetId);
      expect(res.status).toBe(500);
      expect(res.body.code).toBe('internal_server_error');
      expect(sim.indexedAssets(index.id)).toHaveLength(1);
      await postIndexed(assetId);
      expect(sim.counts().indexedAssetsByAsset.get(assetId)).toBe(2);
      expect(sim.assetDuplicates().indexings).toEqual(new Map([[`${index.id}/${assetId}`, 2]]));
      expect(sim.duplicates()).toEqual(new Map([[`indexed:${index.id}/${assetId}`, 2]]));
      // The same asset in another index is no duplicate.
      sim.faults.reset();
      const other = sim.createIndex();
      await callApi(sim, 'POST', `/indexes/${other.id}/indexed-assets`, { json: { asset_id: assetId } });
      expect(sim.assetDuplicates().indexings.size).toBe(1);
    });

    it('counts nth per route when it targets several', async () => {
      const [a = '', b = ''] = await readyAssets('a.mp4', 'b.mp4');
      sim.faults.set({ postAcceptThenFail: { nth: [2], mode: 'drop', routes: ['POST /tasks', 'POST /assets', 'POST /indexes/{index_id}/indexed-assets'] } });
      expect(await statusOf(postIndexed(a))).toBe(202);
      expect(await statusOf(postAsset('c.mp4'))).toBe(201);
      expect(await statusOf(postTask('a.mp4'))).toBe(200);
      expect(typeof (await statusOf(postIndexed(b)))).toBe('string');
      expect(typeof (await statusOf(postAsset('d.mp4')))).toBe('string');
      expect(typeof (await statusOf(postTask('b.mp4')))).toBe('string');
      expect(sim.requests.filter((r) => r.fault === 'postAcceptThenFail').map((r) => r.route)).toEqual([
        'POST /indexes/{index_id}/indexed-assets', 'POST /assets', 'POST /tasks',
      ]);
    });

    it('never loses the answer of a refused create', async () => {
      sim.faults.set({ postAcceptThenFail: { rate: 1, mode: 'drop', routes: ['POST /assets', 'POST /indexes/{index_id}/indexed-assets'] } });
      expect((await callApi(sim, 'POST', '/assets', { form: { method: 'url' } })).status).toBe(400);
      expect((await postIndexed('aaaaaaaaaaaaaaaaaaaaaaaa')).status).toBe(404);
    });
  });

  describe('error5xx', () => {
    it('answers the new routes with 5xx before doing any work', async () => {
      const [assetId = ''] = await readyAssets('a.mp4');
      sim.faults.set({ error5xx: { rate: 1, statuses: [503], routes: ['POST /assets', 'POST /indexes/{index_id}/indexed-assets', 'GET /assets/{asset_id}'] } });
      const refused = await postAsset('b.mp4');
      expect(refused.status).toBe(503);
      expect(refused.body.code).toBe('service_unavailable');
      expect((await postIndexed(assetId)).status).toBe(503);
      expect((await callApi(sim, 'GET', `/assets/${assetId}`)).status).toBe(503);
      expect((await callApi(sim, 'GET', '/assets')).status).toBe(200);
      expect(sim.assets()).toHaveLength(1);
      expect(sim.indexedAssets()).toHaveLength(0);
      expect(sim.counts()).toMatchObject({ assetsCreated: 0, indexedAssetsCreated: 0, serverErrors: 3 });
    });

    it('applies to every route when no routes are given (502 as an HTML page)', async () => {
      sim.faults.set({ error5xx: { rate: 1, statuses: [502] } });
      for (const path of ['/assets', `/indexes/${index.id}/indexed-assets`]) {
        const res = await callApi(sim, 'GET', path);
        expect(res.status).toBe(502);
        expect(res.headers.get('content-type')).toBe('text/html');
      }
    });
  });

  describe('rateLimit', () => {
    it('POST /indexes/{id}/indexed-assets shares the POST /tasks bucket by default', async () => {
      const [a = '', b = ''] = await readyAssets('a.mp4', 'b.mp4');
      sim.faults.set({ rateLimit: { limit: 2, windowMs: 60_000, routes: ['POST /tasks'] } });
      expect((await postTask('a.mp4')).status).toBe(200);
      const second = await postIndexed(a);
      expect(second.status).toBe(202);
      expect(second.headers.get('x-ratelimit-remaining')).toBe('0');
      const refused = await postIndexed(b);
      expect(refused.status).toBe(429);
      expect(refused.body.code).toBe('too_many_requests');
      expect((await postTask('b.mp4')).status).toBe(429);
      expect((await postAsset('c.mp4')).status).toBe(201);
      expect(sim.indexedAssets()).toHaveLength(1);
      await sim.advance(60_000);
      expect((await postIndexed(b)).status).toBe(202);
    });

    it('limits only the named routes with shareTaskBucket: false', async () => {
      const [a = ''] = await readyAssets('a.mp4');
      sim.faults.set({ rateLimit: { limit: 0, windowMs: 60_000, routes: ['POST /tasks'], shareTaskBucket: false } });
      expect((await postTask('a.mp4')).status).toBe(429);
      expect((await postIndexed(a)).status).toBe(202);
    });

    it('limits POST /assets when named', async () => {
      sim.faults.set({ rateLimit: { limit: 1, windowMs: 1000, routes: ['POST /assets'] } });
      expect((await postAsset('a.mp4')).status).toBe(201);
      expect((await postAsset('b.mp4')).status).toBe(429);
      expect((await postTask('a.mp4')).status).toBe(200);
      expect(sim.counts().rateLimited).toBe(1);
    });
  });

  it('dailyQuota counts indexed-asset creation with task creation by default', async () => {
    const [a = '', b = ''] = await readyAssets('a.mp4', 'b.mp4');
    sim.faults.set({ dailyQuota: { limit: 2 } });
    expect((await postIndexed(a)).status).toBe(202);
    expect((await postTask('a.mp4')).status).toBe(200);
    const refused = await postIndexed(b);
    expect(refused.status).toBe(429);
    expect(refused.body.code).toBe('usage_limit_exceeded');
    expect((await postAsset('c.mp4')).status).toBe(201);
    await sim.advance(12 * 3600 * 1000);
    expect((await postIndexed(b)).status).toBe(202);
  });

  describe('visibility lag', () => {
    it('taskVisibilityLagMs hides new assets and indexed assets from listings (not from GET by id)', async () => {
      sim.faults.set({ taskVisibilityLagMs: 5000 });
      const asset = await postAsset('a.mp4');
      await sim.waitForAsset(asset.body._id);
      expect((await callApi(sim, 'GET', '/assets')).body.data).toEqual([]);
      expect((await callApi(sim, 'GET', `/assets/${asset.body._id}`)).body.status).toBe('ready');
      await sim.advance(5000);
      expect((await callApi(sim, 'GET', '/assets')).body.data).toHaveLength(1);

      const indexed = await postIndexed(asset.body._id);
      expect((await callApi(sim, 'GET', `/indexes/${index.id}/indexed-assets`)).body.data).toEqual([]);
      expect((await callApi(sim, 'GET', `/assets/${asset.body._id}/indexed-assets`)).body.data).toEqual([]);
      expect((await callApi(sim, 'GET', `/indexes/${index.id}/indexed-assets/${indexed.body._id}`)).status).toBe(200);
      await sim.advance(4999);
      expect((await callApi(sim, 'GET', `/indexes/${index.id}/indexed-assets`)).body.data).toEqual([]);
      await sim.advance(1);
      expect((await callApi(sim, 'GET', `/indexes/${index.id}/indexed-assets`)).body.data).toHaveLength(1);
      expect((await callApi(sim, 'GET', `/assets/${asset.body._id}/indexed-assets`)).body.data).toHaveLength(1);
    });

    it('assetVisibilityLagMs and indexedAssetVisibilityLagMs override it separately', async () => {
      sim.faults.set({ taskVisibilityLagMs: 5000, assetVisibilityLagMs: 0, indexedAssetVisibilityLagMs: 10_000 });
      const asset = await postAsset('a.mp4');
      await sim.waitForAsset(asset.body._id);
      expect((await callApi(sim, 'GET', '/assets')).body.data).toHaveLength(1);
      await postIndexed(asset.body._id);
      await sim.advance(5000);
      expect((await callApi(sim, 'GET', `/indexes/${index.id}/indexed-assets`)).body.data).toEqual([]);
      await sim.advance(5000);
      expect((await callApi(sim, 'GET', `/indexes/${index.id}/indexed-assets`)).body.data).toHaveLength(1);
    });
  });

  it('latency and slowResponse select the new routes; POST /assets still creates the asset when the client gave up', async () => {
    sim.faults.set({ latency: { ms: 200, routes: ['GET /assets'] } });
    await callApi(sim, 'GET', '/assets');
    await callApi(sim, 'GET', `/indexes/${index.id}/indexed-assets`);
    expect(sim.requests[0]?.durationMs).toBeGreaterThanOrEqual(195);
    expect(sim.requests[1]?.durationMs).toBeLessThan(200);
    sim.faults.set({ latency: undefined, slowResponse: { ms: 400, routes: ['POST /assets'] } });
    await expect(postAsset('a.mp4', AbortSignal.timeout(100))).rejects.toThrow();
    expect(sim.assets()).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 450));
    expect(sim.requests[2]).toMatchObject({ route: 'POST /assets', status: 201, outcome: 'client-gone', fault: 'slowResponse' });
  });

  it('wrongKey refuses the new routes with 401', async () => {
    sim.faults.set({ wrongKey: true });
    for (const path of ['/assets', `/indexes/${index.id}/indexed-assets`]) {
      const res = await callApi(sim, 'GET', path);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('api_key_invalid');
    }
    expect((await postAsset('a.mp4')).status).toBe(401);
    expect(sim.assets()).toHaveLength(0);
  });

  it('counts requests by the new route ids, and clearRequests() resets the asset tallies', async () => {
    const [a = ''] = await readyAssets('a.mp4');
    await postIndexed(a);
    await callApi(sim, 'GET', `/assets/${a}`);
    await callApi(sim, 'GET', `/assets/${a}/indexed-assets`);
    await callApi(sim, 'GET', `/indexes/${index.id}/indexed-assets`);
    const counts = sim.counts();
    expect(counts.byRoute).toEqual({
      'POST /indexes/{index_id}/indexed-assets': 1,
      'GET /assets/{asset_id}': 1,
      'GET /assets/{asset_id}/indexed-assets': 1,
      'GET /indexes/{index_id}/indexed-assets': 1,
    });
    expect(counts).toMatchObject({ indexedAssetsCreated: 1, indexedAssetsByAsset: new Map([[a, 1]]) });
    sim.clearRequests();
    expect(sim.counts()).toMatchObject({ requests: 0, assetsCreated: 0, indexedAssetsCreated: 0, assetsBySourcePath: new Map(), indexedAssetsByAsset: new Map() });
  });
});
