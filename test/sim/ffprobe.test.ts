import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callApi, hasBinary, makeVideo, startMediaServer } from './fixtures.js';
import type { MediaServer } from './fixtures.js';
import { startSimulator } from './index.js';
import { ffprobe } from './probe.js';
import type { AssetView, Simulator, TaskView, VideoLimits } from './index.js';

const tools = (await hasBinary('ffprobe')) && (await hasBinary('ffmpeg'));
if (!tools) console.warn('ffprobe/ffmpeg not found on PATH: skipping the simulator\'s ffprobe-mode tests');

describe.skipIf(!tools)('ffprobe probe mode', () => {
  let dir: string;
  let media: MediaServer;
  const videos = {
    'ok.mp4': { width: 640, height: 360, seconds: 5 },
    'short.mp4': { width: 640, height: 360, seconds: 2 },
    'small.mp4': { width: 320, height: 240, seconds: 5 },
    'wide.mp4': { width: 1280, height: 360, seconds: 5 },
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tlsim-ffprobe-'));
    media = await startMediaServer();
    await Promise.all(Object.entries(videos).map(async ([name, spec]) => {
      await makeVideo(join(dir, name), spec);
      media.put(name, { bytes: await readFile(join(dir, name)) });
    }));
    const ok = await readFile(join(dir, 'ok.mp4'));
    media.put('truncated.mp4', { bytes: ok.subarray(0, 64) });
  }, 60_000);
  afterAll(async () => {
    await media.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a dozen videos at once without a MaxListenersExceededWarning (each ffprobe has a signal of its own)', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
    process.on('warning', onWarning);
    try {
      const shared = new AbortController().signal;
      const probed = await Promise.all(Array.from({ length: 12 }, () => ffprobe('ffprobe', media.url('ok.mp4'), shared)));
      expect(probed.every((p) => p.ok)).toBe(true);
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => w.startsWith('MaxListenersExceededWarning'))).toEqual([]);
  });

  async function probe(path: string, limits: Partial<VideoLimits> = {}): Promise<TaskView> {
    const sim: Simulator = await startSimulator({ probe: 'ffprobe', limits, lifecycle: { validatingMs: 0, pendingMs: 0, queuedMs: 0, indexingMs: 0 } });
    try {
      const index = sim.createIndex();
      const res = await callApi(sim, 'POST', '/tasks', { form: { index_id: index.id, video_url: media.url(path) } });
      return await sim.waitForTask(res.body._id, 20_000);
    } finally {
      await sim.close();
    }
  }

  it('measures a valid video: duration, resolution, fps', async () => {
    const task = await probe('ok.mp4');
    expect(task.status).toBe('ready');
    expect(task.meta).toMatchObject({ width: 640, height: 360, fps: 10, filename: 'ok.mp4' });
    expect(task.meta?.duration).toBeCloseTo(5, 0);
  });

  it.each([
    ['short.mp4', {}, 'video_duration_too_short'],
    ['ok.mp4', { maxDurationSec: 4 }, 'video_duration_too_long'],
    ['small.mp4', {}, 'video_resolution_too_low'],
    ['ok.mp4', { maxLongSide: 600 }, 'video_resolution_too_high'],
    ['wide.mp4', {}, 'video_resolution_invalid_aspect_ratio'],
    ['truncated.mp4', {}, 'video_file_broken'],
  ] as const)('fails %s (limits %j) with %s', async (path, limits, code) => {
    const task = await probe(path, limits);
    expect(task.status).toBe('failed');
    expect(task.failure?.code).toBe(code);
  });

  it('probes uploaded bytes (video_file) through a temp file', async () => {
    const sim = await startSimulator({ probe: 'ffprobe', lifecycle: { validatingMs: 0, pendingMs: 0, queuedMs: 0, indexingMs: 0 } });
    try {
      const index = sim.createIndex();
      const bytes = await readFile(join(dir, 'short.mp4'));
      const res = await callApi(sim, 'POST', '/tasks', { form: { index_id: index.id, video_file: { bytes, filename: 'short.mp4' } } });
      const task = await sim.waitForTask(res.body._id, 20_000);
      expect(task.failure?.code).toBe('video_duration_too_short');
      expect(task.failure?.message).toMatch(/Current duration is 2(\.\d+)? seconds/);
    } finally {
      await sim.close();
    }
  });

  describe('assets', () => {
    let sim: Simulator;
    beforeAll(async () => {
      sim = await startSimulator({ probe: 'ffprobe', lifecycle: { pendingMs: 0, queuedMs: 0, indexingMs: 0, assetProcessingMs: 0 } });
    });
    afterAll(() => sim.close());

    const asset = async (path: string): Promise<AssetView> => {
      const res = await callApi(sim, 'POST', '/assets', { form: { method: 'url', url: media.url(path) } });
      return sim.waitForAsset(res.body._id, 20_000);
    };

    it('records the measured duration and resolution on the asset (technical_metadata), without judging them', async () => {
      const ok = await asset('ok.mp4');
      expect(ok.status).toBe('ready');
      expect(ok.meta).toMatchObject({ width: 640, height: 360, fps: 10 });
      const wire = (await callApi(sim, 'GET', `/assets/${ok.id}`)).body;
      expect(wire.technical_metadata).toMatchObject({ video_width: 640, video_height: 360, video_fps: 10 });
      expect(wire.duration).toBeCloseTo(5, 0);
      expect((await asset('short.mp4')).status).toBe('ready');
      const broken = await asset('truncated.mp4');
      expect(broken.status).toBe('failed');
      expect(broken.failure?.message).toMatch(/Cannot read video file/);
    });

    it.each([
      ['ok.mp4', 'ready', undefined],
      ['short.mp4', 'failed', 'video_duration_too_short'],
      ['small.mp4', 'failed', 'video_resolution_too_low'],
      ['wide.mp4', 'failed', 'video_resolution_invalid_aspect_ratio'],
    ] as const)('indexing %s ends %s (%s), judged on the measured metadata', async (path, status, code) => {
      const index = sim.createIndex();
      const { id } = await asset(path);
      const res = await callApi(sim, 'POST', `/indexes/${index.id}/indexed-assets`, { json: { asset_id: id } });
      const done = await sim.waitForIndexedAsset(res.body._id, 20_000);
      expect(done.status).toBe(status);
      expect(done.failure?.code).toBe(code);
      if (status === 'ready') expect(sim.videos(index.id)[0]?.meta).toMatchObject({ width: 640, height: 360, fps: 10 });
    });
  });
});
