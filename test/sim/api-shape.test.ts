import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { callApi } from './fixtures.js';
import { startSimulator } from './index.js';
import type { SimIndex, Simulator } from './index.js';

const T0 = Date.parse('2025-05-05T05:05:05Z');

describe('wire shapes, auth and API variants', () => {
  let sim: Simulator;
  let index: SimIndex;

  beforeEach(async () => {
    sim = await startSimulator({ clock: { startAt: T0 }, fetchVideo: false, lifecycle: { validatingMs: 0, pendingMs: 0, queuedMs: 0, indexingMs: 0 } });
    index = sim.createIndex({ name: 'library', expiresAt: T0 + 90 * 86_400_000 });
  });
  afterEach(() => sim.close());

  it('listens on loopback under /v1.3 with a tlk_ key', () => {
    expect(sim.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1\.3$/);
    expect(sim.apiKey).toMatch(/^tlk_[0-9a-f]{32}$/);
    expect(index.id).toMatch(/^[0-9a-f]{24}$/);
  });

  it.each([
    ['no key', null],
    ['a wrong key', 'tlk_wrong'],
  ])('answers 401 api_key_invalid for %s, on every route', async (_name, key) => {
    for (const path of ['/tasks', `/indexes/${index.id}`, '/nowhere']) {
      const res = await callApi(sim, 'GET', path, { key });
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('api_key_invalid');
    }
  });

  it('describes an index', async () => {
    sim.seedVideo(index.id, { filename: 'a.mp4', size: 1, duration: 30 });
    sim.seedVideo(index.id, { filename: 'b.mp4', size: 1, duration: 12.5 });
    const res = await callApi(sim, 'GET', `/indexes/${index.id}`);
    expect(res.body).toEqual({
      _id: index.id,
      index_name: 'library',
      models: [
        { model_name: 'marengo3.0', model_options: ['visual', 'audio'] },
        { model_name: 'pegasus1.2', model_options: ['visual', 'audio'] },
      ],
      video_count: 2,
      total_duration: 42.5,
      created_at: '2025-05-05T05:05:05.000Z',
      updated_at: '2025-05-05T05:05:05.000Z',
      expires_at: '2025-08-03T05:05:05.000Z',
    });
  });

  it('answers 404 resource_not_exist for unknown ids, or 400 with the notFoundStatus variant', async () => {
    const unknown = 'aaaaaaaaaaaaaaaaaaaaaaaa';
    for (const path of [`/indexes/${unknown}`, `/indexes/${unknown}/videos`, `/indexes/${index.id}/videos/${unknown}`, `/tasks/${unknown}`]) {
      const res = await callApi(sim, 'GET', path);
      expect([path, res.status, res.body.code]).toEqual([path, 404, 'resource_not_exist']);
    }
    sim.variants.set({ notFoundStatus: 400 });
    expect((await callApi(sim, 'GET', `/indexes/${unknown}`)).status).toBe(400);
    sim.variants.reset();
    expect((await callApi(sim, 'GET', `/indexes/${unknown}`)).status).toBe(404);
  });

  it('switches the error body shape: flat, flat with docs_url, nested', async () => {
    const path = '/tasks/aaaaaaaaaaaaaaaaaaaaaaaa';
    expect(Object.keys((await callApi(sim, 'GET', path)).body).sort()).toEqual(['code', 'message']);
    sim.variants.set({ errorDocsUrl: true });
    expect((await callApi(sim, 'GET', path)).body.docs_url).toMatch(/^https:\/\//);
    sim.variants.set({ errorShape: 'nested' });
    const nested = (await callApi(sim, 'GET', path)).body;
    expect(nested).toEqual({ error: { code: 'resource_not_exist', message: expect.any(String), details: {} } });
  });

  it('switches success statuses: 201 for create, 200 for delete and update', async () => {
    sim.variants.set({ createTaskStatus: 201, deleteStatus: 200, updateVideoStatus: 200 });
    const created = await callApi(sim, 'POST', '/tasks', { form: { index_id: index.id, video_url: 'https://bucket.example/x.mp4' } });
    expect(created.status).toBe(201);
    await sim.waitForTask(created.body._id);
    const updated = await callApi(sim, 'PATCH', `/indexes/${index.id}/videos/${created.body.video_id}`, { json: { user_metadata: { a: 1 } } });
    expect(updated.status).toBe(200);
    expect(updated.body.user_metadata).toEqual({ a: 1 });
    expect((await callApi(sim, 'DELETE', `/indexes/${index.id}/videos/${created.body.video_id}`)).status).toBe(200);
    expect((await callApi(sim, 'DELETE', `/tasks/${created.body._id}`)).status).toBe(200);
  });

  it('answers 404 for an endpoint it does not know', async () => {
    const res = await callApi(sim, 'POST', '/assets/bulk-uploads', { json: {} });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('resource_not_exist');
  });

  it('records method, path, query, status and time of every request', async () => {
    await callApi(sim, 'GET', '/tasks', { query: 'status=ready&status=failed&page=2' });
    expect(sim.requests).toEqual([expect.objectContaining({
      method: 'GET',
      path: '/v1.3/tasks',
      route: 'GET /tasks',
      query: { status: ['ready', 'failed'], page: '2' },
      status: 200,
      outcome: 'answered',
      at: T0,
    })]);
  });
});
