import type { TwelveLabsClient } from './client.js';
import type { IndexedAsset, IndexedVideo, ListIndexedAssetsQuery, Page, Task, TaskStatus } from './types.js';

/** Every video and asset tlmigrate creates carries this pair, so one filtered listing finds them all. */
export const TLM_MARKER = { tlm_tool: 'tlmigrate' } as const;

export const IN_FLIGHT_STATUSES: TaskStatus[] = ['uploading', 'validating', 'pending', 'queued', 'indexing'];
export const PAGE_LIMIT = 50;
/** Pages of one listing read at once. */
export const INDEX_READ_CONCURRENCY = 8;

export interface ReadProgress {
  onPage?(kind: 'videos' | 'tasks', page: number, totalPages: number): void;
}

/**
 * Where a listing's items go as they are read, in page order (whatever order the pages arrive in):
 * `add` is called for every item of every page and says whether its id is new. A page may repeat
 * ids of another when the listing shifts under concurrent writes; the reader relies on the answer
 * to know when a listing grew.
 */
export interface ListingSink<R> {
  add(id: string, item: R): boolean;
  /**
   * Awaited after each page is added, before the reader that added it reads on: a sink whose
   * `add` only collects can act on what it collected there (the readers ahead stay within their window).
   */
  drain?(): Promise<void>;
}

/** Pages read ahead of the one being merged, per page read at once: what waits in memory behind a slow page. */
const WINDOW_PER_READ = 8;

/**
 * Reads every page of a listing into `sink`: the first page tells the total, the rest are fetched in
 * parallel (at most `concurrency` at once, and never more than a window ahead of the page merged
 * next, so a slow page holds back a bounded number). Sorted oldest first so that videos added
 * meanwhile land on later pages. Each page is reduced (`keep`) as it arrives.
 */
async function readPagesInto<T extends { _id: string }, R>(
  fetchPage: (page: number) => Promise<Page<T>>,
  concurrency: number,
  sink: ListingSink<R>,
  keep: (item: T) => R,
  onPage?: (page: number, total: number) => void,
): Promise<void> {
  const first = await fetchPage(1);
  const totalPages = Math.max(1, first.page_info?.total_page ?? 1);
  onPage?.(1, totalPages);
  const merge = (data: T[] | undefined): boolean => {
    let added = false;
    for (const item of data ?? []) if (sink.add(item._id, keep(item))) added = true;
    return added;
  };
  merge(first.data);
  await sink.drain?.();
  // One page past the total, read with the others: a listing that grew meanwhile shows it there,
  // without a round trip of its own after the last page.
  let grew = await readInOrder(
    2,
    totalPages + 1,
    concurrency,
    fetchPage,
    (page, data) => {
      if (page <= totalPages) onPage?.(page, totalPages);
      return merge(data);
    },
    sink.drain?.bind(sink),
  );
  // It grew: read on until a page is empty. A server that ignores `page` would answer the same page
  // forever: a page with nothing new ends it too.
  for (let page = totalPages + 2; grew; page++) {
    grew = merge((await fetchPage(page)).data);
    await sink.drain?.();
  }
}

/**
 * Fetches pages `from`..`to` with `concurrency` readers and hands each to `merge` in page order;
 * resolves with what `merge` said of the last one. A reader waits while its page is a window or
 * more ahead of the next page to merge. The first failure rejects (once a drain under way has
 * ended), and the other readers stop.
 */
async function readInOrder<T>(
  from: number,
  to: number,
  concurrency: number,
  fetchPage: (page: number) => Promise<Page<T>>,
  merge: (page: number, data: T[] | undefined) => boolean,
  drain?: () => Promise<void>,
): Promise<boolean> {
  const window = Math.max(1, concurrency) * WINDOW_PER_READ;
  const arrived = new Map<number, T[] | undefined>();
  let nextToRead = from;
  let nextToMerge = from;
  let last = false;
  let failed = false;
  let moved = signal();
  const draining = new Set<Promise<void>>();
  const reader = async (): Promise<void> => {
    for (let page = nextToRead++; page <= to && !failed; page = nextToRead++) {
      while (page - nextToMerge >= window && !failed) await moved.promise;
      if (failed) return;
      const { data } = await fetchPage(page);
      // Nothing is merged once the listing failed: its caller may be removing what it wrote.
      if (failed) return;
      arrived.set(page, data);
      for (let data = arrived.get(nextToMerge); arrived.has(nextToMerge); data = arrived.get(nextToMerge)) {
        arrived.delete(nextToMerge);
        last = merge(nextToMerge, data);
        nextToMerge += 1;
      }
      if (drain) {
        const drained = drain();
        draining.add(drained);
        await drained.finally(() => draining.delete(drained));
      }
      moved.resolve();
      moved = signal();
    }
  };
  const readers = Array.from({ length: Math.max(1, Math.min(concurrency, to - from + 1)) }, () =>
    reader().catch((error: unknown) => {
      failed = true;
      moved.resolve();
      throw error;
    }),
  );
  try {
    await Promise.all(readers);
  } catch (error) {
    // A drain under way (recording a page's changes) ends before the failure is thrown: the caller
    // may close its store or remove its files next. Fetches still out are not waited for.
    await Promise.allSettled(draining);
    throw error;
  }
  return last;
}

/** A promise and the function that resolves it (Promise.withResolvers is Node 22). */
function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => undefined as void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * Reads every page of a listing and returns its items, each id once: at its first place in page
 * order, with the newest answer for it. Only what `keep` keeps of each item stays in memory.
 */
async function readAllPages<T extends { _id: string }, R = T>(
  fetchPage: (page: number) => Promise<Page<T>>,
  concurrency: number,
  onPage?: (page: number, total: number) => void,
  keep: (item: T) => R = (item) => item as unknown as R,
): Promise<R[]> {
  const seen = new Map<string, R>();
  const sink: ListingSink<R> = {
    add(id, item) {
      const fresh = !seen.has(id);
      seen.set(id, item);
      return fresh;
    },
  };
  await readPagesInto(fetchPage, concurrency, sink, keep, onPage);
  return [...seen.values()];
}

/** Every video of an index; with `keep`, only what it keeps of each (the pages themselves are not held). */
export function listAllVideos<R = IndexedVideo>(
  client: Pick<TwelveLabsClient, 'listVideos'>,
  indexId: string,
  options: VideoListingOptions & { keep?: (video: IndexedVideo) => R } = {},
): Promise<R[]> {
  return readAllPages(videoPages(client, indexId, options), options.concurrency ?? INDEX_READ_CONCURRENCY, (p, t) => options.onPage?.('videos', p, t), options.keep);
}

/**
 * Every video of an index into `sink`, in listing order, as the pages arrive: nothing of the
 * listing is held here, so an index of millions of videos can be spilled to disk as it is read.
 */
export function readAllVideosInto<R>(
  client: Pick<TwelveLabsClient, 'listVideos'>,
  indexId: string,
  sink: ListingSink<R>,
  keep: (video: IndexedVideo) => R,
  options: VideoListingOptions = {},
): Promise<void> {
  return readPagesInto(videoPages(client, indexId, options), options.concurrency ?? INDEX_READ_CONCURRENCY, sink, keep, (p, t) => options.onPage?.('videos', p, t));
}

type VideoListingOptions = { concurrency?: number; signal?: AbortSignal; userMetadata?: Record<string, string> } & ReadProgress;

function videoPages(client: Pick<TwelveLabsClient, 'listVideos'>, indexId: string, options: VideoListingOptions): (page: number) => Promise<Page<IndexedVideo>> {
  const filter = options.userMetadata ? { userMetadata: options.userMetadata } : {};
  return (page) => client.listVideos(indexId, { page, pageLimit: PAGE_LIMIT, sortBy: 'created_at', sortOption: 'asc', ...filter }, options.signal);
}

/** What the planner's matching needs of a listed video (its id, name, size, metadata when listed): a few percent of the page. */
export function slimVideo(video: IndexedVideo): IndexedVideo {
  const slim: IndexedVideo = { _id: video._id };
  if (video.user_metadata !== undefined) slim.user_metadata = video.user_metadata;
  const meta = video.system_metadata;
  if (meta) {
    slim.system_metadata = {};
    if (meta.filename !== undefined) slim.system_metadata.filename = meta.filename;
    if (meta.size !== undefined) slim.system_metadata.size = meta.size;
  }
  return slim;
}

/** What the planner needs of a task in flight: its id, video, status and file name. */
export function slimTask(task: Task): Task {
  const slim: Task = { _id: task._id, status: task.status };
  if (task.video_id !== undefined) slim.video_id = task.video_id;
  if (task.system_metadata?.filename !== undefined) slim.system_metadata = { filename: task.system_metadata.filename };
  return slim;
}

/** What the plan needs of a listed indexed asset: its id, status, name, size and listed metadata. */
export function slimAsset(asset: IndexedAsset): IndexedAsset {
  const slim: IndexedAsset = { _id: asset._id };
  if (asset.status !== undefined) slim.status = asset.status;
  if (asset.created_at !== undefined) slim.created_at = asset.created_at;
  if (asset.user_metadata !== undefined) slim.user_metadata = asset.user_metadata;
  const meta = asset.system_metadata;
  if (meta) {
    slim.system_metadata = {};
    if (meta.filename !== undefined) slim.system_metadata.filename = meta.filename;
    if (meta.size !== undefined) slim.system_metadata.size = meta.size;
  }
  return slim;
}

export function listTasks(
  client: Pick<TwelveLabsClient, 'listTasks'>,
  query: { indexId: string; status?: TaskStatus[]; createdAt?: string; updatedAt?: string; filename?: string; sortBy?: 'created_at' | 'updated_at' },
  options: { concurrency?: number; signal?: AbortSignal } & ReadProgress = {},
): Promise<Task[]> {
  return readAllPages(
    (page) => client.listTasks({ ...query, page, pageLimit: PAGE_LIMIT, sortBy: query.sortBy ?? 'created_at', sortOption: 'asc' }, options.signal),
    options.concurrency ?? INDEX_READ_CONCURRENCY,
    (p, t) => options.onPage?.('tasks', p, t),
  );
}

/** Tasks of an index into `sink`, in listing order, as the pages arrive (see `readAllVideosInto`). */
export function readTasksInto<R>(
  client: Pick<TwelveLabsClient, 'listTasks'>,
  query: { indexId: string; status?: TaskStatus[]; updatedAt?: string; sortBy?: 'created_at' | 'updated_at' },
  sink: ListingSink<R>,
  keep: (task: Task) => R,
  options: { concurrency?: number; signal?: AbortSignal } & ReadProgress = {},
): Promise<void> {
  const fetchPage = (page: number) => client.listTasks({ ...query, page, pageLimit: PAGE_LIMIT, sortBy: query.sortBy ?? 'created_at', sortOption: 'asc' }, options.signal);
  return readPagesInto(fetchPage, options.concurrency ?? INDEX_READ_CONCURRENCY, sink, keep, (p, t) => options.onPage?.('tasks', p, t));
}

/** Every indexed asset of an index into `sink`, in listing order, as the pages arrive (see `readAllVideosInto`). */
export function readAllIndexedAssetsInto<R>(
  client: Pick<TwelveLabsClient, 'listIndexedAssets'>,
  indexId: string,
  sink: ListingSink<R>,
  keep: (asset: IndexedAsset) => R,
  options: { concurrency?: number; signal?: AbortSignal; query?: Omit<ListIndexedAssetsQuery, 'page' | 'pageLimit'> } & ReadProgress = {},
): Promise<void> {
  return readPagesInto(assetPages(client, indexId, options.query ?? {}, options.signal), options.concurrency ?? INDEX_READ_CONCURRENCY, sink, keep, (p, t) => options.onPage?.('videos', p, t));
}

function assetPages(client: Pick<TwelveLabsClient, 'listIndexedAssets'>, indexId: string, query: Omit<ListIndexedAssetsQuery, 'page' | 'pageLimit'>, signal?: AbortSignal): (page: number) => Promise<Page<IndexedAsset>> {
  return (page) => client.listIndexedAssets(indexId, { sortBy: 'created_at', sortOption: 'asc', ...query, page, pageLimit: PAGE_LIMIT }, signal);
}
