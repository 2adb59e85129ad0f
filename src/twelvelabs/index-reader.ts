import pLimit from 'p-limit';
import type { TwelveLabsClient } from './client.js';
import type { IndexedAsset, IndexedVideo, ListIndexedAssetsQuery, Page, Task, TaskStatus } from './types.js';

/** Every video and asset tlmigrate creates carries this pair, so one filtered listing finds them all. */
export const TLM_MARKER = { tlm_tool: 'tlmigrate' } as const;

export const IN_FLIGHT_STATUSES: TaskStatus[] = ['uploading', 'validating', 'pending', 'queued', 'indexing'];
const PAGE_LIMIT = 50;

export interface ReadProgress {
  onPage?(kind: 'videos' | 'tasks', page: number, totalPages: number): void;
}

/**
 * Reads every page of a listing: the first page tells the total, the rest are fetched in parallel.
 * Sorted oldest first so that videos added meanwhile land on later pages; deduplicated by id.
 */
async function readAllPages<T extends { _id: string }>(
  fetchPage: (page: number) => Promise<Page<T>>,
  concurrency: number,
  onPage?: (page: number, total: number) => void,
): Promise<T[]> {
  const first = await fetchPage(1);
  const totalPages = Math.max(1, first.page_info?.total_page ?? 1);
  onPage?.(1, totalPages);
  const limit = pLimit(concurrency);
  const rest = await Promise.all(
    Array.from({ length: totalPages - 1 }, (_, i) =>
      limit(async () => {
        const page = await fetchPage(i + 2);
        onPage?.(i + 2, totalPages);
        return page.data ?? [];
      }),
    ),
  );
  const seen = new Map<string, T>();
  for (const item of [first.data ?? [], ...rest].flat()) seen.set(item._id, item);
  // A listing that grew while we read it has more pages than the first one said: read on until empty.
  // A server that ignores `page` would answer the same page forever: a page with nothing new ends it too.
  for (let page = totalPages + 1; ; page++) {
    const more = await fetchPage(page);
    const before = seen.size;
    for (const item of more.data ?? []) seen.set(item._id, item);
    if (seen.size === before) break;
  }
  return [...seen.values()];
}

export function listAllVideos(
  client: Pick<TwelveLabsClient, 'listVideos'>,
  indexId: string,
  options: { concurrency?: number; signal?: AbortSignal; userMetadata?: Record<string, string> } & ReadProgress = {},
): Promise<IndexedVideo[]> {
  return readAllPages(
    (page) => client.listVideos(indexId, { page, pageLimit: PAGE_LIMIT, sortBy: 'created_at', sortOption: 'asc', ...(options.userMetadata ? { userMetadata: options.userMetadata } : {}) }, options.signal),
    options.concurrency ?? 8,
    (p, t) => options.onPage?.('videos', p, t),
  );
}

export function listTasks(
  client: Pick<TwelveLabsClient, 'listTasks'>,
  query: { indexId: string; status?: TaskStatus[]; createdAt?: string; updatedAt?: string; filename?: string; sortBy?: 'created_at' | 'updated_at' },
  options: { concurrency?: number; signal?: AbortSignal } & ReadProgress = {},
): Promise<Task[]> {
  return readAllPages(
    (page) => client.listTasks({ ...query, page, pageLimit: PAGE_LIMIT, sortBy: query.sortBy ?? 'created_at', sortOption: 'asc' }, options.signal),
    options.concurrency ?? 8,
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
    options.concurrency ?? 8,
    (p, t) => options.onPage?.('videos', p, t),
  );
}
