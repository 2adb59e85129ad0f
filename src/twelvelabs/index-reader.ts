import pLimit from 'p-limit';
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
 * Reads every page of a listing: the first page tells the total, the rest are fetched in parallel.
 * Sorted oldest first so that videos added meanwhile land on later pages; deduplicated by id. Each
 * page is reduced (`keep`) as it arrives, so only what the caller keeps stays in memory.
 */
async function readAllPages<T extends { _id: string }, R = T>(
  fetchPage: (page: number) => Promise<Page<T>>,
  concurrency: number,
  onPage?: (page: number, total: number) => void,
  keep: (item: T) => R = (item) => item as unknown as R,
): Promise<R[]> {
  const first = await fetchPage(1);
  const totalPages = Math.max(1, first.page_info?.total_page ?? 1);
  onPage?.(1, totalPages);
  // Merged in page order, whatever order the pages arrive in: the result does not depend on timing.
  const pages: Array<Array<[string, R]>> = [reduce(first.data, keep)];
  const limit = pLimit(concurrency);
  // One page past the total, read with the others: a listing that grew meanwhile shows it there,
  // without a round trip of its own after the last page.
  await Promise.all(
    Array.from({ length: totalPages }, (_, i) =>
      limit(async () => {
        const page = await fetchPage(i + 2);
        if (i + 2 <= totalPages) onPage?.(i + 2, totalPages);
        pages[i + 1] = reduce(page.data, keep);
      }),
    ),
  );
  const seen = new Map<string, R>();
  let grew = false;
  for (let i = 0; i < pages.length; i++) {
    const before = seen.size;
    for (const [id, item] of pages[i] ?? []) seen.set(id, item);
    grew = seen.size > before;
    pages[i] = [];
  }
  // It grew: read on until a page is empty. A server that ignores `page` would answer the same page
  // forever: a page with nothing new ends it too.
  for (let page = totalPages + 2; grew; page++) {
    const more = await fetchPage(page);
    const before = seen.size;
    for (const [id, item] of reduce(more.data, keep)) seen.set(id, item);
    grew = seen.size > before;
  }
  return [...seen.values()];
}

function reduce<T extends { _id: string }, R>(data: T[] | undefined, keep: (item: T) => R): Array<[string, R]> {
  return (data ?? []).map((item) => [item._id, keep(item)]);
}

/** Every video of an index; with `keep`, only what it keeps of each (the pages themselves are not held). */
export function listAllVideos<R = IndexedVideo>(
  client: Pick<TwelveLabsClient, 'listVideos'>,
  indexId: string,
  options: { concurrency?: number; signal?: AbortSignal; userMetadata?: Record<string, string>; keep?: (video: IndexedVideo) => R } & ReadProgress = {},
): Promise<R[]> {
  return readAllPages(
    (page) => client.listVideos(indexId, { page, pageLimit: PAGE_LIMIT, sortBy: 'created_at', sortOption: 'asc', ...(options.userMetadata ? { userMetadata: options.userMetadata } : {}) }, options.signal),
    options.concurrency ?? INDEX_READ_CONCURRENCY,
    (p, t) => options.onPage?.('videos', p, t),
    options.keep,
  );
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

export function listAllIndexedAssets(
  client: Pick<TwelveLabsClient, 'listIndexedAssets'>,
  indexId: string,
  query: Omit<ListIndexedAssetsQuery, 'page' | 'pageLimit'> = {},
  options: { concurrency?: number; signal?: AbortSignal } & ReadProgress = {},
): Promise<IndexedAsset[]> {
  return readAllPages(
    (page) => client.listIndexedAssets(indexId, { sortBy: 'created_at', sortOption: 'asc', ...query, page, pageLimit: PAGE_LIMIT }, options.signal),
    options.concurrency ?? INDEX_READ_CONCURRENCY,
    (p, t) => options.onPage?.('videos', p, t),
  );
}
