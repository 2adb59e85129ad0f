import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/errors.js';
import { READS_PER_ROUND, followTasks, type FollowOptions } from '../../src/executor/follow.js';
import { OpenItems, followRecordsFile } from '../../src/executor/open-items.js';
import { recordsInMemory } from '../../src/planner/plan-file.js';
import { StateStore } from '../../src/state/index.js';
import type { IndexedAsset, ListIndexedAssetsQuery, ListTasksQuery, Page, Task } from '../../src/twelvelabs/types.js';
import { FakeClock } from './fake-clock.js';

const T0 = Date.parse('2026-11-01T00:00:00Z');
const POLL_MS = 1000;

/** How the platform's listing filters by updated_at: every change, only PUT updates (never here), or a listing that is down to nothing. */
type Reading = 'any-change' | 'put-only';

/** Items `indexing` since long before T0, `ready` at their own instant; `gone` ones answer 404. */
class FakePlatform {
  readonly log: string[] = [];
  constructor(
    private readonly clock: FakeClock,
    private readonly readyAt: Map<string, number>,
    private readonly reading: Reading,
    private readonly gone = new Set<string>(),
  ) {}

  private view(id: string): Task & IndexedAsset {
    const ready = this.clock.now() >= (this.readyAt.get(id) ?? Infinity);
    const updated = ready ? (this.readyAt.get(id) ?? T0) : T0 - 3_600_000;
    return { _id: id, status: ready ? 'ready' : 'indexing', updated_at: new Date(updated).toISOString() };
  }

  private page<T>(data: T[]): Page<T> {
    return { data, page_info: { page: 1, limit_per_page: 50, total_page: 1, total_results: data.length } };
  }

  private list(updatedAt: string | undefined, page: number | undefined): Array<Task & IndexedAsset> {
    if ((page ?? 1) > 1 || this.reading === 'put-only') return [];
    const since = Date.parse(updatedAt ?? '1970-01-01T00:00:00Z');
    return [...this.readyAt.keys()].filter((id) => !this.gone.has(id)).map((id) => this.view(id)).filter((v) => Date.parse(v.updated_at ?? '') >= since);
  }

  async listTasks(query: ListTasksQuery): Promise<Page<Task>> {
    if ((query.page ?? 1) === 1) this.log.push('list');
    return this.page(this.list(query.updatedAt, query.page));
  }

  async listIndexedAssets(_indexId: string, query: ListIndexedAssetsQuery = {}): Promise<Page<IndexedAsset>> {
    if ((query.page ?? 1) === 1) this.log.push('list');
    return this.page(this.list(query.updatedAt, query.page));
  }

  async getTask(id: string): Promise<Task> {
    return this.read(id);
  }

  async getIndexedAsset(_indexId: string, id: string): Promise<IndexedAsset> {
    return this.read(id);
  }

  private read(id: string): Task & IndexedAsset {
    this.log.push(`get ${id}`);
    if (this.gone.has(id)) throw new ApiError({ status: 404, code: 'resource_not_exist', message: 'gone', method: 'GET', path: `/x/${id}` });
    return this.view(id);
  }
}

async function follow(readyAt: Record<string, number>, options: { reading: Reading; via?: 'tasks' | 'assets'; once?: boolean; gone?: string[] }) {
  const dir = mkdtempSync(join(tmpdir(), 'tlm-follow-'));
  const clock = new FakeClock(T0);
  const platform = new FakePlatform(clock, new Map(Object.entries(readyAt)), options.reading, new Set(options.gone));
  const store = await StateStore.open(join(dir, 'state.json'), { uri: 's3://bkt', bucket: 'bkt', prefix: '', indexId: 'idx' }, 'test', 'tlmigrate test');
  const assets = options.via === 'assets';
  for (const id of Object.keys(readyAt)) {
    await store.setItem(`s3://bkt/${id}.mp4`, {
      key: `${id}.mp4`, size: 10, etag: `e-${id}`, status: 'submitted', attempts: 1, updatedAt: new Date(T0).toISOString(), submittedAt: new Date(T0).toISOString(),
      ...(assets ? { indexedAssetId: id, videoId: id } : { taskId: id }),
    });
  }
  const api: FollowOptions['api'] = assets ? platform : { listTasks: platform.listTasks.bind(platform), getTask: platform.getTask.bind(platform) };
  const counts = await followTasks({ api, via: options.via, store, clock, indexId: 'idx', pollMs: POLL_MS, ...(options.once ? { once: true } : {}) });
  const statuses = Object.fromEntries(Object.keys(readyAt).map((id) => [id, store.item(`s3://bkt/${id}.mp4`)?.status]));
  await store.close();
  return { counts, statuses, log: platform.log };
}

/** The reads by id between two listings, per round. */
function readsPerRound(log: string[]): number[] {
  const rounds: number[] = [];
  let reads = 0;
  for (const entry of log) {
    if (entry === 'list') {
      if (reads > 0) rounds.push(reads);
      reads = 0;
    } else reads += 1;
  }
  if (reads > 0) rounds.push(reads);
  return rounds;
}

/** Tasks listed 50 a page, each page after the first repeating the last id of the one before (a listing shifted by a concurrent write). */
class PagedPlatform {
  pages = 0;
  constructor(private readonly statuses: Map<string, string>) {}

  async listTasks(query: ListTasksQuery): Promise<Page<Task>> {
    this.pages += 1;
    const ids = [...this.statuses.keys()];
    const page = query.page ?? 1;
    const start = (page - 1) * 50;
    const data = [...(page > 1 ? ids.slice(start - 1, start) : []), ...ids.slice(start, start + 50)].map((id) => ({ _id: id, status: this.statuses.get(id), updated_at: new Date(T0).toISOString() }) as Task);
    return { data: start < ids.length ? data : [], page_info: { page, limit_per_page: 50, total_page: Math.ceil(ids.length / 50), total_results: ids.length } };
  }

  async getTask(id: string): Promise<Task> {
    return { _id: id, status: this.statuses.get(id) } as Task;
  }
}

describe('followTasks', () => {
  it('records a listing of many pages as they come (a repeated id once), keeps its items in a file beside the state, and removes it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tlm-follow-'));
    const statePath = join(dir, 'state.json');
    const store = await StateStore.open(statePath, { uri: 's3://bkt', bucket: 'bkt', prefix: '', indexId: 'idx' }, 'test', 'tlmigrate test');
    const statuses = new Map<string, string>();
    for (let i = 0; i < 530; i++) {
      const id = `t${String(i).padStart(4, '0')}`;
      statuses.set(id, i % 7 === 0 ? 'failed' : i % 3 === 0 ? 'indexing' : 'ready');
      await store.setItem(`s3://bkt/${id}.mp4`, { key: `${id}.mp4`, size: 10, etag: `e-${id}`, status: 'submitted', attempts: 1, updatedAt: new Date(T0).toISOString(), submittedAt: new Date(T0).toISOString(), taskId: id });
    }
    const platform = new PagedPlatform(statuses);
    const records = followRecordsFile(statePath);
    const counts = await followTasks({ api: platform, store, clock: new FakeClock(T0), indexId: 'idx', pollMs: POLL_MS, once: true, records });
    expect(counts).toEqual({ failed: 76, indexing: 151, ready: 303 });
    for (const [id, status] of statuses) expect(store.item(`s3://bkt/${id}.mp4`)?.status).toBe(status);
    expect(platform.pages).toBeGreaterThanOrEqual(11);
    await store.close();
    expect(readdirSync(dir).filter((name) => name.includes('.follow-'))).toEqual([]);
  });

  it('reads an item by id only after QUIET_POLLS polls without a change, and ends when the listing reports it ready', async () => {
    const { statuses, log } = await follow({ t1: T0 + 4500 }, { reading: 'any-change' });
    expect(statuses).toEqual({ t1: 'ready' });
    // Polls at T0, +1 s (quiet twice: read, `indexing`), +2 s, +3 s (read again), +4 s, +5 s: the listing reports `ready`.
    expect(log).toEqual(['list', 'list', 'get t1', 'list', 'list', 'get t1', 'list', 'list']);
  });

  it.each<['tasks' | 'assets']>([['tasks'], ['assets']])('ends with every item ready when the listing never reports a status change (%s, put-only)', async (via) => {
    const readyAt = Object.fromEntries(Array.from({ length: 120 }, (_, i) => [`i${String(i).padStart(3, '0')}`, T0 + 2000 + i * 100]));
    const { statuses, log, counts } = await follow(readyAt, { reading: 'put-only', via });
    expect(Object.values(statuses).every((s) => s === 'ready')).toBe(true);
    expect(counts).toEqual({ ready: 120 });
    // Bounded: never more than READS_PER_ROUND reads between two listings.
    expect(Math.max(...readsPerRound(log))).toBe(READS_PER_ROUND);
    expect(log.some((e) => e.startsWith('get ') && !e.startsWith('get i'))).toBe(false);
  });

  it('reads at once, in a single pass, the open items the listing did not report (status --refresh)', async () => {
    const { statuses, log } = await follow({ a: T0, b: T0 }, { reading: 'put-only', via: 'assets', once: true });
    expect(statuses).toEqual({ a: 'ready', b: 'ready' });
    expect(log).toEqual(['list', 'get a', 'get b']);
  });

  it('a single pass reads by id only what the listing did not report', async () => {
    const { statuses, log } = await follow({ a: T0, b: T0 + 60_000 }, { reading: 'any-change', once: true });
    expect(statuses).toEqual({ a: 'ready', b: 'indexing' });
    expect(log).toEqual(['list', 'get b']);
  });

  it('stops following an item deleted on the platform, and ends', async () => {
    const { statuses, log } = await follow({ kept: T0 + 1500, deleted: T0 + 1500 }, { reading: 'put-only', gone: ['deleted'] });
    expect(statuses).toEqual({ kept: 'ready', deleted: 'submitted' });
    expect(log.filter((e) => e === 'get deleted')).toHaveLength(1);
  });
});

describe('followTasks when a listing fails', () => {
  it('rejects only once the page being recorded is recorded: no state write after it settles', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tlm-follow-'));
    const real = await StateStore.open(join(dir, 'state.json'), { uri: 's3://bkt', bucket: 'bkt', prefix: '', indexId: 'idx' }, 'test', 'tlmigrate test');
    const ids = Array.from({ length: 150 }, (_, i) => `t${String(i).padStart(4, '0')}`);
    for (const id of ids) {
      await real.setItem(`s3://bkt/${id}.mp4`, { key: `${id}.mp4`, size: 10, etag: `e-${id}`, status: 'submitted', attempts: 1, updatedAt: new Date(T0).toISOString(), submittedAt: new Date(T0).toISOString(), taskId: id });
    }
    // Page 2's changes wait at a gate; page 3 fails once they are being recorded, and the gate opens right after.
    let entered = () => undefined as void;
    const recording = new Promise<void>((resolve) => (entered = resolve));
    let open = () => undefined as void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let written = 0;
    const gated: Pick<FollowOptions['store'], 'item' | 'scan' | 'setRun' | 'setItem'> = {
      item: (uri) => real.item(uri),
      scan: () => real.scan(),
      setRun: (run, options) => real.setRun(run, options),
      setItem: async (uri, patch, options) => {
        entered();
        await gate;
        await real.setItem(uri, patch, options);
        written += 1;
      },
    };
    // Only what a follow calls: its other methods are never reached.
    const store = gated as FollowOptions['store'];
    const api: FollowOptions['api'] = {
      listTasks: async (query) => {
        const page = query.page ?? 1;
        if (page === 3) {
          await recording;
          setTimeout(open, 0);
          throw new ApiError({ status: 500, code: 'internal', message: 'page 3 failed', method: 'GET', path: '/tasks' });
        }
        const data = ids.slice((page - 1) * 50, page * 50).map((id) => ({ _id: id, status: page === 1 ? 'submitted' : 'ready' }) as Task);
        return { data, page_info: { page, limit_per_page: 50, total_page: 3, total_results: 150 } };
      },
      getTask: async (id) => ({ _id: id, status: 'indexing' }) as Task,
    };
    const failed = await followTasks({ api, store, clock: new FakeClock(T0), indexId: 'idx', pollMs: POLL_MS, once: true }).catch((error: unknown) => error);
    const writtenWhenSettled = written;
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(failed).toBeInstanceOf(ApiError);
    expect(writtenWhenSettled).toBe(50);
    expect(written).toBe(writtenWhenSettled);
    await real.close();
  });
});

describe('OpenItems', () => {
  it('finds, closes and picks the least recently seen as a Map and a sort would', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const open = new OpenItems(recordsInMemory());
    const naive = new Map<string, { at: number; uri: string; seenAt: number; status: string }>();
    for (let i = 0; i < 3000; i++) {
      const id = `id-${i}-${Math.floor(random() * 1e9)}`;
      open.add(id, `s3://b/${i}.mp4`, i % 2 ? 'task' : 'indexed_asset', 'indexing');
      naive.set(id, { at: i, uri: `s3://b/${i}.mp4`, seenAt: 0, status: 'indexing' });
    }
    for (let poll = 1; poll <= 20; poll++) {
      for (const [id, entry] of naive) {
        const r = random();
        if (r < 0.05) {
          open.close(entry.at);
          naive.delete(id);
        } else if (r < 0.4) {
          open.seen(entry.at, poll);
          entry.seenAt = poll;
        } else if (r < 0.45) {
          open.setStatus(entry.at, 'pending');
          entry.status = 'pending';
        }
      }
      const expected = [...naive.entries()]
        .filter(([, e]) => e.seenAt < poll + 1)
        .sort(([, a], [, b]) => a.seenAt - b.seenAt || a.at - b.at)
        .slice(0, 50)
        .map(([id, e]) => ({ id, uri: e.uri, at: e.at }));
      expect(open.leastRecentlySeen(poll + 1, 50).map(({ id, uri, at }) => ({ id, uri, at }))).toEqual(expected);
      expect(open.size).toBe(naive.size);
    }
    for (const [id, e] of naive) expect([open.find(id)?.uri, open.status(e.at)]).toEqual([e.uri, e.status]);
    expect(open.find('id-missing')).toBeUndefined();
  });
});
