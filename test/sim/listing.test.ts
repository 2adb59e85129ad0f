import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { callApi, fakeMp4, startMediaServer } from './fixtures.js';
import { startSimulator } from './index.js';
import type { SimIndex, Simulator } from './index.js';

const T0 = Date.parse('2025-03-01T00:00:00Z');
const at = (minutes: number): string => new Date(T0 + minutes * 60_000).toISOString();

describe('GET /indexes/{id}/videos', () => {
  let sim: Simulator;
  let index: SimIndex;
  const ids: string[] = [];

  beforeEach(async () => {
    sim = await startSimulator({ clock: { startAt: T0 + 3_600_000 } });
    index = sim.createIndex({ name: 'catalog' });
    ids.length = 0;
    for (let i = 0; i < 7; i++) {
      ids.push(sim.seedVideo(index.id, {
        filename: `clip-${i}.mp4`,
        size: 1000 * (i + 1),
        duration: 10 + i,
        width: i % 2 === 0 ? 1920 : 1280,
        height: i % 2 === 0 ? 1080 : 720,
        fps: 30,
        createdAt: at(i),
        userMetadata: { category: i < 3 ? 'news' : 'sport', batch: i % 3, reviewed: i === 4 },
      }).videoId);
    }
  });
  afterEach(() => sim.close());

  const list = async (query: Record<string, string | string[]> | string): Promise<{ ids: string[]; body: Record<string, unknown>; status: number }> => {
    const res = await callApi(sim, 'GET', `/indexes/${index.id}/videos`, { query });
    return { ids: res.status === 200 ? (res.body.data as Array<{ _id: string }>).map((v) => v._id) : [], body: res.body, status: res.status };
  };

  it('pages newest first by default, 10 per page, then answers empty data past the end', async () => {
    const first = await list({ page_limit: '3' });
    expect(first.ids).toEqual([ids[6], ids[5], ids[4]]);
    expect(first.body.page_info).toEqual({ limit_per_page: 3, page: 1, total_page: 3, total_results: 7 });
    expect((await list({ page_limit: '3', page: '3' })).ids).toEqual([ids[0]]);
    const past = await list({ page_limit: '3', page: '4' });
    expect(past.status).toBe(200);
    expect(past.ids).toEqual([]);
    expect((await list({})).body.page_info).toMatchObject({ limit_per_page: 10, total_page: 1 });
  });

  it('sorts ascending on request and by updated_at', async () => {
    expect((await list({ sort_option: 'asc', page_limit: '2' })).ids).toEqual([ids[0], ids[1]]);
    await callApi(sim, 'PATCH', `/indexes/${index.id}/videos/${ids[2]}`, { json: { user_metadata: { touched: true } } });
    expect((await list({ sort_by: 'updated_at', page_limit: '1' })).ids).toEqual([ids[2]]);
  });

  it.each([
    [{ page_limit: '51' }],
    [{ page_limit: '0' }],
    [{ page: 'two' }],
    [{ sort_by: 'filename' }],
    [{ sort_option: 'up' }],
    [{ 'size[gte]': 'big' }],
    [{ created_at: 'yesterday' }],
    [{ user_metadata: '{not json' }],
  ])('refuses %j with 400 parameter_invalid', async (query) => {
    const res = await list(query);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('parameter_invalid');
  });

  it('filters by exact filename and by ranges (brackets or exact)', async () => {
    expect((await list({ filename: 'clip-3.mp4' })).ids).toEqual([ids[3]]);
    expect((await list({ filename: 'clip-3' })).ids).toEqual([]);
    expect((await list({ 'size[gte]': '2000', 'size[lte]': '4000', sort_option: 'asc' })).ids).toEqual([ids[1], ids[2], ids[3]]);
    expect((await list({ size: '5000' })).ids).toEqual([ids[4]]);
    expect((await list({ 'duration[lte]': '11', sort_option: 'asc' })).ids).toEqual([ids[0], ids[1]]);
    expect((await list({ width: '1280', 'fps[gte]': '30', sort_option: 'asc' })).ids).toEqual([ids[1], ids[3], ids[5]]);
    expect((await list({ 'height[gte]': '1000', page_limit: '1' })).body.page_info).toMatchObject({ total_results: 4 });
  });

  it('filters by created_at (at or after) and created_at[lte]', async () => {
    expect((await list({ created_at: at(5), sort_option: 'asc' })).ids).toEqual([ids[5], ids[6]]);
    expect((await list({ 'created_at[lte]': at(1), sort_option: 'asc' })).ids).toEqual([ids[0], ids[1]]);
  });

  it('filters by user metadata in all three encodings, matching values as strings', async () => {
    const expected = [ids[0], ids[3], ids[6]];
    expect((await list({ batch: '0', sort_option: 'asc' })).ids).toEqual(expected);
    expect((await list({ 'user_metadata[batch]': '0', sort_option: 'asc' })).ids).toEqual(expected);
    expect((await list({ user_metadata: '{"batch":0}', sort_option: 'asc' })).ids).toEqual(expected);
    expect((await list({ category: 'news', reviewed: 'false' })).ids).toHaveLength(3);
    expect((await list({ reviewed: 'true' })).ids).toEqual([ids[4]]);
    expect((await list({ category: 'weather' })).ids).toEqual([]);
  });

  it('ignores a metadata encoding switched off (the filter is silently dropped)', async () => {
    sim.variants.set({ metadataFilterEncodings: ['json'] });
    expect((await list({ category: 'news' })).ids).toHaveLength(7);
    expect((await list({ user_metadata: '{"category":"news"}' })).ids).toHaveLength(3);
  });

  it('leaves user_metadata out of list items unless the variant says otherwise', async () => {
    const plain = (await list({ page_limit: '1' })).body.data as Array<Record<string, unknown>>;
    expect(plain[0]).not.toHaveProperty('user_metadata');
    expect(Object.keys(plain[0] ?? {}).sort()).toEqual(['_id', 'created_at', 'indexed_at', 'system_metadata', 'updated_at']);
    sim.variants.set({ listVideosIncludesUserMetadata: true });
    const rich = (await list({ page_limit: '1' })).body.data as Array<Record<string, unknown>>;
    expect(rich[0]?.user_metadata).toEqual({ category: 'sport', batch: 0, reviewed: false });
  });

  it('PATCH merges user_metadata and deletes keys set to null', async () => {
    const res = await callApi(sim, 'PATCH', `/indexes/${index.id}/videos/${ids[0]}`, { json: { user_metadata: { category: null, tlm_run: 'r1' } } });
    expect(res.status).toBe(204);
    const video = await callApi(sim, 'GET', `/indexes/${index.id}/videos/${ids[0]}`);
    expect(video.body.user_metadata).toEqual({ batch: 0, reviewed: false, tlm_run: 'r1' });
    const nested = await callApi(sim, 'PATCH', `/indexes/${index.id}/videos/${ids[0]}`, { json: { user_metadata: { a: { b: 1 } } } });
    expect(nested.status).toBe(400);
  });
});

describe('GET /tasks', () => {
  let sim: Simulator;

  beforeEach(async () => {
    sim = await startSimulator({ clock: { startAt: T0 } });
  });
  afterEach(() => sim.close());

  it('filters by index, repeated status, filename, duration/width/height and created_at (at or after), and pages', async () => {
    const media = await startMediaServer();
    try {
      media.put('a.mp4', { bytes: fakeMp4() });
      media.put('b.mp4', { bytes: Buffer.from('junk') });
      const one = sim.createIndex();
      const two = sim.createIndex();
      const seeded = sim.seedVideo(one.id, { filename: 'old.mp4', size: 10, duration: 42, width: 640, height: 360, createdAt: T0 - 86_400_000 });
      const ok = await callApi(sim, 'POST', '/tasks', { form: { index_id: one.id, video_url: media.url('a.mp4') } });
      const bad = await callApi(sim, 'POST', '/tasks', { form: { index_id: one.id, video_url: media.url('b.mp4') } });
      await callApi(sim, 'POST', '/tasks', { form: { index_id: two.id, video_url: media.url('a.mp4') } });
      await sim.advance(1000);

      const ids = async (query: Record<string, string | string[]>): Promise<string[]> =>
        ((await callApi(sim, 'GET', '/tasks', { query })).body.data as Array<{ _id: string }>).map((t) => t._id);
      expect(await ids({ index_id: one.id })).toEqual([bad.body._id, ok.body._id, seeded.taskId]);
      expect(await ids({ index_id: one.id, status: ['ready', 'failed'] })).toEqual([bad.body._id, ok.body._id, seeded.taskId]);
      expect(await ids({ index_id: one.id, status: 'failed' })).toEqual([bad.body._id]);
      expect(await ids({ filename: 'a.mp4', sort_option: 'asc' })).toHaveLength(2);
      expect(await ids({ duration: '42' })).toEqual([seeded.taskId]);
      expect(await ids({ width: '640', height: '360' })).toEqual([seeded.taskId]);
      expect(await ids({ index_id: one.id, created_at: new Date(T0).toISOString() })).toEqual([bad.body._id, ok.body._id]);
      expect(await ids({ index_id: one.id, page_limit: '2', page: '2' })).toEqual([seeded.taskId]);
      expect(await ids({ index_id: one.id, page_limit: '2', page: '3' })).toEqual([]);
      expect((await callApi(sim, 'GET', '/tasks', { query: { status: 'done' } })).body.code).toBe('parameter_invalid');
      expect((await callApi(sim, 'GET', '/tasks', { query: { page_limit: '51' } })).status).toBe(400);

      const [item] = (await callApi(sim, 'GET', '/tasks', { query: { index_id: one.id, status: 'ready' } })).body.data;
      expect(Object.keys(item).sort()).toEqual(['_id', 'created_at', 'index_id', 'status', 'system_metadata', 'updated_at', 'video_id']);
      expect(Object.keys(item.system_metadata).sort()).toEqual(['duration', 'filename', 'height', 'width']);
    } finally {
      await media.close();
    }
  });
});
