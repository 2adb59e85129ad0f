import { readFile, readdir } from 'node:fs/promises';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { PLAN_DEFAULTS } from '../../src/cli/options.js';
import { readIndexSnapshot, writePlan, type PlanArgs, type PlanIndexApi } from '../../src/cli/plan-command.js';
import { SpilledListing } from '../../src/planner/index-listing.js';
import { memoryTables } from '../../src/planner/lookup.js';
import { heldInMemory, planMigration } from '../../src/planner/plan.js';
import { planWorkFiles } from '../../src/planner/plan-file.js';
import type { PlanItem } from '../../src/planner/types.js';
import type { ListOptions, SourceLister, SourceObject } from '../../src/sources/types.js';
import { judgeMarkerFilter } from '../../src/twelvelabs/our-videos.js';
import type { IndexedVideo, ListVideosQuery, Page } from '../../src/twelvelabs/types.js';
import { useTmpDir } from './tmp-dir.js';

const BUCKET = 'spill-bucket';
const INDEX = 'i'.repeat(24);

/** Object i: `cam-<i%7>/clip-<i>.mp4`, its size and ETag from i. */
function anObject(i: number): SourceObject {
  return { key: `cam-${i % 7}/clip-${String(i).padStart(6, '0')}.mp4`, size: 1_000_000 + i, etag: `etag-${i}`, lastModified: '2026-01-01T00:00:00.000Z' };
}

/** Video of object i: every third fingerprinted (and marked), the others legacy (name and size). */
function aVideo(i: number): IndexedVideo {
  const object = anObject(i);
  const video: IndexedVideo = { _id: `video-${String(i).padStart(8, '0')}`, system_metadata: { filename: object.key.slice(object.key.indexOf('/') + 1), size: object.size } };
  if (i % 3 === 0) video.user_metadata = { tlm_tool: 'tlmigrate', tlm_source: `s3://${BUCKET}/${object.key}`, tlm_etag: object.etag, tlm_size: object.size };
  return video;
}

/** The read side of an index holding videos of the first `videos` objects (every other one), 50 a page; `failAt` fails that page of the full listing. */
function anIndex(videos: number, failAt?: number): PlanIndexApi {
  const all = Array.from({ length: videos }, (_, j) => aVideo(2 * j));
  const page = <T>(items: T[], n: number): Page<T> => ({ data: items.slice((n - 1) * 50, n * 50), page_info: { page: n, limit_per_page: 50, total_page: Math.max(1, Math.ceil(items.length / 50)), total_results: items.length } });
  const empty = { data: [], page_info: { page: 1, limit_per_page: 50, total_page: 1, total_results: 0 } };
  return {
    listVideos: async (_index: string, query: ListVideosQuery = {}) => {
      await new Promise((resolve) => setImmediate(resolve));
      if (query.userMetadata) return page(all.filter((v) => v.user_metadata), query.page ?? 1);
      if (query.page === failAt) throw new Error(`page ${failAt} of the videos failed`);
      return page(all, query.page ?? 1);
    },
    listTasks: async () => empty,
    listIndexedAssets: async () => empty,
    getVideo: async (_index: string, id: string) => {
      const found = all.find((v) => v._id === id);
      if (!found) throw new Error(`no video ${id}`);
      return found;
    },
  };
}

const aLister = (objects: number): SourceLister => ({
  async *list(_options: ListOptions) {
    for (let i = 0; i < objects; i++) yield anObject(i);
  },
});

const silent = { update: () => undefined, done: () => undefined };

function planArgs(out: string): PlanArgs {
  return { source: `s3://${BUCKET}`, index: INDEX, out, state: `${out}.no-state`, include: [], exclude: [], ...PLAN_DEFAULTS };
}

describe('SpilledListing: a listing kept as its pages arrive', () => {
  const tmp = useTmpDir();

  it('keeps each id once, at its first place, with its newest answer; the same in memory and in files spilled to disk', async () => {
    // ~2.5 MiB of lines: most of them written to the file, not held.
    const answers = Array.from({ length: 20_000 }, (_, i) => ({ _id: `v${i}`, note: 'x'.repeat(100) }));
    answers.push({ _id: 'v0', note: 'newer' }, { _id: 'v19999', note: 'newest' });
    const work = planWorkFiles(tmp.path('plan.json'), { memoryBytes: 0 });
    const onDisk = new SpilledListing<{ _id: string; note: string }>(work.tables, work.lines('videos'), 'videos');
    const inMemory = new SpilledListing<{ _id: string; note: string }>(memoryTables(), heldInMemory(), 'videos');
    for (const listing of [onDisk, inMemory]) {
      const fresh = answers.map((a) => listing.add(a._id, a));
      expect(fresh.filter((f) => !f)).toHaveLength(2);
    }
    expect(await readdir(tmp.dir)).toContain(`plan.json.videos-${process.pid}`);
    for (const listing of [onDisk, inMemory]) {
      const items = [];
      for await (const item of listing.items()) items.push(item);
      expect(items).toHaveLength(20_000);
      expect(items[0]).toEqual({ _id: 'v0', note: 'newer' });
      expect(items[19_999]).toEqual({ _id: 'v19999', note: 'newest' });
      expect(items[1]?.note).toHaveLength(100);
      expect(listing.size).toBe(20_000);
      expect(listing.first).toEqual({ _id: 'v0', note: 'newer' });
      expect([listing.has('v12345'), listing.has('v20000')]).toEqual([true, false]);
    }
    work.remove();
    expect(await readdir(tmp.dir)).toEqual([]);
  });

  it('judges the marker filter as the arrays would: counts first, then lookups', async () => {
    const api = { getVideo: async (_i: string, id: string): Promise<IndexedVideo> => ({ _id: id, user_metadata: { tlm_tool: 'tlmigrate' } }) };
    const listing = (ids: string[]) => {
      const spilled = new SpilledListing<IndexedVideo>(memoryTables(), heldInMemory(), 'l');
      for (const id of ids) spilled.add(id, { _id: id });
      return spilled;
    };
    const cases: Array<[string[], string[], string[], string]> = [
      [['a', 'b', 'c'], ['a'], [], 'works'],
      [['a', 'b'], ['a', 'b'], [], 'all-listed'],
      [['a', 'b'], ['b', 'x'], [], 'works'],
      [['a', 'b', 'c'], ['a'], ['b'], 'broken'],
      [['a', 'b'], [], [], 'unproven'],
    ];
    for (const [all, filtered, known, verdict] of cases) {
      const spilled = await judgeMarkerFilter(api, INDEX, { all: listing(all), filtered: listing(filtered), known });
      const held = await judgeMarkerFilter(api, INDEX, { all: all.map((_id) => ({ _id })), filtered: filtered.map((_id) => ({ _id })), known });
      expect([spilled.verdict, held.verdict]).toEqual([verdict, verdict]);
      expect(spilled.ids?.has('a')).toBe(held.ids?.has('a'));
    }
  });
});

describe('writePlan with the index spilled beside the plan', () => {
  const tmp = useTmpDir();

  it('plans exactly as from listings held in memory, and leaves no temporary file', async () => {
    const out = tmp.path('plan.json');
    const api = anIndex(12_000);
    await writePlan({ args: planArgs(out), spec: { bucket: BUCKET, prefix: '' }, api, index: { index_name: 'x', models: [] }, lister: aLister(30_000), log: pino({ level: 'silent' }), progress: silent });
    expect(await readdir(tmp.dir)).toEqual(['plan.json']);
    const written = (await readFile(out, 'utf8')).split('\n').slice(1, -2).map((line) => JSON.parse(line.replace(/,$/, '')) as PlanItem);

    const snapshot = await readIndexSnapshot(api, planArgs(out), silent);
    expect(snapshot.ours.verdict).toBe('works');
    const header = { options: { include: [], exclude: [], incremental: true, match: 'filename' as const, probe: false, allFiles: false, extensions: ['mp4'], requirements: (await import('../../src/planner/requirements.js')).DEFAULT_REQUIREMENTS, via: 'tasks' as const } };
    const inMemory: PlanItem[] = [];
    const input = { source: { uri: `s3://${BUCKET}`, bucket: BUCKET, prefix: '' }, objects: aLister(30_000).list({ prefix: '' }), videos: snapshot.videoRefs, inFlight: snapshot.inFlight, ledger: [], options: header.options, edges: { videoMetadata: async () => undefined } };
    for await (const item of planMigration(input)) inMemory.push(item);
    expect(written).toEqual(inMemory);
    expect(written.filter((item) => item.action === 'skip')).toHaveLength(12_000);
    expect(written.filter((item) => item.match?.by === 'fingerprint')).toHaveLength(4_000);
  });

  it('reads the tasks in flight as pages arrive (spilled past a MiB): an object whose task is in flight is planned in progress', async () => {
    const out = tmp.path('plan.json');
    const objects = 12_000;
    const tasks = Array.from({ length: objects }, (_, i) => ({ _id: `task-${String(i).padStart(8, '0')}`, video_id: `tv-${i}`, status: 'indexing' as const, created_at: '2026-01-01T00:00:00.000Z', system_metadata: { filename: anObject(i).key.slice(anObject(i).key.indexOf('/') + 1) } }));
    const index = anIndex(0);
    const api: PlanIndexApi = {
      ...index,
      listTasks: async (query) => {
        const n = query?.page ?? 1;
        return { data: tasks.slice((n - 1) * 50, n * 50), page_info: { page: n, limit_per_page: 50, total_page: Math.ceil(tasks.length / 50), total_results: tasks.length } };
      },
      // Every other task's video names its object (ours, in progress); the others another object's.
      getVideo: async (_index: string, id: string) => {
        const i = Number(id.slice(3));
        const object = anObject(i % 2 === 0 ? i : i + 1);
        return { _id: id, user_metadata: { tlm_tool: 'tlmigrate', tlm_source: `s3://${BUCKET}/${object.key}`, tlm_etag: object.etag, tlm_size: object.size } };
      },
    };
    await writePlan({ args: planArgs(out), spec: { bucket: BUCKET, prefix: '' }, api, index: { index_name: 'x', models: [] }, lister: aLister(objects), log: pino({ level: 'silent' }), progress: silent });
    expect(await readdir(tmp.dir)).toEqual(['plan.json']);
    const written = (await readFile(out, 'utf8')).split('\n').slice(1, -2).map((line) => JSON.parse(line.replace(/,$/, '')) as PlanItem);
    expect(written.filter((item) => item.reason === 'in_progress')).toHaveLength(objects / 2);
    expect(written.filter((item) => item.action === 'upload')).toHaveLength(objects / 2);
    expect(written.find((item) => item.key === anObject(2).key)?.match).toEqual({ by: 'task', taskId: 'task-00000002', videoId: 'tv-2' });
  });

  it('a listing that fails after it spilled to disk: its error, and no temporary file left', async () => {
    const out = tmp.path('plan.json');
    const run = writePlan({ args: planArgs(out), spec: { bucket: BUCKET, prefix: '' }, api: anIndex(40_000, 700), index: { index_name: 'x', models: [] }, lister: aLister(10), log: pino({ level: 'silent' }), progress: silent, workMemoryBytes: 0 });
    await expect(run).rejects.toThrow('page 700 of the videos failed');
    expect(await readdir(tmp.dir)).toEqual([]);
  });

  it('an --out folder that does not exist: refused as the plan file, however far the index read got', async () => {
    const out = tmp.path('missing/plan.json');
    const run = writePlan({ args: planArgs(out), spec: { bucket: BUCKET, prefix: '' }, api: anIndex(40_000), index: { index_name: 'x', models: [] }, lister: aLister(10), log: pino({ level: 'silent' }), progress: silent, workMemoryBytes: 0 });
    await expect(run).rejects.toThrow(/cannot write plan file .*missing\/plan\.json \(ENOENT\): choose a writable --out path/);
  });
});
