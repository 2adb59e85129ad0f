import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { callApi, fakeMp4, startMediaServer } from './fixtures.js';
import type { MediaServer } from './fixtures.js';
import { startSimulator } from './index.js';
import type { SimIndex, Simulator } from './index.js';

describe('POST /tasks', () => {
  let media: MediaServer;
  let sim: Simulator;
  let index: SimIndex;

  beforeAll(async () => {
    media = await startMediaServer();
    media.put('videos/clip one.mp4', { bytes: fakeMp4() });
  });
  afterAll(() => media.close());
  beforeEach(async () => {
    sim = await startSimulator({ lifecycle: { validatingMs: 0, pendingMs: 0, queuedMs: 0, indexingMs: 0 } });
    index = sim.createIndex();
  });
  afterEach(() => sim.close());

  it('creates a task from a URL: 200 {_id, video_id}, status validating, filename = decoded last path segment', async () => {
    const res = await callApi(sim, 'POST', '/tasks', { form: { index_id: index.id, video_url: media.url('videos/clip one.mp4') } });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['_id', 'video_id']);
    expect(res.body._id).toMatch(/^[0-9a-f]{24}$/);
    expect(res.body.video_id).toMatch(/^[0-9a-f]{24}$/);
    const task = sim.task(res.body._id);
    expect(task?.status).toBe('validating');
    expect(task?.filename).toBe('clip one.mp4');
    expect(sim.counts().tasksBySourcePath.get('/videos/clip one.mp4')).toBe(1);
  });

  it('uses the uploaded bytes of video_file', async () => {
    const res = await callApi(sim, 'POST', '/tasks', {
      form: { index_id: index.id, video_file: { bytes: fakeMp4(5000), filename: 'upload.mp4' }, enable_video_stream: 'false' },
    });
    expect(res.status).toBe(200);
    const done = await sim.waitForTask(res.body._id);
    expect(done.status).toBe('ready');
    expect(done.meta).toMatchObject({ filename: 'upload.mp4', size: 5000 });
    expect(done.enableVideoStream).toBe(false);
    expect(sim.counts().tasksBySourcePath.get('file:upload.mp4')).toBe(1);
    expect(sim.requests[0]?.body).toEqual({ index_id: index.id, video_file: { filename: 'upload.mp4', size: 5000 }, enable_video_stream: 'false' });
  });

  it('keeps user_metadata made of scalars and hands it to the video', async () => {
    const metadata = { tlm_source: 's3://b/k.mp4', tlm_size: 4096, rating: 9.5, reviewed: false };
    const res = await callApi(sim, 'POST', '/tasks', {
      form: { index_id: index.id, video_url: media.url('videos/clip one.mp4'), user_metadata: JSON.stringify(metadata) },
    });
    await sim.waitForTask(res.body._id);
    const video = await callApi(sim, 'GET', `/indexes/${index.id}/videos/${res.body.video_id}`);
    expect(video.body.user_metadata).toEqual(metadata);
  });

  it.each([
    ['no index_id', { video_url: 'http://x/a.mp4' }, 400, 'parameter_not_provided'],
    ['neither video_url nor video_file', { index_id: '<index>' }, 400, 'parameter_not_provided'],
    ['both video_url and video_file', { index_id: '<index>', video_url: 'http://x/a.mp4', video_file: { bytes: fakeMp4(), filename: 'a.mp4' } }, 400, 'parameter_invalid'],
    ['nested user_metadata', { index_id: '<index>', video_url: 'http://x/a.mp4', user_metadata: '{"a":{"b":1}}' }, 400, 'parameter_invalid'],
    ['an array in user_metadata', { index_id: '<index>', video_url: 'http://x/a.mp4', user_metadata: '{"a":[1]}' }, 400, 'parameter_invalid'],
    ['user_metadata that is not JSON', { index_id: '<index>', video_url: 'http://x/a.mp4', user_metadata: 'a=1' }, 400, 'parameter_invalid'],
    ['user_metadata that is a JSON array', { index_id: '<index>', video_url: 'http://x/a.mp4', user_metadata: '[1]' }, 400, 'parameter_invalid'],
    ['an unknown field', { index_id: '<index>', video_url: 'http://x/a.mp4', language: 'en' }, 400, 'parameter_unknown'],
    ['a bad enable_video_stream', { index_id: '<index>', video_url: 'http://x/a.mp4', enable_video_stream: 'yes' }, 400, 'parameter_invalid'],
    ['a video_url that is not http(s)', { index_id: '<index>', video_url: 'ftp://x/a.mp4' }, 400, 'parameter_invalid'],
    ['an unknown index', { index_id: 'ffffffffffffffffffffffff', video_url: 'http://x/a.mp4' }, 404, 'resource_not_exist'],
  ] as const)('refuses %s', async (_name, form, status, code) => {
    const withIndex = Object.fromEntries(Object.entries(form).map(([k, v]) => [k, v === '<index>' ? index.id : v]));
    const res = await callApi(sim, 'POST', '/tasks', { form: withIndex });
    expect(res.status).toBe(status);
    expect(res.body.code).toBe(code);
    expect(typeof res.body.message).toBe('string');
    expect(sim.tasks()).toHaveLength(0);
  });

  it('refuses a body that is not multipart', async () => {
    const res = await callApi(sim, 'POST', '/tasks', { json: { index_id: index.id, video_url: 'http://x/a.mp4' } });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('parameter_invalid');
  });
});
