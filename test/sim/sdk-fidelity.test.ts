import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TwelveLabs, TwelvelabsApi, TwelvelabsApiClient, TwelvelabsApiError } from 'twelvelabs-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeMp4, startMediaServer } from './fixtures.js';
import type { MediaServer } from './fixtures.js';
import { startSimulator } from './index.js';
import type { SimIndex, Simulator } from './index.js';

/**
 * The official SDK parses every response with its serialization layer and throws on a shape it
 * cannot read; these calls pass only if the simulator's wire format is one the SDK accepts.
 */
describe('the official twelvelabs-js SDK against the simulator', () => {
  let media: MediaServer;
  let sim: Simulator;
  let index: SimIndex;
  let client: TwelveLabs;
  let dir: string;

  beforeAll(async () => {
    media = await startMediaServer();
    for (let i = 0; i < 5; i++) media.put(`library/clip ${i}.mp4`, { bytes: fakeMp4() });
    sim = await startSimulator({ lifecycle: { validatingMs: 1, pendingMs: 1, queuedMs: 1, indexingMs: 1 } });
    index = sim.createIndex({ name: 'sdk' });
    // TwelveLabs 1.3.4 takes only { apiKey }: its base URL comes from TWELVELABS_BASE_URL at construction.
    const saved = process.env.TWELVELABS_BASE_URL;
    process.env.TWELVELABS_BASE_URL = sim.url;
    client = new TwelveLabs({ apiKey: sim.apiKey });
    if (saved === undefined) delete process.env.TWELVELABS_BASE_URL;
    else process.env.TWELVELABS_BASE_URL = saved;
    dir = await mkdtemp(join(tmpdir(), 'tlsim-sdk-'));
  });
  afterAll(async () => {
    await sim.close();
    await media.close();
    await rm(dir, { recursive: true, force: true });
  });

  const createdTasks: Array<{ id: string; videoId: string }> = [];

  it('tasks.create by URL, with user metadata and without streaming', async () => {
    for (let i = 0; i < 5; i++) {
      const created = await client.tasks.create({
        indexId: index.id,
        videoUrl: media.url(`library/clip ${i}.mp4`),
        enableVideoStream: i % 2 === 0,
        userMetadata: JSON.stringify({ tlm_source: `s3://bucket/library/clip ${i}.mp4`, tlm_size: 4096, batch: i % 2 }),
      });
      expect(created.id).toMatch(/^[0-9a-f]{24}$/);
      expect(created.videoId).toMatch(/^[0-9a-f]{24}$/);
      createdTasks.push({ id: created.id ?? '', videoId: created.videoId ?? '' });
    }
    expect(sim.requests.find((r) => r.route === 'POST /tasks')?.body).toEqual({
      index_id: index.id,
      video_url: media.url('library/clip 0.mp4'),
      enable_video_stream: 'true',
      user_metadata: JSON.stringify({ tlm_source: 's3://bucket/library/clip 0.mp4', tlm_size: 4096, batch: 0 }),
    });
    expect(sim.counts().tasksBySourcePath.get('/library/clip 3.mp4')).toBe(1);
    await Promise.all(createdTasks.map((t) => sim.waitForTask(t.id)));
  });

  it('tasks.create with a video file (ReadStream and Blob)', async () => {
    const file = join(dir, 'local clip.mp4');
    await writeFile(file, fakeMp4(2048));
    const fromStream = await client.tasks.create({ indexId: index.id, videoFile: createReadStream(file) });
    const fromBlob = await client.tasks.create({ indexId: index.id, videoFile: new File([fakeMp4(1024)], 'blob.mp4') });
    expect((await sim.waitForTask(fromStream.id ?? '')).meta).toMatchObject({ filename: 'local clip.mp4', size: 2048 });
    expect((await sim.waitForTask(fromBlob.id ?? '')).meta).toMatchObject({ filename: 'blob.mp4', size: 1024 });
  });

  it('tasks.retrieve (with hls when streaming) and waitForDone', async () => {
    const [streamed, plain] = createdTasks;
    const task = await client.tasks.retrieve(streamed?.id ?? '');
    expect(task).toMatchObject({ id: streamed?.id, videoId: streamed?.videoId, indexId: index.id, status: 'ready' });
    expect(task.systemMetadata).toEqual({ filename: 'clip 0.mp4', duration: 60, width: 1280, height: 720 });
    expect(task.hls?.status).toBe('COMPLETE');
    expect(Date.parse(task.createdAt ?? '')).not.toBeNaN();
    expect((await client.tasks.retrieve(plain?.id ?? '')).hls).toBeUndefined();
    const done = await client.tasks.waitForDone(plain?.id ?? '', { sleepInterval: 0.01 });
    expect(done.status).toBe('ready');
  });

  it('tasks.list iterates every page (status repeated, page_limit 2)', async () => {
    const seen: string[] = [];
    const pager = await client.tasks.list({ indexId: index.id, pageLimit: 2, status: ['ready', 'failed'], sortOption: 'asc' });
    for await (const task of pager) seen.push(task.id ?? '');
    expect(seen).toHaveLength(7);
    expect(seen.slice(0, 5)).toEqual(createdTasks.map((t) => t.id));
    const listCalls = sim.requests.filter((r) => r.route === 'GET /tasks');
    expect(listCalls.map((r) => r.query.page ?? '1')).toEqual(['1', '2', '3', '4', '5']);
    expect(listCalls[0]?.query.status).toEqual(['ready', 'failed']);
  });

  it('indexes.retrieve', async () => {
    const retrieved = await client.indexes.retrieve(index.id);
    expect(retrieved).toMatchObject({ id: index.id, indexName: 'sdk', videoCount: 7, totalDuration: 420 });
    expect(retrieved.models?.[0]).toEqual({ modelName: 'marengo3.0', modelOptions: ['visual', 'audio'] });
  });

  it('indexes.videos.list iterates pages with range and user-metadata filters (bare keys from the wrapper)', async () => {
    const all: string[] = [];
    for await (const video of await client.indexes.videos.list(index.id, { pageLimit: 3 })) all.push(video.id ?? '');
    expect(all).toHaveLength(7);
    const filtered: TwelvelabsApi.VideoVector[] = [];
    const pager = await client.indexes.videos.list(index.id, { size: { gte: 4096, lte: 4096 }, userMetadata: { batch: 1 } });
    for await (const video of pager) filtered.push(video);
    expect(filtered.map((v) => v.systemMetadata?.filename).sort()).toEqual(['clip 1.mp4', 'clip 3.mp4']);
    expect(sim.requests.filter((r) => r.route === 'GET /indexes/{index_id}/videos').at(-2)?.query).toEqual({ 'size[gte]': '4096', 'size[lte]': '4096', batch: '1' });
  });

  it('the generated client (baseUrl option) sends user_metadata as JSON and size with qs brackets; same answer', async () => {
    const generated = new TwelvelabsApiClient({ apiKey: sim.apiKey, baseUrl: sim.url });
    const filtered: string[] = [];
    const pager = await generated.indexes.videos.list(index.id, { size: { gte: 4096 }, userMetadata: { batch: 1 } });
    for await (const video of pager) filtered.push(video.systemMetadata?.filename ?? '');
    expect(filtered.sort()).toEqual(['clip 1.mp4', 'clip 3.mp4']);
    expect(sim.requests.filter((r) => r.route === 'GET /indexes/{index_id}/videos').at(-2)?.query).toEqual({ 'size[gte]': '4096', user_metadata: '{"batch":1}' });
  });

  it('indexes.videos.retrieve and update', async () => {
    const target = createdTasks[1];
    const video = await client.indexes.videos.retrieve(index.id, target?.videoId ?? '');
    expect(video.userMetadata).toEqual({ tlm_source: 's3://bucket/library/clip 1.mp4', tlm_size: 4096, batch: 1 });
    expect(video.systemMetadata).toMatchObject({ filename: 'clip 1.mp4', duration: 60 });
    await client.indexes.videos.update(index.id, target?.videoId ?? '', { userMetadata: { tlm_run: 'r2', batch: null } });
    const updated = await client.indexes.videos.retrieve(index.id, target?.videoId ?? '');
    expect(updated.userMetadata).toEqual({ tlm_source: 's3://bucket/library/clip 1.mp4', tlm_size: 4096, tlm_run: 'r2' });
  });

  it('tasks.delete: refused (BadRequestError) while the video exists, done after indexes.videos.delete', async () => {
    const target = createdTasks[4];
    const refusal = await client.tasks.delete(target?.id ?? '').then(() => undefined, (error: unknown) => error);
    expect(refusal).toBeInstanceOf(TwelvelabsApi.BadRequestError);
    expect((refusal as TwelvelabsApiError).body).toMatchObject({ code: 'task_cannot_be_deleted' });
    await client.indexes.videos.delete(index.id, target?.videoId ?? '');
    await client.tasks.delete(target?.id ?? '');
    const gone = await client.tasks.retrieve(target?.id ?? '').then(() => undefined, (error: unknown) => error);
    expect(gone).toBeInstanceOf(TwelvelabsApiError);
    expect((gone as TwelvelabsApiError).statusCode).toBe(404);
  });

  it('SDK errors carry the status and the {code, message} body (401, 404, 429)', async () => {
    process.env.TWELVELABS_BASE_URL = sim.url;
    const stranger = new TwelveLabs({ apiKey: 'tlk_not_the_key' });
    delete process.env.TWELVELABS_BASE_URL;
    const unauthorized = await stranger.indexes.retrieve(index.id).then(() => undefined, (error: unknown) => error);
    expect((unauthorized as TwelvelabsApiError).statusCode).toBe(401);
    expect((unauthorized as TwelvelabsApiError).body).toMatchObject({ code: 'api_key_invalid' });

    const missing = await client.indexes.retrieve('aaaaaaaaaaaaaaaaaaaaaaaa').then(() => undefined, (error: unknown) => error);
    expect((missing as TwelvelabsApiError).statusCode).toBe(404);

    sim.faults.set({ rateLimit: { limit: 0, windowMs: 60_000 } });
    try {
      const limited = await client.tasks.list({}, { maxRetries: 0 }).then(() => undefined, (error: unknown) => error);
      expect((limited as TwelvelabsApiError).statusCode).toBe(429);
      expect((limited as TwelvelabsApiError).body).toMatchObject({ code: 'too_many_requests' });
    } finally {
      sim.faults.reset();
    }
  });
});
