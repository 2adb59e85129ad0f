import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { IndexCensus, type CensusVerdict } from '../../src/executor/census.js';
import type { ExecutorApi } from '../../src/executor/types.js';
import { memoryTables, type LookupTables } from '../../src/planner/lookup.js';
import { lookupTablesFile } from '../../src/planner/plan-file.js';
import type { ItemState } from '../../src/state/index.js';
import type { IndexedVideo, ListTasksQuery, Page, Task } from '../../src/twelvelabs/types.js';
import { useTmpDir } from './tmp-dir.js';

const BUCKET = 'archive';
const uri = (key: string) => `s3://${BUCKET}/${key}`;
const fingerprint = (key: string, size: number, etag: string) => ({ tlm_source: uri(key), tlm_etag: etag, tlm_size: size, tlm_note: 'x'.repeat(200) });
const planned = (key: string, size: number, etag: string): ItemState => ({ key, size, etag, status: 'planned' }) as ItemState;

/** An index of videos and tasks read a page at a time; `shift` repeats page 1's last video on page 2, with a newer answer. */
class IndexApi implements Pick<ExecutorApi, 'listVideos' | 'listTasks' | 'getVideo' | 'getTask'> {
  videoGets = 0;
  constructor(
    readonly videos: IndexedVideo[],
    readonly tasks: Task[] = [],
    private readonly shift?: IndexedVideo,
  ) {}

  async listVideos(_index: string, query: { page?: number; pageLimit?: number } = {}): Promise<Page<IndexedVideo>> {
    const limit = query.pageLimit ?? 50;
    const page = query.page ?? 1;
    const data = this.videos.slice((page - 1) * limit, page * limit);
    if (page === 2 && this.shift) data.unshift(this.shift);
    return { data, page_info: { page, limit_per_page: limit, total_page: Math.max(1, Math.ceil(this.videos.length / limit)), total_results: this.videos.length } };
  }

  async listTasks(query: ListTasksQuery): Promise<Page<Task>> {
    const limit = query.pageLimit ?? 50;
    const page = query.page ?? 1;
    return { data: this.tasks.slice((page - 1) * limit, page * limit), page_info: { page, limit_per_page: limit, total_page: Math.max(1, Math.ceil(this.tasks.length / limit)), total_results: this.tasks.length } };
  }

  async getVideo(_index: string, videoId: string): Promise<IndexedVideo> {
    this.videoGets += 1;
    const video = this.videos.find((v) => v._id === videoId);
    if (!video) throw Object.assign(new Error('no video'), { status: 404 });
    return video;
  }

  async getTask(taskId: string): Promise<Task> {
    const task = this.tasks.find((t) => t._id === taskId);
    if (!task) throw Object.assign(new Error('no task'), { status: 404 });
    return task;
  }
}

function census(api: IndexApi, tables?: LookupTables): Promise<IndexCensus> {
  const full = { ...api, createTask: () => Promise.reject(new Error('no POST here')) } as unknown as ExecutorApi;
  // Bound methods: the census calls them on the API object it is given.
  for (const name of ['listVideos', 'listTasks', 'getVideo', 'getTask'] as const) Object.assign(full, { [name]: api[name].bind(api) });
  return IndexCensus.read({ api: full, indexId: 'idx', via: 'tasks', tables });
}

/** 4,000 videos (ours, legacy by name, another key's content) and 30 tasks in flight: over a MiB of holdings. */
function bigIndex(): { api: IndexApi; items: Array<[string, ItemState]> } {
  const videos: IndexedVideo[] = [];
  const items: Array<[string, ItemState]> = [];
  for (let i = 0; i < 4000; i++) {
    const key = `clips/c${i}.mp4`;
    const size = 1_000 + i;
    const kind = i % 4;
    if (kind === 0) videos.push({ _id: `v${i}`, system_metadata: { filename: `c${i}.mp4`, size }, user_metadata: fingerprint(key, size, `e${i}`) });
    if (kind === 1) videos.push({ _id: `v${i}`, system_metadata: { filename: `c${i}.mp4`, size }, user_metadata: { tlm_note: 'y'.repeat(200) } });
    if (kind === 2) videos.push({ _id: `v${i}`, system_metadata: { filename: `moved-${i}.mp4`, size }, user_metadata: fingerprint(`other/c${i}.mp4`, size, `e${i}`) });
    items.push([uri(key), planned(key, size, `e${i}`)]);
  }
  const tasks: Task[] = Array.from({ length: 30 }, (_, t) => ({ _id: `t${t}`, video_id: `tv${t}`, status: 'indexing', system_metadata: { filename: `c${4 * t + 3}.mp4` } }));
  return { api: new IndexApi(videos, tasks), items };
}

async function verdicts(c: IndexCensus, items: Array<[string, ItemState]>): Promise<CensusVerdict[]> {
  const out: CensusVerdict[] = [];
  for (const [u, item] of items) out.push(await c.examine(u, item));
  return out;
}

describe('IndexCensus', () => {
  const tmp = useTmpDir();

  it('gives the same verdicts with its holdings in a file beside the state as in memory, and the file holds them', async () => {
    const { api, items } = bigIndex();
    const inMemory = await verdicts(await census(api), items);
    const tables = lookupTablesFile(tmp.path('state.json'));
    try {
      const onDisk = await verdicts(await census(api, tables), items);
      expect(readdirSync(tmp.dir).filter((f) => f.startsWith('state.json.lookup-'))).toHaveLength(1);
      expect(onDisk).toEqual(inMemory);
    } finally {
      tables.remove();
    }
    expect(readdirSync(tmp.dir)).toEqual([]);
    const kinds = inMemory.map((v) => (v.kind === 'found' ? `found:${v.holding.kind}` : v.kind));
    expect(kinds.filter((k) => k === 'found:video')).toHaveLength(1000);
    expect(kinds.filter((k) => k === 'duplicate')).toHaveLength(1000);
    expect(kinds.filter((k) => k === 'blocked')).toHaveLength(30);
    expect(kinds.filter((k) => k === 'clear')).toHaveLength(1970);
  });

  it('keeps a video a shifted page lists twice once, with its newer answer', async () => {
    const older: IndexedVideo = { _id: 'v1', system_metadata: { filename: 'a.mp4', size: 10 }, user_metadata: { tlm_note: 'not ours' } };
    const videos = [older, ...Array.from({ length: 49 }, (_, i) => ({ _id: `w${i}`, system_metadata: { filename: `w${i}.mp4`, size: 20 + i } })), { _id: 'v2', system_metadata: { filename: 'b.mp4', size: 99 } }];
    const newer: IndexedVideo = { ...older, user_metadata: fingerprint('a.mp4', 10, 'ea') };
    for (const tables of [undefined, lookupTablesFile(tmp.path('state.json'))]) {
      const c = await census(new IndexApi(videos, [], newer), tables);
      const verdict = await c.examine(uri('a.mp4'), planned('a.mp4', 10, 'ea'));
      expect(verdict).toMatchObject({ kind: 'found', holding: { id: 'v1', metadata: { tlm_source: uri('a.mp4') } } });
      tables?.remove();
    }
  });

  it('confirms a recorded video by its listing under the key file name, by a GET otherwise', async () => {
    const api = new IndexApi([
      { _id: 'v1', system_metadata: { filename: 'a.mp4', size: 10 } },
      { _id: 'v2', system_metadata: { filename: 'renamed.mp4', size: 11 } },
    ]);
    const c = await census(api, memoryTables());
    expect(await c.hasVideo('v1', 'x/a.mp4')).toBe(true);
    expect(api.videoGets).toBe(0);
    expect(await c.hasVideo('v2', 'x/b.mp4')).toBe(true);
    expect(api.videoGets).toBe(1);
    expect(await c.hasVideo('v3', 'x/c.mp4')).toBe(false);
  });
});
