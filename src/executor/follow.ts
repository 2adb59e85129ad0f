import type { Clock } from '../clock.js';
import type { StateStore } from '../state/index.js';
import type { TwelveLabsClient } from '../twelvelabs/client.js';
import { listAllIndexedAssets, listTasks } from '../twelvelabs/index-reader.js';
import type { TaskStatus } from '../twelvelabs/types.js';
import type { ExecutorApi, Via } from './types.js';

const TERMINAL = new Set(['ready', 'failed']);
const FOLLOWED = new Set(['submitted', 'uploading', 'validating', 'pending', 'queued', 'indexing']);
const SKEW_MS = 60_000;

/** What a poll learns about one task or indexed asset. */
interface Progressed {
  _id: string;
  status?: string | undefined;
  video_id?: string | undefined;
  updated_at?: string | undefined;
  error?: { code?: string; message?: string } | string | null | undefined;
}

export interface FollowOptions {
  api: Pick<ExecutorApi, 'listTasks'> & Partial<Pick<TwelveLabsClient, 'listIndexedAssets'>>;
  /** `assets`: follow indexed assets (GET /indexes/{id}/indexed-assets) instead of tasks. */
  via?: Via | undefined;
  store: StateStore;
  clock: Clock;
  indexId: string;
  pollMs: number;
  signal?: AbortSignal;
  onProgress?: (counts: Record<string, number>) => void;
  /** One pass only (status --refresh). */
  once?: boolean;
}

/**
 * Follows submitted tasks to ready/failed by listing the index's tasks updated since the last
 * poll (pages of 50), never one GET per task.
 */
export async function followTasks(o: FollowOptions): Promise<Record<string, number>> {
  const byTask = new Map<string, string>();
  let since = Number.POSITIVE_INFINITY;
  for (const [uri, item] of Object.entries(o.store.state.items)) {
    const id = item.indexedAssetId ?? item.taskId;
    if (!id || !FOLLOWED.has(item.status)) continue;
    byTask.set(id, uri);
    since = Math.min(since, Date.parse(item.submittedAt ?? item.updatedAt));
  }
  let counts = countStatuses(o.store);
  if (byTask.size === 0) return counts;
  for (;;) {
    const pollStartedAt = o.clock.now();
    const updatedAt = new Date(since - SKEW_MS).toISOString();
    const signal = o.signal ? { signal: o.signal } : {};
    const tasks: Progressed[] =
      o.via === 'assets' && o.api.listIndexedAssets
        ? await listAllIndexedAssets({ listIndexedAssets: o.api.listIndexedAssets.bind(o.api) }, o.indexId, { updatedAt, sortBy: 'updated_at' }, signal)
        : await listTasks(o.api, { indexId: o.indexId, updatedAt, sortBy: 'updated_at' }, signal);
    for (const task of tasks) {
      const uri = byTask.get(task._id);
      if (!uri) continue;
      await applyTask(o.store, uri, task);
      if (TERMINAL.has(task.status ?? '')) byTask.delete(task._id);
    }
    counts = countStatuses(o.store);
    o.onProgress?.(counts);
    if (o.once || byTask.size === 0 || o.signal?.aborted) return counts;
    since = pollStartedAt;
    await o.clock.sleep(o.pollMs, o.signal);
  }
}

async function applyTask(store: StateStore, uri: string, task: Progressed): Promise<void> {
  const item = store.item(uri);
  if (!item || !task.status || item.status === task.status) return;
  const status = (task.status === 'uploading' ? 'validating' : task.status) as TaskStatus;
  const error = task.error;
  const lastError =
    status === 'failed'
      ? {
          code: typeof error === 'object' && error?.code ? error.code : 'indexing_failed',
          message: typeof error === 'string' ? error : typeof error === 'object' && error?.message ? error.message : 'the platform marked the task failed (no reason given by the API)',
          at: task.updated_at ?? new Date().toISOString(),
        }
      : undefined;
  await store.setItem(uri, { status, ...(task.video_id ? { videoId: task.video_id } : {}), ...(lastError ? { lastError } : {}) });
}

export function countStatuses(store: StateStore): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of Object.values(store.state.items)) counts[item.status] = (counts[item.status] ?? 0) + 1;
  return counts;
}
