import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dedupeIndex, type DedupeArgs } from '../../src/cli/dedupe-command.js';
import { metadataReader, toVideoRef, withWorkFiles } from '../../src/cli/index-access.js';
import { verifySource, type VerifyArgs } from '../../src/cli/verify-command.js';
import { ApiError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { DEFAULT_REQUIREMENTS, basename, decodedFilename, filenameForms, hash32, keyFilter, objectUri, preflightListing } from '../../src/planner/index.js';
import { planWorkFiles } from '../../src/planner/plan-file.js';
import type { SourceObject } from '../../src/sources/types.js';
import { PartedStore } from '../../src/state/parted-store.js';
import { StateStore, loadState } from '../../src/state/store.js';
import type { ItemState } from '../../src/state/types.js';
import { openStateView, type StateView } from '../../src/state/view.js';
import { listAllVideos, listTasks } from '../../src/twelvelabs/index-reader.js';
import { createdVideoIds, findOurVideos } from '../../src/twelvelabs/our-videos.js';
import type { IndexedVideo, ListTasksQuery, ListVideosQuery, Page, Task, TaskStatus } from '../../src/twelvelabs/types.js';
import { findDuplicateGroups, verifyIndex, type KnownItem, type ListedTask, type TaskRef, type VerifyWork, type VideoRef } from '../../src/verify/index.js';
import { legacyFindDuplicateGroups, legacyVerifyIndex } from '../helpers/legacy-verify.js';
import { BUCKET, asyncIterable } from './builders.js';
import { useTmpDir } from './tmp-dir.js';

/** A seeded generator (mulberry32): the same scenarios on every run. */
function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T;
  return { next, pick, chance: (p: number) => next() < p };
}

const NAMES = ['a.mp4', 'b.mp4', 'my clip+1.mp4', 'été.mp4', 'c.mov', 'notes.txt', 'x y.mp4'];
const DIRS = ['v/', 'w/', 'v/sub/', 'other/', ''];
const TIMES = ['2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z', '2026-01-03T00:00:00Z', undefined];

interface VerifyScenario {
  objects: SourceObject[];
  videos: VideoRef[];
  metadata: Map<string, Record<string, unknown>>;
  tasks: TaskRef[];
  known: Array<[string, KnownItem]>;
}

/** Objects, videos, tasks and state items that reach every branch of verify's matching, at random. */
function verifyScenario(seed: number, n: number): VerifyScenario {
  const r = random(seed);
  const keys = new Set<string>();
  for (let i = 0; i < n; i++) keys.add(r.chance(0.03) ? r.pick(DIRS.filter(Boolean)) : `${r.pick(DIRS)}${r.chance(0.6) ? r.pick(NAMES) : `f${i}.mp4`}`);
  const objects = [...keys].sort().map((key, i): SourceObject => ({ key, size: r.pick([0, 100, 200, 300]), etag: r.pick(['e1', 'e2', `e${i}`, '']), lastModified: '2026-01-01T00:00:00Z', ...(r.chance(0.05) ? { storageClass: 'GLACIER' } : {}) }));
  const videos: VideoRef[] = [];
  const metadata = new Map<string, Record<string, unknown>>();
  for (let i = 0; i < n; i++) {
    const o = r.pick(objects);
    const videoId = `v${i}`;
    const filename = r.pick([...filenameForms(o.key), r.pick(NAMES), `g${i}.mp4`]);
    const size = r.pick([o.size, o.size, 100, undefined]);
    const kind = r.pick(['fp', 'fp', 'fp', 'stale', 'scope', 'outside', 'legacy', 'legacy']);
    const meta: Record<string, unknown> =
      kind === 'fp' ? { tlm_source: objectUri(BUCKET, o.key), tlm_etag: o.etag } : kind === 'stale' ? { tlm_source: objectUri(BUCKET, o.key), tlm_etag: 'old' } : kind === 'scope' ? { tlm_source: `s3://${BUCKET}/gone/${i}.mp4`, tlm_etag: 'x' } : kind === 'outside' ? { tlm_source: `s3://elsewhere/${o.key}`, tlm_etag: o.etag } : {};
    if (!r.chance(0.05)) metadata.set(videoId, meta);
    videos.push({ videoId, filename, size, createdAt: r.pick(TIMES), ...(r.chance(0.3) ? { userMetadata: meta } : {}) });
  }
  const tasks: TaskRef[] = [];
  for (let i = 0; i < n / 4; i++) {
    const status = r.pick(['indexing', 'pending', 'failed', 'validating']);
    tasks.push({ taskId: `t${i}`, filename: r.pick([...filenameForms(r.pick(objects).key), r.pick(NAMES)]), status, ...(status === 'failed' && r.chance(0.5) ? { error: { code: 'video_bad', message: 'bad' } } : {}) });
  }
  const known: Array<[string, KnownItem]> = [];
  for (const o of objects) {
    if (r.chance(0.4)) continue;
    const item: KnownItem = { status: r.pick(['done', 'failed', 'submitted', 'indexing', 'planned']) };
    if (r.chance(0.5)) item.taskId = r.chance(0.6) && tasks.length ? r.pick(tasks).taskId : `t-old-${o.key}`;
    if (r.chance(0.4)) item.videoId = `v-old-${o.key}`;
    if (r.chance(0.1)) item.indexedAssetId = `ia-${o.key}`;
    if (r.chance(0.2)) item.lastError = { code: 'upload_failed', message: 'it failed' };
    known.push([objectUri(BUCKET, o.key), item]);
  }
  return { objects, videos, metadata, tasks, known };
}

function metadataEdges(metadata: Map<string, Record<string, unknown>>) {
  const calls: string[] = [];
  return { calls, videoMetadata: (id: string) => (calls.push(id), Promise.resolve(metadata.get(id))) };
}

async function bothVerifies(s: VerifyScenario, work?: VerifyWork) {
  const filter = keyFilter({ include: [], exclude: [], extensions: ['mp4'], allFiles: false });
  const common = {
    bucket: BUCKET,
    sourceUri: `s3://${BUCKET}`,
    excluded: (o: SourceObject) => filter(o.key, o.size) !== undefined,
    unindexable: (o: SourceObject) => preflightListing(o, DEFAULT_REQUIREMENTS),
    tasks: s.tasks,
  };
  const knownMap = new Map(s.known);
  const [oldEdges, newEdges] = [metadataEdges(s.metadata), metadataEdges(s.metadata)];
  const before = await legacyVerifyIndex({ ...common, objects: asyncIterable(s.objects), videos: s.videos, known: (uri) => knownMap.get(uri), edges: oldEdges });
  const after = await verifyIndex({ ...common, objects: asyncIterable(s.objects), videos: asyncIterable(s.videos), known: asyncIterable(s.known), edges: newEdges, work });
  return { before, after, oldCalls: oldEdges.calls, newCalls: newEdges.calls };
}

describe('verifyIndex, bounded: the same result as the code that held everything', () => {
  const tmp = useTmpDir();

  it.each([1, 2, 3, 4, 5, 6, 7, 8])('scenario %i, in memory and in files', async (seed) => {
    const s = verifyScenario(seed, 120);
    const memory = await bothVerifies(s);
    expect(JSON.stringify(memory.after)).toBe(JSON.stringify(memory.before));
    expect(memory.newCalls).toEqual(memory.oldCalls);
    const files = planWorkFiles(tmp.path('verify'));
    try {
      const onDisk = await bothVerifies(s, files);
      expect(JSON.stringify(onDisk.after)).toBe(JSON.stringify(memory.before));
    } finally {
      files.remove();
    }
    // The scenario reaches the branches it is for.
    const r = memory.before;
    expect([r.indexed, r.missing.length, r.failed.length, r.inProgress.length, r.duplicated.length, r.coveredByDuplicate.length, r.unmatched.length].every((count) => count > 0)).toBe(true);
  });

  it('more candidates than one batch of metadata reads (the order of matches and unmatched kept)', async () => {
    const s = verifyScenario(99, 4000);
    const files = planWorkFiles(tmp.path('verify'));
    try {
      const { before, after, oldCalls, newCalls } = await bothVerifies(s, files);
      expect(JSON.stringify(after)).toBe(JSON.stringify(before));
      expect(newCalls).toEqual(oldCalls);
      expect(newCalls.length).toBeGreaterThan(1000);
    } finally {
      files.remove();
    }
  });
});

/** Two names of one size whose name+size keys share a 32-bit hash: found by search, once. */
function collidingNames(): [string, string] {
  const seen = new Map<number, string>();
  for (let i = 0; ; i++) {
    const name = `n${i}.mp4`;
    const hash = hash32(`${decodedFilename(name)}\u{0}100`);
    const other = seen.get(hash);
    if (other !== undefined) return [other, name];
    seen.set(hash, name);
  }
}

function dedupeScenario(seed: number, n: number, extra: VideoRef[] = []) {
  const r = random(seed);
  const sources = ['s3://b/a.mp4', 's3://b/b.mp4', 's3://b/c.mp4'];
  const videos: VideoRef[] = [...extra];
  const metadata = new Map<string, Record<string, unknown>>();
  for (let i = 0; i < n; i++) {
    const videoId = `v${String(i).padStart(4, '0')}`;
    const meta: Record<string, unknown> = r.chance(0.6) ? { tlm_source: r.pick(sources), tlm_etag: r.pick(['e1', 'e2']) } : {};
    if (!r.chance(0.05)) metadata.set(videoId, meta);
    videos.push({ videoId, filename: r.pick([...NAMES, `u${i}.mp4`, 'my%20clip%2B1.mp4']), size: r.pick([100, 200, undefined]), createdAt: r.pick(TIMES), ...(r.chance(0.3) ? { userMetadata: r.chance(0.5) ? meta : {} } : {}) });
  }
  const tasks: ListedTask[] = [];
  for (let i = 0; i < n * 1.2; i++) tasks.push({ taskId: `t${i}`, videoId: r.pick(videos).videoId, status: r.pick(['ready', 'ready', 'indexing', 'failed']) });
  return { videos, metadata, tasks };
}

describe('findDuplicateGroups, bounded: the same groups as the code that held everything', () => {
  it.each([1, 2, 3, 4, 5])('scenario %i', async (seed) => {
    const s = dedupeScenario(seed, 200);
    const taskByVideo = new Map(s.tasks.map((t) => [t.videoId, { taskId: t.taskId, status: t.status }] as const));
    const [oldEdges, newEdges] = [metadataEdges(s.metadata), metadataEdges(s.metadata)];
    const before = await legacyFindDuplicateGroups(s.videos, (id) => taskByVideo.get(id), oldEdges);
    const after = await findDuplicateGroups(s.videos, asyncIterable(s.tasks), newEdges);
    expect(JSON.stringify(after)).toBe(JSON.stringify(before));
    expect(newEdges.calls).toEqual(oldEdges.calls);
    expect(before.groups.filter((g) => g.by === 'fingerprint').length).toBeGreaterThan(0);
    expect(before.groups.filter((g) => g.by === 'filename_size').length).toBeGreaterThan(0);
  });

  it('two names whose hashes collide are not a group, and cost no read', async () => {
    const [one, two] = collidingNames();
    const lone = [one, two].map((filename, i): VideoRef => ({ videoId: `c${i}`, filename, size: 100, createdAt: TIMES[0] }));
    const s = dedupeScenario(7, 50, lone);
    const edges = metadataEdges(s.metadata);
    const { groups } = await findDuplicateGroups(s.videos, s.tasks, edges);
    expect(edges.calls).not.toContain('c0');
    expect(edges.calls).not.toContain('c1');
    expect(groups.flatMap((g) => [g.keep, ...g.remove]).map((c) => c.videoId)).not.toContain('c0');
  });
});

/** An index in memory, listed and read as the API does (pages of 50, the marker filter, 404 for a gone video). */
class FakeIndex {
  readonly deleted: string[] = [];
  constructor(
    public videos: IndexedVideo[],
    public tasks: Task[],
  ) {}

  listVideos(_indexId: string, query: ListVideosQuery = {}): Promise<Page<IndexedVideo>> {
    const filter = query.userMetadata;
    const all = this.videos.filter((v) => !filter || Object.entries(filter).every(([k, value]) => v.user_metadata?.[k] === value));
    return Promise.resolve(paged(all, query.page ?? 1, query.pageLimit ?? 10));
  }

  getVideo(_indexId: string, videoId: string): Promise<IndexedVideo> {
    const video = this.videos.find((v) => v._id === videoId);
    if (!video) return Promise.reject(new ApiError({ status: 404, code: 'resource_not_exist', message: 'no video', method: 'GET', path: '/videos' }));
    return Promise.resolve(video);
  }

  listTasks(query: ListTasksQuery = {}): Promise<Page<Task>> {
    const statuses = query.status;
    return Promise.resolve(paged(this.tasks.filter((t) => !statuses || statuses.includes(t.status)), query.page ?? 1, query.pageLimit ?? 10));
  }

  deleteVideo(_indexId: string, videoId: string): Promise<void> {
    this.deleted.push(`video ${videoId}`);
    this.videos = this.videos.filter((v) => v._id !== videoId);
    return Promise.resolve();
  }

  deleteTask(taskId: string): Promise<void> {
    this.deleted.push(`task ${taskId}`);
    this.tasks = this.tasks.filter((t) => t._id !== taskId);
    return Promise.resolve();
  }
}

function paged<T>(all: T[], page: number, limit: number): Page<T> {
  return { data: all.slice((page - 1) * limit, page * limit), page_info: { page, limit_per_page: limit, total_page: Math.max(1, Math.ceil(all.length / limit)), total_results: all.length } };
}

const INDEX = 'i'.repeat(24);
const IDENTITY = { uri: `s3://${BUCKET}`, bucket: BUCKET, prefix: '', indexId: INDEX };

/** A migration's world: objects, the index that holds their videos (with copies), and what the state recorded. */
function world(seed: number, n: number) {
  const r = random(seed);
  const objects: SourceObject[] = [];
  for (let i = 0; i < n; i++) objects.push({ key: `v/${String(i).padStart(4, '0')}${r.pick([' clip', '', '+x'])}.mp4`, size: r.pick([100, 200]), etag: `e${i % (n - 3)}`, lastModified: '2026-01-01T00:00:00Z' });
  const videos: IndexedVideo[] = [];
  const tasks: Task[] = [];
  const items: Array<[string, Partial<ItemState>]> = [];
  objects.forEach((o, i) => {
    const copies = r.chance(0.7) ? (r.chance(0.15) ? 2 : 1) : 0;
    for (let c = 0; c < copies; c++) {
      const id = `vid${i}-${c}`;
      videos.push({ _id: id, created_at: `2026-01-0${1 + c}T00:00:00Z`, system_metadata: { filename: basename(o.key), size: o.size }, user_metadata: { tlm_tool: 'tlmigrate', tlm_source: objectUri(BUCKET, o.key), tlm_etag: o.etag } });
      tasks.push({ _id: `task${i}-${c}`, video_id: id, status: 'ready', system_metadata: { filename: basename(o.key) } });
    }
    const status: TaskStatus = r.pick(['indexing', 'failed']);
    if (copies === 0 && r.chance(0.5)) tasks.push({ _id: `task${i}-x`, status, system_metadata: { filename: basename(o.key) }, ...(status === 'failed' ? { error: { code: 'video_bad', message: 'bad' } } : {}) });
    if (r.chance(0.2)) return;
    const item: Partial<ItemState> = { key: o.key, size: o.size, etag: o.etag, status: copies ? 'ready' : r.pick(['failed', 'submitted', 'planned'] as const), attempts: 1, updatedAt: '2026-01-05T00:00:00.000Z' };
    if (copies) Object.assign(item, { taskId: `task${i}-0`, videoId: `vid${i}-0` });
    if (item.status === 'failed') item.lastError = { code: 'upload_failed', message: 'it failed', at: '2026-01-05T00:00:00.000Z' };
    items.push([objectUri(BUCKET, o.key), item]);
  });
  // A legacy video (no fingerprint) of one object, and one of nothing.
  videos.push({ _id: 'legacy1', created_at: TIMES[0], system_metadata: { filename: basename(objects[1]?.key ?? ''), size: objects[1]?.size } });
  videos.push({ _id: 'stray', created_at: TIMES[0], system_metadata: { filename: 'stray.mp4', size: 5 } });
  return { objects, videos, tasks, items };
}

/** The same items in a one-file state and in a state in parts of two items each. */
async function writeStates(dir: string, items: Array<[string, Partial<ItemState>]>): Promise<{ oneFile: string; parted: string }> {
  const oneFile = join(dir, 'one.json');
  const parted = join(dir, 'parted.json');
  const one = await StateStore.open(oneFile, IDENTITY, 'apply', 'test');
  const parts = await PartedStore.open(parted, IDENTITY, 'apply', 'test', { partSize: 2 });
  for (const [uri, item] of items) {
    await one.setItem(uri, item);
    await parts.setItem(uri, item);
  }
  await one.close();
  await parts.close();
  return { oneFile, parted };
}

const quiet = { log: createLogger({ level: 'silent' }), progress: { update: () => undefined, done: () => undefined } };
const lister = (objects: SourceObject[]) => ({ list: () => asyncIterable(objects) });
const verifyArgs = (state: string): VerifyArgs => ({ source: `s3://${BUCKET}`, index: INDEX, state, include: [], exclude: [] });

async function itemsOf(path: string): Promise<Array<[string, Omit<ItemState, 'updatedAt'>]>> {
  const view = (await openStateView(path)) as StateView;
  const items: Array<[string, Omit<ItemState, 'updatedAt'>]> = [];
  try {
    for await (const [uri, { updatedAt: _at, ...item }] of view.items()) items.push([uri, item]);
  } finally {
    await view.close();
  }
  return items.sort(([a], [b]) => (a < b ? -1 : 1));
}

describe('verify and dedupe on a state in parts: as on the same state in one file, and as the old path', () => {
  const tmp = useTmpDir();

  it('verify --state: the same outcome from either layout, equal to the old path on the one file', async () => {
    const w = world(3, 60);
    const { oneFile, parted } = await writeStates(tmp.dir, w.items);
    const edges = { api: new FakeIndex(w.videos, w.tasks), index: { index_name: 'idx', models: [] }, lister: lister(w.objects), spec: { bucket: BUCKET, prefix: '' } };
    const fromOne = await verifySource(verifyArgs(oneFile), edges, quiet);
    const fromParts = await verifySource(verifyArgs(parted), edges, quiet);
    expect(JSON.stringify({ ...fromParts, statePath: oneFile })).toBe(JSON.stringify(fromOne));
    expect(fromParts.statePath).toBe(parted);

    // The old path: every video listed into an array, the state loaded whole.
    const state = await loadState(oneFile);
    const all = await listAllVideos(edges.api, INDEX);
    const ours = await findOurVideos(edges.api, INDEX, all, createdVideoIds(Object.values(state?.items ?? {})));
    const tasks = await listTasks(edges.api, { indexId: INDEX, status: ['uploading', 'validating', 'pending', 'queued', 'indexing', 'failed'] });
    const filter = keyFilter({ include: [], exclude: [], extensions: ['mp4', 'mov'], allFiles: false });
    const old = await legacyVerifyIndex({
      bucket: BUCKET,
      sourceUri: `s3://${BUCKET}`,
      objects: asyncIterable(w.objects),
      excluded: (o) => filter(o.key, o.size) !== undefined,
      unindexable: (o) => preflightListing(o, DEFAULT_REQUIREMENTS),
      videos: all.map((v) => toVideoRef(v, ours)),
      tasks: tasks.map((t) => ({ taskId: t._id, videoId: t.video_id, filename: t.system_metadata?.filename ?? '', status: t.status, createdAt: t.created_at, ...(typeof t.error === 'object' && t.error?.code ? { error: { code: t.error.code, message: t.error.message ?? '' } } : {}) })),
      known: (uri) => state?.items[uri],
      edges: metadataReader(edges.api, INDEX),
    });
    expect(JSON.stringify(fromOne.result)).toBe(JSON.stringify(old));
    expect(old.duplicated.length).toBeGreaterThan(0);
    expect(old.failed.length + old.inProgress.length).toBeGreaterThan(0);
  });

  it('dedupe (dry run): the same groups from either layout, equal to the old path', async () => {
    const w = world(4, 60);
    const { oneFile, parted } = await writeStates(tmp.dir, w.items);
    const api = new FakeIndex(w.videos, w.tasks);
    const args = (state: string): DedupeArgs => ({ index: INDEX, state, yes: false });
    const fromOne = await dedupeIndex(args(oneFile), { api, index: { index_name: 'idx' } }, quiet);
    const fromParts = await dedupeIndex(args(parted), { api, index: { index_name: 'idx' } }, quiet);
    expect(JSON.stringify(fromParts)).toBe(JSON.stringify(fromOne));
    expect(api.deleted).toEqual([]);

    const all = await listAllVideos(api, INDEX);
    const state = await loadState(oneFile);
    const ours = await findOurVideos(api, INDEX, all, createdVideoIds(Object.values(state?.items ?? {})));
    const tasks = await listTasks(api, { indexId: INDEX });
    const taskByVideo = new Map(tasks.flatMap((t) => (t.video_id ? [[t.video_id, { taskId: t._id, status: t.status }] as const] : [])));
    const old = await legacyFindDuplicateGroups(
      all.map((v) => toVideoRef(v, ours)),
      (id) => taskByVideo.get(id),
      metadataReader(api, INDEX),
    );
    expect(JSON.stringify(fromOne.groups)).toBe(JSON.stringify(old.groups));
    expect(fromOne.metadataFetches).toBe(old.metadataFetches);
    expect(old.groups.length).toBeGreaterThan(0);
  });

  it('dedupe --yes: the same deletions from either layout; each state records them and moves its items to the copy kept', async () => {
    const w = world(5, 60);
    const { oneFile, parted } = await writeStates(tmp.dir, w.items);
    const run = async (state: string) => {
      const api = new FakeIndex([...w.videos], [...w.tasks]);
      const outcome = await dedupeIndex({ index: INDEX, state, yes: true }, { api, index: { index_name: 'idx' } }, quiet);
      return { outcome, deleted: api.deleted };
    };
    const one = await run(oneFile);
    const parts = await run(parted);
    expect(parts.deleted).toEqual(one.deleted);
    expect(one.deleted.length).toBeGreaterThan(0);
    expect({ ...parts.outcome, recordedIn: oneFile }).toEqual(one.outcome);
    expect(await itemsOf(parted)).toEqual(await itemsOf(oneFile));
    const history = async (path: string) => {
      const view = (await openStateView(path)) as StateView;
      await view.close();
      return (view.header.history ?? []).map(({ at: _at, ...entry }) => entry);
    };
    expect(await history(parted)).toEqual(await history(oneFile));
    // No item still points at a deleted copy.
    const gone = new Set(one.deleted.filter((d) => d.startsWith('video ')).map((d) => d.slice(6)));
    expect((await itemsOf(parted)).filter(([, item]) => item.videoId && gone.has(item.videoId))).toEqual([]);
    expect((await itemsOf(parted)).some(([, item]) => item.videoId?.endsWith('-0'))).toBe(true);
  });
});

describe('withWorkFiles', () => {
  const tmp = useTmpDir();

  async function withTmpdir<T>(dir: string, work: () => Promise<T>): Promise<T> {
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = dir;
    try {
      return await work();
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
  }

  it('refuses with one line when no temporary folder can be made', async () => {
    await withTmpdir(tmp.path('no-such-folder'), () => expect(withWorkFiles('verify', () => Promise.resolve())).rejects.toMatchObject({ code: 'tmpdir_unwritable' }));
  });

  it('a file that cannot be written in its folder (here: the folder removed under it) is refused as the temporary folder, not as a plan', async () => {
    const refused = () =>
      withWorkFiles('verify', async (work) => {
        const lines = work.lines('objects');
        await rm(join(tmp.dir, (await readdir(tmp.dir))[0] as string), { recursive: true, force: true });
        for (let i = 0; i < 30_000; i++) lines.append(`line ${i} ${'x'.repeat(40)}`);
      }, 0);
    await withTmpdir(tmp.dir, () => expect(refused()).rejects.toMatchObject({ code: 'tmpdir_unwritable', message: expect.stringMatching(/^cannot write a temporary file in .*tlmigrate-verify-.* \(ENOENT\): free space there, or set TMPDIR/) as unknown }));
  });

  it('removes its folder and files however the work ends', async () => {
    const failing = () =>
      withWorkFiles('verify', async (work) => {
        const lines = work.lines('objects');
        for (let i = 0; i < 30_000; i++) lines.append(`line ${i} ${'x'.repeat(40)}`);
        for await (const _line of lines.lines()) break;
        expect(await readdir(tmp.dir)).toHaveLength(1);
        throw new Error('work failed');
      });
    await withTmpdir(tmp.dir, () => expect(failing()).rejects.toThrow('work failed'));
    expect(await readdir(tmp.dir)).toEqual([]);
  });
});
