import pLimit from 'p-limit';
import type { Clock } from '../clock.js';
import { ApiError } from '../errors.js';
import { ENDED, IN_FLIGHT, statusIn, type ItemStatus, type ItemStore } from '../state/index.js';
import type { TwelveLabsClient } from '../twelvelabs/client.js';
import { listAllIndexedAssets, listTasks } from '../twelvelabs/index-reader.js';
import type { TaskStatus } from '../twelvelabs/types.js';
import type { ExecutorApi, Via } from './types.js';

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
  api: Pick<ExecutorApi, 'listTasks'> & Pick<TwelveLabsClient, 'getTask'> & Partial<Pick<TwelveLabsClient, 'listIndexedAssets' | 'getIndexedAsset'>>;
  /** `assets`: follow indexed assets (GET /indexes/{id}/indexed-assets) instead of tasks. */
  via?: Via | undefined;
  store: ItemStore;
  clock: Clock;
  indexId: string;
  pollMs: number;
  signal?: AbortSignal;
  onProgress?: (counts: Record<string, number>) => void;
  /** One pass only (status --refresh). */
  once?: boolean;
}

/** Polls in a row whose listing reported no change before the open items are read by id. */
export const QUIET_POLLS = 2;
/** Open items read by id per round, least recently seen first: bounded whatever the run's size. */
export const READS_PER_ROUND = 50;
const READ_CONCURRENCY = 4;

/** An item being followed: its task or indexed asset, and the last poll that saw it. */
interface Followed {
  uri: string;
  kind: 'task' | 'indexed_asset';
  seenAt: number;
  /** Its status as last recorded: a report of the same status changes nothing. */
  status: ItemStatus;
}

/**
 * Follows submitted tasks (or indexed assets) to ready/failed by listing the index's ones updated
 * since the last poll (pages of 50), not one GET per item. A listing may not report every change
 * (the SDK says the indexed-asset filter sees only PUT updates), so when it reports nothing for
 * QUIET_POLLS polls, and at once for a single pass, the open items it did not report are read by
 * id, READS_PER_ROUND at a time, least recently seen first: every item is read again within a
 * bounded number of polls, so the loop ends once the platform finishes, whatever the listing says.
 */
export async function followTasks(o: FollowOptions): Promise<Record<string, number>> {
  const open = new Map<string, Followed>();
  let since = Number.POSITIVE_INFINITY;
  // One walk of the state: the items to follow and the counts, kept up to date as changes are recorded (a state in parts is not read again).
  const counts: Record<string, number> = {};
  for await (const [uri, item] of o.store.scan()) {
    counts[item.status] = (counts[item.status] ?? 0) + 1;
    const id = item.indexedAssetId ?? item.taskId;
    if (!id || !IN_FLIGHT.has(item.status)) continue;
    open.set(id, { uri, kind: item.indexedAssetId ? 'indexed_asset' : 'task', seenAt: 0, status: item.status });
    since = Math.min(since, Date.parse(item.submittedAt ?? item.updatedAt));
  }
  if (open.size === 0) return counts;
  let quiet = 0;
  for (let poll = 1; ; poll++) {
    const pollStartedAt = o.clock.now();
    const changed = await applyProgress(o, open, await listUpdated(o, since), poll, counts);
    quiet = changed > 0 ? 0 : quiet + 1;
    if (open.size > 0 && (o.once || quiet >= QUIET_POLLS)) {
      await readOpenItems(o, open, poll, counts);
      quiet = 0;
    }
    o.onProgress?.({ ...counts });
    if (o.once || open.size === 0 || o.signal?.aborted) return counts;
    since = pollStartedAt;
    await o.clock.sleep(o.pollMs, o.signal);
  }
}

/** One listing of what changed since `since` (less a skew allowance). */
function listUpdated(o: FollowOptions, since: number): Promise<Progressed[]> {
  const updatedAt = new Date(since - SKEW_MS).toISOString();
  const signal = o.signal ? { signal: o.signal } : {};
  return o.via === 'assets' && o.api.listIndexedAssets
    ? listAllIndexedAssets({ listIndexedAssets: o.api.listIndexedAssets.bind(o.api) }, o.indexId, { updatedAt, sortBy: 'updated_at' }, signal)
    : listTasks(o.api, { indexId: o.indexId, updatedAt, sortBy: 'updated_at' }, signal);
}

/** Records what a listing or a read reported for open items; returns how many changed status. */
async function applyProgress(o: FollowOptions, open: Map<string, Followed>, reported: Progressed[], poll: number, counts: Record<string, number>): Promise<number> {
  let changed = 0;
  for (const task of reported) {
    const followed = open.get(task._id);
    if (!followed) continue;
    followed.seenAt = poll;
    const before = followed.status;
    if (await applyTask(o.store, followed, task)) {
      changed += 1;
      counts[before] = (counts[before] ?? 1) - 1;
      if (counts[before] === 0) delete counts[before];
      counts[followed.status] = (counts[followed.status] ?? 0) + 1;
    }
    if (statusIn(ENDED, task.status)) open.delete(task._id);
  }
  return changed;
}

/** Reads by id the open items this poll's listing did not report, least recently seen first. */
async function readOpenItems(o: FollowOptions, open: Map<string, Followed>, poll: number, counts: Record<string, number>): Promise<void> {
  const due = [...open.entries()]
    .filter(([, f]) => f.seenAt < poll)
    .sort(([, a], [, b]) => a.seenAt - b.seenAt)
    .slice(0, READS_PER_ROUND);
  const limit = pLimit(READ_CONCURRENCY);
  const read = await Promise.all(due.map(([id, followed]) => limit(() => readOne(o, id, followed.kind))));
  for (const [i, [id, followed]] of due.entries()) {
    // Deleted on the platform meanwhile: nothing left to wait for.
    if (read[i] === 'gone') open.delete(id);
    else followed.seenAt = poll;
  }
  await applyProgress(o, open, read.filter((r): r is Progressed => r !== 'gone'), poll, counts);
}

async function readOne(o: FollowOptions, id: string, kind: Followed['kind']): Promise<Progressed | 'gone'> {
  try {
    if (kind === 'indexed_asset' && o.api.getIndexedAsset) return await o.api.getIndexedAsset(o.indexId, id, o.signal);
    return await o.api.getTask(id, o.signal);
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.code === 'resource_not_exist')) return 'gone';
    throw error;
  }
}

/** Records a reported status; true when it changed the item. */
async function applyTask(store: ItemStore, followed: Followed, task: Progressed): Promise<boolean> {
  if (!task.status || followed.status === task.status) return false;
  const { uri } = followed;
  const status = (task.status === 'uploading' ? 'validating' : task.status) as TaskStatus;
  followed.status = status;
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
  return true;
}

/** Items per status in the whole state: one walk (a part at a time for a state in parts). */
export async function countStatuses(store: ItemStore): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for await (const [, item] of store.scan()) counts[item.status] = (counts[item.status] ?? 0) + 1;
  return counts;
}
