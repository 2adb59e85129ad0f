import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { callApi, fakeMp4, startMediaServer } from './fixtures.js';
import type { MediaServer } from './fixtures.js';
import { startSimulator } from './index.js';
import type { Simulator, SimulatorOptions } from './index.js';

const GB = 1024 ** 3;

describe('task lifecycle', () => {
  let media: MediaServer;
  let sim: Simulator | undefined;

  beforeAll(async () => {
    media = await startMediaServer();
    media.put('ok.mp4', { bytes: fakeMp4() });
    media.put('ok.mkv', { bytes: Buffer.concat([Buffer.from([0x1a, 0x45, 0xdf, 0xa3]), Buffer.alloc(100)]) });
    media.put('huge.mp4', { size: 2 * GB + 1, head: fakeMp4(1024) });
    media.put('exactly-2gb.mp4', { size: 2 * GB, head: fakeMp4(1024) });
    media.put('empty.mp4', { bytes: Buffer.alloc(0) });
    media.put('notes.mp4', { bytes: Buffer.from('these are not the bytes of a video') });
    media.put('expired.mp4', { status: 403 });
  });
  afterAll(() => media.close());
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
  });

  async function create(options: SimulatorOptions, path: string, extra: Record<string, string> = {}): Promise<{ sim: Simulator; taskId: string; videoId: string; indexId: string }> {
    sim = await startSimulator(options);
    const index = sim.createIndex();
    const res = await callApi(sim, 'POST', '/tasks', { form: { index_id: index.id, video_url: media.url(path), ...extra } });
    expect(res.status).toBe(200);
    return { sim, taskId: res.body._id, videoId: res.body.video_id, indexId: index.id };
  }

  it('walks validating -> pending -> queued -> indexing -> ready on the manual clock, then the video exists', async () => {
    const { sim, taskId, videoId, indexId } = await create({ clock: 'manual' }, 'ok.mp4', { user_metadata: '{"k":"v"}' });
    const seen: string[] = [];
    const status = async (): Promise<string> => (await callApi(sim, 'GET', `/tasks/${taskId}`)).body.status;
    seen.push(await status());
    for (const ms of [49, 1, 50, 50, 99, 1]) {
      await sim.advance(ms);
      seen.push(await status());
    }
    expect(seen).toEqual(['validating', 'validating', 'pending', 'queued', 'indexing', 'indexing', 'ready']);
    const video = await callApi(sim, 'GET', `/indexes/${indexId}/videos/${videoId}`);
    expect(video.status).toBe(200);
    expect(video.body.system_metadata).toEqual({ filename: 'ok.mp4', duration: 60, fps: 30, width: 1280, height: 720, size: 4096 });
    expect(video.body.user_metadata).toEqual({ k: 'v' });
    expect(media.requests.find((r) => r.path === '/ok.mp4')?.range).toBe('bytes=0-65535');
  });

  it('reaches ready on the real clock too, and lists the video only then', async () => {
    const { sim, taskId, indexId } = await create({ lifecycle: { validatingMs: 5, pendingMs: 5, queuedMs: 5, indexingMs: 5 } }, 'ok.mkv');
    expect((await callApi(sim, 'GET', `/indexes/${indexId}/videos`)).body.data).toHaveLength(0);
    expect((await sim.waitForTask(taskId)).status).toBe('ready');
    expect((await callApi(sim, 'GET', `/indexes/${indexId}/videos`)).body.data).toHaveLength(1);
    expect((await callApi(sim, 'GET', `/indexes/${indexId}`)).body).toMatchObject({ video_count: 1, total_duration: 60 });
  });

  it.each([
    ['a file over 2 GB (size from Content-Range)', 'huge.mp4', 'video_filesize_too_large'],
    ['an empty file', 'empty.mp4', 'video_file_broken'],
    ['bytes without a container signature', 'notes.mp4', 'video_file_broken'],
    ['an expired presigned URL (403)', 'expired.mp4', 'video_file_broken'],
    ['a missing object (404)', 'missing.mp4', 'video_file_broken'],
  ])('fails %s with %s', async (_name, path, code) => {
    const { sim, taskId } = await create({ lifecycle: { validatingMs: 0 } }, path);
    const done = await sim.waitForTask(taskId);
    expect(done.status).toBe('failed');
    expect(done.failure?.code).toBe(code);
    expect(sim.videos(done.indexId)).toHaveLength(0);
  });

  it('accepts exactly 2 GB', async () => {
    const { sim, taskId } = await create({ lifecycle: { validatingMs: 0, pendingMs: 0, queuedMs: 0, indexingMs: 0 } }, 'exactly-2gb.mp4');
    const done = await sim.waitForTask(taskId);
    expect(done.status).toBe('ready');
    expect(done.meta?.size).toBe(2 * GB);
  });

  it.each([
    [{ duration: 3 }, 'video_duration_too_short'],
    [{ duration: 7201 }, 'video_duration_too_long'],
    [{ width: 640, height: 359 }, 'video_resolution_too_low'],
    [{ width: 5185, height: 2160 }, 'video_resolution_too_high'],
    [{ width: 1000, height: 400 }, 'video_resolution_invalid_aspect_ratio'],
  ])('fails a video described as %j with %s (basic mode)', async (described, code) => {
    const { sim, taskId } = await create({ lifecycle: { validatingMs: 0 }, describeVideo: () => described }, 'ok.mp4');
    const done = await sim.waitForTask(taskId);
    expect(done.failure?.code).toBe(code);
    expect(done.failure?.message).toMatch(/Current (duration|resolution) is/);
  });

  it('without fetching, trusts the URL and uses the defaults', async () => {
    const { sim, taskId } = await create({ fetchVideo: false, lifecycle: { validatingMs: 0, pendingMs: 0, queuedMs: 0, indexingMs: 0 }, videoDefaults: { duration: 12 } }, 'never-served.mp4');
    const done = await sim.waitForTask(taskId);
    expect(done.status).toBe('ready');
    expect(done.meta?.duration).toBe(12);
    expect(media.requests.some((r) => r.path === '/never-served.mp4')).toBe(false);
  });

  it('exposes the failure reason on GET /tasks/{id} only through the taskErrorField switch, never in lists', async () => {
    const { sim, taskId } = await create({ lifecycle: { validatingMs: 0 } }, 'notes.mp4');
    await sim.waitForTask(taskId);
    const plain = await callApi(sim, 'GET', `/tasks/${taskId}`);
    expect(plain.body.status).toBe('failed');
    expect(plain.body).not.toHaveProperty('error');
    expect(plain.body).not.toHaveProperty('error_message');
    sim.variants.set({ taskErrorField: 'error' });
    expect((await callApi(sim, 'GET', `/tasks/${taskId}`)).body.error.code).toBe('video_file_broken');
    sim.variants.set({ taskErrorField: 'error_message' });
    expect((await callApi(sim, 'GET', `/tasks/${taskId}`)).body.error_message).toMatch(/^Cannot read video file/);
    const list = await callApi(sim, 'GET', '/tasks');
    expect(list.body.data[0]).not.toHaveProperty('error_message');
  });

  it('includes hls on GET /tasks/{id} only when streaming is enabled', async () => {
    const { sim, taskId } = await create({ lifecycle: { validatingMs: 0, pendingMs: 0, queuedMs: 0, indexingMs: 0 } }, 'ok.mp4', { enable_video_stream: 'false' });
    await sim.waitForTask(taskId);
    expect((await callApi(sim, 'GET', `/tasks/${taskId}`)).body).not.toHaveProperty('hls');
    const index = sim.createIndex();
    const streamed = await callApi(sim, 'POST', '/tasks', { form: { index_id: index.id, video_url: media.url('ok.mp4') } });
    await sim.waitForTask(streamed.body._id);
    const task = await callApi(sim, 'GET', `/tasks/${streamed.body._id}`);
    expect(task.body.hls).toMatchObject({ status: 'COMPLETE', video_url: expect.stringContaining('.m3u8') });
  });

  describe('deleting', () => {
    it('refuses to delete a task before it is ready or failed', async () => {
      const { sim, taskId } = await create({ clock: 'manual' }, 'ok.mp4');
      const res = await callApi(sim, 'DELETE', `/tasks/${taskId}`);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('task_cannot_be_deleted');
    });

    it('deletes a ready task only after its video, then both are gone', async () => {
      const { sim, taskId, videoId, indexId } = await create({ lifecycle: { validatingMs: 0, pendingMs: 0, queuedMs: 0, indexingMs: 0 } }, 'ok.mp4');
      await sim.waitForTask(taskId);
      expect((await callApi(sim, 'DELETE', `/tasks/${taskId}`)).body.code).toBe('task_cannot_be_deleted');
      expect((await callApi(sim, 'DELETE', `/indexes/${indexId}/videos/${videoId}`)).status).toBe(204);
      expect((await callApi(sim, 'DELETE', `/tasks/${taskId}`)).status).toBe(204);
      expect((await callApi(sim, 'GET', `/tasks/${taskId}`)).status).toBe(404);
      expect((await callApi(sim, 'GET', `/indexes/${indexId}/videos/${videoId}`)).status).toBe(404);
    });

    it('deletes a failed task at once', async () => {
      const { sim, taskId } = await create({ lifecycle: { validatingMs: 0 } }, 'expired.mp4');
      await sim.waitForTask(taskId);
      expect((await callApi(sim, 'DELETE', `/tasks/${taskId}`)).status).toBe(204);
      expect(sim.task(taskId)).toBeUndefined();
    });
  });

  it('close() cancels lifecycle timers, releases waiters and answers no more', async () => {
    const { sim: running, taskId } = await create({ lifecycle: { validatingMs: 60_000 } }, 'ok.mp4');
    // The rejection is awaited from the start: close() rejects it before close() itself resolves.
    const waiting = expect(running.waitForTask(taskId, 120_000)).rejects.toThrow(/closed/);
    await running.close();
    await waiting;
    sim = undefined;
    expect(running.task(taskId)?.status).toBe('validating');
    await expect(fetch(`${running.url}/tasks`)).rejects.toThrow();
  });
});
