import pLimit from 'p-limit';
import type { Clock } from '../clock.js';
import { ApiError } from '../errors.js';
import { ENDED, IN_FLIGHT, statusIn, type ItemStore } from '../state/index.js';
import type { TwelveLabsClient } from '../twelvelabs/client.js';
import { HashTable64 } from '../planner/lookup.js';
import { recordsInMemory, type WorkRecords } from '../planner/plan-file.js';
import { readAllIndexedAssetsInto, readTasksInto, type ListingSink } from '../twelvelabs/index-reader.js';
import type { TaskStatus } from '../twelvelabs/types.js';
import { OpenItems, type OpenItem } from './open-items.js';
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
  /** Where the followed items' ids and URIs are kept (the CLI: a file beside the state); removed when the follow ends. Default: memory. */
  records?: WorkRecords | undefined;
}

/** Polls in a row whose listing reported no change before the open items are read by id. */
export const QUIET_POLLS = 2;
/** Open items read by id per round, least recently seen first: bounded whatever the run's size. */
export const READS_PER_ROUND = 50;
const READ_CONCURRENCY = 4;

/**
 * Follows submitted tasks (or indexed assets) to ready/failed by listing the index's ones updated
 * since the last poll (pages of 50), not one GET per item. A listing may not report every change
 * (the SDK says the indexed-asset filter sees only PUT updates), so when it reports nothing for
 * QUIET_POLLS polls, and at once for a single pass, the open items it did not report are read by
 * id, READS_PER_ROUND at a time, least recently seen first: every item is read again within a
 * bounded number of polls, so the loop ends once the platform finishes, whatever the listing says.
 * Memory: the open items are an `OpenItems` (their ids and URIs are records in `o.records`), and a
 * listing's changes are recorded page by page as it is read, never gathered whole.
 */
export async function followTasks(o: FollowOptions): Promise<Record<string, number>> {
  const records = o.records ?? recordsInMemory();
  try {
    const open = new OpenItems(records);
    let since = Number.POSITIVE_INFINITY;
    // One walk of the state: the items to follow and the counts, kept up to date as changes are recorded (a state in parts is not read again).
    const counts: Record<string, number> = {};
    for await (const [uri, item] of o.store.scan()) {
      counts[item.status] = (counts[item.status] ?? 0) + 1;
      const id = item.indexedAssetId ?? item.taskId;
      if (!id || !IN_FLIGHT.has(item.status)) continue;
      open.add(id, uri, item.indexedAssetId ? 'indexed_asset' : 'task', item.status);
      since = Math.min(since, Date.parse(item.submittedAt ?? item.updatedAt));
    }
    if (open.size === 0) return counts;
    let quiet = 0;
    for (let poll = 1; ; poll++) {
      const pollStartedAt = o.clock.now();
      const changed = await applyListing(o, open, since, poll, counts);
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
  } finally {
    records.remove();
  }
}

/**
 * One listing of what changed since `since` (less a skew allowance), recorded as its pages arrive:
 * the sink keeps a page's reports of open items, and records them before its reader reads on.
 * Returns how many items changed status.
 */
async function applyListing(o: FollowOptions, open: OpenItems, since: number, poll: number, counts: Record<string, number>): Promise<number> {
  const updatedAt = new Date(since - SKEW_MS).toISOString();
  const options = o.signal ? { signal: o.signal } : {};
  let changed = 0;
  let reports: Array<[OpenItem, Progressed]> = [];
  let recorded = Promise.resolve();
  // Whether an id was reported before in this listing (a shifted page repeats some): hashes only.
  const reported = new HashTable64();
  const sink: ListingSink<Progressed> = {
    add(id, item) {
      const fresh = reported.get(id).length === 0;
      if (fresh) reported.add(id, 0);
      const followed = open.find(id);
      if (followed) reports.push([followed, item]);
      return fresh;
    },
    drain() {
      // Readers drain one after another: each records what was collected before it.
      recorded = recorded.then(async () => {
        const batch = reports;
        reports = [];
        changed += await applyProgress(o, open, batch, poll, counts);
      });
      return recorded;
    },
  };
  if (o.via === 'assets' && o.api.listIndexedAssets) {
    await readAllIndexedAssetsInto({ listIndexedAssets: o.api.listIndexedAssets.bind(o.api) }, o.indexId, sink, (asset) => asset, { ...options, query: { updatedAt, sortBy: 'updated_at' } });
  } else {
    await readTasksInto(o.api, { indexId: o.indexId, updatedAt, sortBy: 'updated_at' }, sink, (task) => task, options);
  }
  // The reader drained after every page: everything reported is recorded.
  return changed;
}

/** Records what a listing or a read reported for open items; returns how many changed status. */
async function applyProgress(o: FollowOptions, open: OpenItems, reported: Array<[OpenItem, Progressed]>, poll: number, counts: Record<string, number>): Promise<number> {
  let changed = 0;
  for (const [followed, task] of reported) {
    // Ended earlier in this batch (an id reported twice): nothing more to record.
    if (open.status(followed.at) === '') continue;
    open.seen(followed.at, poll);
    const before = open.status(followed.at);
    if (await applyTask(o.store, open, followed, task)) {
      changed += 1;
      counts[before] = (counts[before] ?? 1) - 1;
      if (counts[before] === 0) delete counts[before];
      const after = open.status(followed.at);
      counts[after] = (counts[after] ?? 0) + 1;
    }
    if (statusIn(ENDED, task.status)) open.close(followed.at);
  }
  return changed;
}

/** Reads by id the open items this poll's listing did not report, least recently seen first. */
async function readOpenItems(o: FollowOptions, open: OpenItems, poll: number, counts: Record<string, number>): Promise<void> {
  const due = open.leastRecentlySeen(poll, READS_PER_ROUND);
  const limit = pLimit(READ_CONCURRENCY);
  const read = await Promise.all(due.map((followed) => limit(() => readOne(o, followed.id, followed.kind))));
  const reports: Array<[OpenItem, Progressed]> = [];
  for (const [i, followed] of due.entries()) {
    const answer = read[i];
    // Deleted on the platform meanwhile: nothing left to wait for.
    if (answer === 'gone' || answer === undefined) open.close(followed.at);
    else {
      open.seen(followed.at, poll);
      reports.push([followed, answer]);
    }
  }
  await applyProgress(o, open, reports, poll, counts);
}

async function readOne(o: FollowOptions, id: string, kind: OpenItem['kind']): Promise<Progressed | 'gone'> {
  try {
    if (kind === 'indexed_asset' && o.api.getIndexedAsset) return await o.api.getIndexedAsset(o.indexId, id, o.signal);
    return await o.api.getTask(id, o.signal);
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.code === 'resource_not_exist')) return 'gone';
    throw error;
  }
}

/** Records a reported status; true when it changed the item. */
async function applyTask(store: ItemStore, open: OpenItems, followed: OpenItem, task: Progressed): Promise<boolean> {
  if (!task.status || open.status(followed.at) === task.status) return false;
  const { uri } = followed;
  const status = (task.status === 'uploading' ? 'validating' : task.status) as TaskStatus;
  open.setStatus(followed.at, status);
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
