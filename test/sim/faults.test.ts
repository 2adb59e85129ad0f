import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { callApi, fakeMp4, startMediaServer } from './fixtures.js';
import type { MediaServer } from './fixtures.js';
import { startSimulator } from './index.js';
import type { SimIndex, Simulator } from './index.js';

const NOON = Date.parse('2025-01-01T12:00:00Z');

describe('fault switches', () => {
  let media: MediaServer;
  let sim: Simulator;
  let index: SimIndex;

  beforeAll(async () => {
    media = await startMediaServer();
    for (const name of ['a.mp4', 'b.mp4', 'c.mp4', 'd.mp4']) media.put(name, { bytes: fakeMp4() });
  });
  afterAll(() => media.close());
  beforeEach(async () => {
    sim = await startSimulator({ clock: { startAt: NOON } });
    index = sim.createIndex();
  });
  afterEach(() => sim.close());

  const post = (name: string, signal?: AbortSignal): ReturnType<typeof callApi> =>
    callApi(sim, 'POST', '/tasks', { form: { index_id: index.id, video_url: media.url(name) }, ...(signal ? { signal } : {}) });
  const statusOf = async (promise: Promise<{ status: number }>): Promise<number | string> => {
    try {
      return (await promise).status;
    } catch (error) {
      return (error as { cause?: { code?: string } }).cause?.code ?? 'network-error';
    }
  };

  it('latency delays the selected routes only', async () => {
    sim.faults.set({ latency: { ms: 300, routes: ['GET /tasks'] } });
    await callApi(sim, 'GET', '/tasks');
    await callApi(sim, 'GET', `/indexes/${index.id}`);
    const [delayed, direct] = sim.requests;
    expect(delayed?.durationMs).toBeGreaterThanOrEqual(295);
    expect(direct?.durationMs).toBeLessThan(300);
    sim.faults.set({ latency: { ms: { min: 50, max: 80 } } });
    await callApi(sim, 'GET', `/indexes/${index.id}`);
    expect(sim.requests[2]?.durationMs).toBeGreaterThanOrEqual(45);
  });

  describe('rateLimit', () => {
    it('sends X-Ratelimit-* on every response and 429 too_many_requests over the limit, until the window resets', async () => {
      sim.faults.set({ rateLimit: { limit: 2, windowMs: 60_000 } });
      const first = await callApi(sim, 'GET', '/tasks');
      expect(first.headers.get('x-ratelimit-limit')).toBe('2');
      expect(first.headers.get('x-ratelimit-remaining')).toBe('1');
      expect(first.headers.get('x-ratelimit-used')).toBe('1');
      expect(first.headers.get('x-ratelimit-reset')).toBe(String((NOON + 60_000) / 1000));
      const invalid = await callApi(sim, 'GET', '/tasks', { query: { page_limit: '99' } });
      expect(invalid.status).toBe(400);
      expect(invalid.headers.get('x-ratelimit-remaining')).toBe('0');
      const refused = await post('a.mp4');
      expect(refused.status).toBe(429);
      expect(refused.body).toEqual({
        code: 'too_many_requests',
        message: `You have exceeded the rate limit (2). Please try again later after ${new Date(NOON + 60_000).toISOString()}.`,
      });
      expect(refused.headers.get('x-ratelimit-remaining')).toBe('0');
      expect(refused.headers.get('retry-after')).toBeNull();
      expect(sim.tasks()).toHaveLength(0);
      expect(sim.counts().rateLimited).toBe(1);
      await sim.advance(60_000);
      expect((await post('a.mp4')).status).toBe(200);
    });

    it('adds Retry-After only when asked, and omits the headers when told to', async () => {
      sim.faults.set({ rateLimit: { limit: 0, windowMs: 10_000, retryAfter: true, headers: false } });
      await sim.advance(2500);
      const refused = await callApi(sim, 'GET', '/tasks');
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toBe('8');
      expect(refused.headers.get('x-ratelimit-limit')).toBeNull();
    });

    it('limits only the selected routes', async () => {
      sim.faults.set({ rateLimit: { limit: 0, windowMs: 1000, routes: ['POST /tasks'] } });
      expect((await callApi(sim, 'GET', '/tasks')).status).toBe(200);
      expect((await post('a.mp4')).status).toBe(429);
    });
  });

  it('dailyQuota answers 429 usage_limit_exceeded for task creation with a reset hours away', async () => {
    sim.faults.set({ dailyQuota: { limit: 1, retryAfter: true } });
    expect((await post('a.mp4')).status).toBe(200);
    const refused = await post('b.mp4');
    expect(refused.status).toBe(429);
    expect(refused.body.code).toBe('usage_limit_exceeded');
    expect(refused.headers.get('x-ratelimit-reset')).toBe(String(Date.parse('2025-01-02T00:00:00Z') / 1000));
    expect(refused.headers.get('retry-after')).toBe(String(12 * 3600));
    expect((await callApi(sim, 'GET', '/tasks')).status).toBe(200);
    await sim.advance(12 * 3600 * 1000);
    expect((await post('b.mp4')).status).toBe(200);
  });

  describe('error5xx', () => {
    const run = async (n: number): Promise<Array<number | string>> => {
      const statuses: Array<number | string> = [];
      for (let i = 0; i < n; i++) statuses.push(await statusOf(callApi(sim, 'GET', `/indexes/${index.id}`)));
      return statuses;
    };

    it('answers a seeded, reproducible share of requests with 5xx, doing no work', async () => {
      sim.faults.set({ seed: 7, error5xx: { rate: 0.5 } });
      const first = await run(40);
      sim.faults.set({ seed: 7 });
      expect(await run(40)).toEqual(first);
      const errors = first.filter((s) => s !== 200);
      expect(errors.length).toBeGreaterThan(8);
      expect(errors.length).toBeLessThan(32);
      expect(new Set(errors)).toEqual(new Set([500, 502, 503, 504]));
      sim.faults.set({ error5xx: { rate: 1, routes: ['POST /tasks'], statuses: [503] } });
      expect(await run(3)).toEqual([200, 200, 200]);
      const refused = await post('a.mp4');
      expect(refused.status).toBe(503);
      expect(refused.body.code).toBe('service_unavailable');
      expect(sim.tasks()).toHaveLength(0);
    });

    it('sends 502/504 as HTML gateway pages', async () => {
      sim.faults.set({ error5xx: { rate: 1, statuses: [502] } });
      const res = await callApi(sim, 'GET', '/tasks');
      expect(res.status).toBe(502);
      expect(res.headers.get('content-type')).toBe('text/html');
      expect(res.body).toContain('502 Bad Gateway');
    });
  });

  describe('postAcceptThenFail', () => {
    it.each(['drop', 'reset'] as const)('%s: the nth create is done but its answer is lost', async (mode) => {
      sim.faults.set({ postAcceptThenFail: { nth: [2], mode } });
      expect(await statusOf(post('a.mp4'))).toBe(200);
      const lost = await statusOf(post('b.mp4'));
      expect(lost).not.toBe(200);
      expect(typeof lost).toBe('string');
      if (mode === 'reset') expect(lost).toBe('ECONNRESET');
      expect(await statusOf(post('c.mp4'))).toBe(200);
      expect(sim.tasks().map((t) => t.filename).sort()).toEqual(['a.mp4', 'b.mp4', 'c.mp4']);
      expect(sim.counts().tasksBySourcePath.get('/b.mp4')).toBe(1);
      expect(sim.requests.find((r) => r.fault === 'postAcceptThenFail')?.outcome).toBe(mode === 'drop' ? 'dropped' : 'reset');
    });

    it('500: the task exists although the client saw a server error; a blind retry duplicates it', async () => {
      sim.faults.set({ postAcceptThenFail: { rate: 1, mode: '500' } });
      const res = await post('a.mp4');
      expect(res.status).toBe(500);
      expect(sim.tasks()).toHaveLength(1);
      await post('a.mp4');
      expect(sim.duplicates()).toEqual(new Map([['/a.mp4', 2]]));
    });
  });

  it('slowResponse answers after the client gave up, but POST /tasks still created the task', async () => {
    sim.faults.set({ slowResponse: { ms: 400, routes: ['POST /tasks'] } });
    await expect(post('a.mp4', AbortSignal.timeout(100))).rejects.toThrow();
    expect(sim.tasks()).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 450));
    expect(sim.requests[0]).toMatchObject({ route: 'POST /tasks', status: 200, outcome: 'client-gone', fault: 'slowResponse' });
    expect((await callApi(sim, 'GET', '/tasks')).status).toBe(200);
  });

  it('taskVisibilityLagMs hides a new task from GET /tasks listings (not from GET /tasks/{id}) for a while', async () => {
    sim.faults.set({ taskVisibilityLagMs: 5000 });
    const created = await post('a.mp4');
    expect((await callApi(sim, 'GET', '/tasks')).body.data).toEqual([]);
    expect((await callApi(sim, 'GET', `/tasks/${created.body._id}`)).status).toBe(200);
    await sim.advance(5000);
    expect((await callApi(sim, 'GET', '/tasks')).body.data).toHaveLength(1);
  });

  it('wrongKey refuses even the right key with 401 api_key_invalid', async () => {
    expect((await callApi(sim, 'GET', '/tasks')).status).toBe(200);
    sim.faults.set({ wrongKey: true });
    const res = await callApi(sim, 'GET', '/tasks');
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('api_key_invalid');
    sim.faults.reset();
    expect((await callApi(sim, 'GET', '/tasks')).status).toBe(200);
  });

  it('counts requests by route and status', async () => {
    sim.faults.set({ rateLimit: { limit: 1, windowMs: 60_000 } });
    await post('a.mp4');
    await callApi(sim, 'GET', '/tasks');
    await callApi(sim, 'GET', '/tasks', { key: null });
    const counts = sim.counts();
    expect(counts).toMatchObject({ requests: 3, tasksCreated: 1, rateLimited: 1, unauthorized: 1 });
    expect(counts.byRoute).toEqual({ 'POST /tasks': 1, 'GET /tasks': 2 });
    expect(counts.byStatus).toEqual({ 200: 1, 429: 1, 401: 1 });
    sim.clearRequests();
    expect(sim.counts()).toMatchObject({ requests: 0, tasksCreated: 0 });
  });
});
