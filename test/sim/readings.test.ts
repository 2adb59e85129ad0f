import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { callApi, fakeMp4, startMediaServer } from './fixtures.js';
import type { MediaServer } from './fixtures.js';
import { API_READINGS, DEFAULT_VARIANTS, readings, startSimulator } from './index.js';
import type { Simulator, SimulatorOptions } from './index.js';

const T0 = Date.parse('2025-09-01T10:00:00Z');
const INSTANT = { validatingMs: 0, pendingMs: 0, queuedMs: 0, indexingMs: 0, assetProcessingMs: 0 };

/** The points where the official sources disagree: each reading the simulator can play. */
describe('API readings', () => {
  let media: MediaServer;
  let sim: Simulator | undefined;

  beforeAll(async () => {
    media = await startMediaServer();
    media.put('in/a b+c é.mp4', { bytes: fakeMp4(2000) });
    media.put('in/plain.mp4', { bytes: fakeMp4(3000) });
  });
  afterAll(() => media.close());
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
  });

  const start = async (options: SimulatorOptions = {}): Promise<Simulator> => (sim = await startSimulator({ lifecycle: INSTANT, ...options }));

  it('defaults stay as before: every metadata encoding, any-change, decoded names, 429, lenient timestamps', () => {
    expect(DEFAULT_VARIANTS).toMatchObject({
      metadataFilterEncodings: ['bare', 'bracket', 'json'],
      unhonouredMetadataFilter: 'dropped',
      indexedAssetUpdatedAt: 'any-change',
      urlFilename: 'decoded',
      quotaStatus: 429,
      timestamps: 'lenient',
    });
    expect(readings('metadata-filter=bare', 'quota-status=402')).toEqual({ metadataFilterEncodings: ['bare'], unhonouredMetadataFilter: 'literal', quotaStatus: 402 });
  });

  describe('metadata filter encoding', () => {
    /** Two videos, one marked; the ids each encoding of `tlm_tool=tlmigrate` lists under a reading. */
    const listed = async (reading: keyof typeof API_READINGS): Promise<Record<string, number>> => {
      const s = await start({ variants: API_READINGS[reading] });
      const index = s.createIndex();
      s.seedVideo(index.id, { filename: 'ours.mp4', size: 1, userMetadata: { tlm_tool: 'tlmigrate' } });
      s.seedVideo(index.id, { filename: 'legacy.mp4', size: 2 });
      const count = async (query: Record<string, string>) => ((await callApi(s, 'GET', `/indexes/${index.id}/videos`, { query })).body.data as unknown[]).length;
      const out = {
        bare: await count({ tlm_tool: 'tlmigrate' }),
        bracket: await count({ 'user_metadata[tlm_tool]': 'tlmigrate' }),
        json: await count({ user_metadata: '{"tlm_tool":"tlmigrate"}' }),
      };
      await s.close();
      sim = undefined;
      return out;
    };

    it.each<[keyof typeof API_READINGS, Record<string, number>]>([
      // 1: the filter works; 2: the filter was not applied (every video); 0: nothing matched.
      ['metadata-filter=brackets', { bare: 2, bracket: 1, json: 2 }],
      ['metadata-filter=json', { bare: 2, bracket: 2, json: 1 }],
      ['metadata-filter=bare', { bare: 1, bracket: 0, json: 0 }],
      ['metadata-filter=bare/dropped', { bare: 1, bracket: 2, json: 2 }],
      ['metadata-filter=ignored', { bare: 2, bracket: 2, json: 2 }],
    ])('%s lists %j', async (reading, expected) => {
      expect(await listed(reading)).toEqual(expected);
    });

    it('plays the same reading on the indexed-asset listing', async () => {
      const s = await start({ variants: API_READINGS['metadata-filter=bare'] });
      const index = s.createIndex();
      const asset = await callApi(s, 'POST', '/assets', { form: { method: 'url', url: media.url('in/plain.mp4') } });
      await s.waitForAsset(asset.body._id);
      await callApi(s, 'POST', `/indexes/${index.id}/indexed-assets`, { json: { asset_id: asset.body._id, user_metadata: { tlm_tool: 'tlmigrate' } } });
      const count = async (query: Record<string, string>) => ((await callApi(s, 'GET', `/indexes/${index.id}/indexed-assets`, { query })).body.data as unknown[]).length;
      expect([await count({ tlm_tool: 'tlmigrate' }), await count({ 'user_metadata[tlm_tool]': 'tlmigrate' }), await count({ tlm_tool: 'other' })]).toEqual([1, 0, 0]);
    });
  });

  describe('indexed-asset updated_at', () => {
    const followed = async (reading: 'any-change' | 'put-only'): Promise<{ before: number; afterPatch: number }> => {
      const s = await start({ clock: { startAt: T0 }, lifecycle: { ...INSTANT, pendingMs: 1000, queuedMs: 1000, indexingMs: 1000 }, variants: { indexedAssetUpdatedAt: reading } });
      const index = s.createIndex();
      const asset = await callApi(s, 'POST', '/assets', { form: { method: 'url', url: media.url('in/plain.mp4') } });
      await s.waitForAsset(asset.body._id);
      const indexed = await callApi(s, 'POST', `/indexes/${index.id}/indexed-assets`, { json: { asset_id: asset.body._id } });
      await s.advance(5000);
      expect(s.indexedAsset(indexed.body._id)?.status).toBe('ready');
      const since = new Date(T0 + 2000).toISOString();
      const count = async () => ((await callApi(s, 'GET', `/indexes/${index.id}/indexed-assets`, { query: { updated_at: since } })).body.data as unknown[]).length;
      const before = await count();
      await callApi(s, 'PATCH', `/indexes/${index.id}/indexed-assets/${indexed.body._id}`, { json: { user_metadata: { note: 'x' } } });
      return { before, afterPatch: await count() };
    };

    it('any-change: a status change counts', async () => {
      expect(await followed('any-change')).toEqual({ before: 1, afterPatch: 1 });
    });

    it('put-only: only a metadata update counts, so the filter never sees it become ready', async () => {
      expect(await followed('put-only')).toEqual({ before: 0, afterPatch: 1 });
    });
  });

  describe('file name from a URL', () => {
    it.each<['decoded' | 'encoded', string]>([
      ['decoded', 'a b+c é.mp4'],
      ['encoded', 'a%20b%2Bc%20%C3%A9.mp4'],
    ])('%s: tasks, their videos, assets and the filename filters carry %s', async (naming, expected) => {
      const s = await start({ variants: { urlFilename: naming } });
      const index = s.createIndex();
      const url = media.url('in/a b+c é.mp4');
      const task = await callApi(s, 'POST', '/tasks', { form: { index_id: index.id, video_url: url } });
      expect((await s.waitForTask(task.body._id)).filename).toBe(expected);
      expect(s.videos(index.id).map((v) => v.meta.filename)).toEqual([expected]);
      const byName = await callApi(s, 'GET', '/tasks', { query: { filename: expected } });
      expect(byName.body.data.map((t: { _id: string }) => t._id)).toEqual([task.body._id]);
      const asset = await callApi(s, 'POST', '/assets', { form: { method: 'url', url } });
      expect(asset.body.filename).toBe(expected);
      const named = await callApi(s, 'POST', '/assets', { form: { method: 'url', url, filename: 'given name.mp4' } });
      expect(named.body.filename).toBe('given name.mp4');
      // The source path the simulator counts duplicates by stays decoded either way.
      expect(s.tasks(index.id)[0]?.sourcePath).toBe('/in/a b+c é.mp4');
    });
  });

  describe('quota refusal status', () => {
    it.each([429, 400, 402, 403] as const)('usage_limit_exceeded answers %i', async (status) => {
      const s = await start({ variants: { quotaStatus: status }, faults: { dailyQuota: { limit: 1 } } });
      const index = s.createIndex();
      const form = { index_id: index.id, video_url: media.url('in/plain.mp4') };
      expect((await callApi(s, 'POST', '/tasks', { form })).status).toBe(200);
      const refused = await callApi(s, 'POST', '/tasks', { form });
      expect([refused.status, refused.body.code]).toEqual([status, 'usage_limit_exceeded']);
      expect(refused.headers.get('x-ratelimit-remaining')).toBe('0');
      expect(s.counts().tasksCreated).toBe(1);
    });
  });

  describe('timestamps in date filters', () => {
    const paths = (indexId: string) => ['/tasks', `/indexes/${indexId}/videos`, `/indexes/${indexId}/indexed-assets`];

    it('strict: fractional seconds are refused with 400 parameter_invalid on every listing; whole seconds pass', async () => {
      const s = await start({ variants: { timestamps: 'strict' } });
      const index = s.createIndex();
      for (const path of paths(index.id)) {
        for (const name of ['created_at', 'updated_at']) {
          const refused = await callApi(s, 'GET', path, { query: { [name]: '2025-09-01T10:00:00.250Z' } });
          expect([path, name, refused.status, refused.body.code]).toEqual([path, name, 400, 'parameter_invalid']);
          expect(refused.body.message).toContain('YYYY-MM-DDTHH:mm:ssZ');
          expect((await callApi(s, 'GET', path, { query: { [name]: '2025-09-01T10:00:00Z' } })).status).toBe(200);
        }
      }
      expect((await callApi(s, 'GET', `/indexes/${index.id}/videos`, { query: { 'created_at[lte]': '2025-09-01T10:00:00.5Z' } })).status).toBe(400);
    });

    it('lenient: fractional seconds and offsets pass', async () => {
      const s = await start();
      const index = s.createIndex();
      for (const path of paths(index.id)) {
        expect((await callApi(s, 'GET', path, { query: { created_at: '2025-09-01T10:00:00.250Z' } })).status).toBe(200);
        expect((await callApi(s, 'GET', path, { query: { created_at: '2025-09-01T12:00:00+02:00' } })).status).toBe(200);
      }
    });
  });
});
