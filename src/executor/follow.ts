import type { Clock } from '../clock.js';
import type { StateStore } from '../state/index.js';
import { listTasks } from '../twelvelabs/index-reader.js';
import type { Task, TaskStatus } from '../twelvelabs/types.js';
import type { ExecutorApi } from './types.js';

const TERMINAL = new Set(['ready', 'failed']);
const FOLLOWED = new Set(['submitted', 'uploading', 'validating', 'pending', 'queued', 'indexing']);
const SKEW_MS = 60_000;

export interface FollowOptions {
  api: Pick<ExecutorApi, 'listTasks'>;
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
    if (!item.taskId || !FOLLOWED.has(item.status)) continue;
    byTask.set(item.taskId, uri);
    since = Math.min(since, Date.parse(item.submittedAt ?? item.updatedAt));
  }
  let counts = countStatuses(o.store);
  if (byTask.size === 0) return counts;
  for (;;) {
    const pollStartedAt = o.clock.now();
    const tasks = await listTasks(o.api, { indexId: o.indexId, updatedAt: new Date(since - SKEW_MS).toISOString(), sortBy: 'updated_at' }, o.signal ? { signal: o.signal } : {});
    for (const task of tasks) {
      const uri = byTask.get(task._id);
      if (!uri) continue;
      await applyTask(o.store, uri, task);
      if (TERMINAL.has(task.status)) byTask.delete(task._id);
    }
    counts = countStatuses(o.store);
    o.onProgress?.(counts);
    if (o.once || byTask.size === 0 || o.signal?.aborted) return counts;
    since = pollStartedAt;
    await o.clock.sleep(o.pollMs, o.signal);
  }
}

async function applyTask(store: StateStore, uri: string, task: Task): Promise<void> {
  const item = store.item(uri);
  if (!item || item.status === task.status) return;
  const status: TaskStatus = task.status === 'uploading' ? 'validating' : task.status;
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
