import { objectUri, type PlanItem } from '../planner/index.js';
import { NOT_SUBMITTED, type ItemState, type ItemStore } from '../state/index.js';

/** What a plan brings to a run: the items to work on, every upload item, the preflight failures, the known durations. */
export interface MergedPlan {
  /** Source URIs this run works on, in plan order. */
  uris: string[];
  /** Every upload item of the plan (for the exit code and the per-item results). */
  uploads: string[];
  /** The plan's preflight failures. */
  preflight: string[];
  /** Video seconds per source URI, when the plan probed them. */
  durations: Map<string, number>;
}

/**
 * Brings the plan's items into the state: new upload items become `planned`; skips and preflight
 * failures are recorded for status; items already in flight or done are left alone.
 */
export async function mergePlan(store: ItemStore, items: AsyncIterable<PlanItem>, bucket: string, retryFailed: boolean): Promise<MergedPlan> {
  const merged: MergedPlan = { uris: [], uploads: [], preflight: [], durations: new Map() };
  const now = new Date().toISOString();
  const seen = new Set<string>();
  const writes = new MergeWrites(store);
  for await (const item of items) {
    const uri = objectUri(bucket, item.key);
    if (item.probe?.durationSeconds !== undefined) merged.durations.set(uri, item.probe.durationSeconds);
    // checkPlanItems refused repeated keys; a file changed since is still never worked on twice.
    if (seen.has(uri)) continue;
    seen.add(uri);
    const { upload, preflight, work } = await mergeItem(writes, uri, item, retryFailed, now);
    if (upload) merged.uploads.push(uri);
    if (preflight) merged.preflight.push(uri);
    if (work) merged.uris.push(uri);
    await writes.settle(MERGE_WRITES_IN_FLIGHT);
  }
  await writes.settle(0);
  await store.checkpoint();
  return merged;
}

/** Writes a merge has in flight before it waits for them. */
export const MERGE_WRITES_IN_FLIGHT = 1_000;

/**
 * The store as a merge writes to it: a change is made at once (`item()` sees it) and its journal
 * line is not waited for, item by item, but every `settle`: lines queued together are written
 * together (the journal batches them), so a merge of millions of items is not a write per item.
 * Nothing of a merge needs to be durable before the run starts: a crash only means merging again.
 */
export class MergeWrites implements Pick<ItemStore, 'item' | 'setItem'> {
  private pending: Array<Promise<void>> = [];

  constructor(private readonly store: Pick<ItemStore, 'item' | 'setItem'>) {}

  item(uri: string): ItemState | undefined {
    return this.store.item(uri);
  }

  setItem(uri: string, patch: Partial<ItemState>): Promise<void> {
    const written = this.store.setItem(uri, patch);
    // Awaited at the next settle; a failure before then is not an unhandled rejection.
    written.catch(() => undefined);
    this.pending.push(written);
    return Promise.resolve();
  }

  /** Waits for the writes in flight once there are more than `most`; throws the first failure. */
  async settle(most: number): Promise<void> {
    if (this.pending.length <= most) return;
    const pending = this.pending;
    this.pending = [];
    await Promise.all(pending);
  }
}

/** Brings one plan item into the state: whether it is an upload item (or resumed mid-step), a preflight failure, and worked on by this run. */
export async function mergeItem(store: Pick<ItemStore, 'item' | 'setItem'>, uri: string, item: PlanItem, retryFailed: boolean, now: string): Promise<{ upload: boolean; preflight: boolean; work: boolean }> {
  if (item.action === 'upload' || resumesMidStep(item, store.item(uri))) return { upload: true, preflight: false, work: await mergeUpload(store, uri, item, retryFailed, now) };
  const work = await recordSkipOrFailure(store, uri, item, store.item(uri), retryFailed, now);
  return { upload: false, preflight: item.action === 'fail', work };
}

/** A re-plan calls an item left mid-step `in_progress`: this run still finishes it (its search, its index step). */
function resumesMidStep(item: PlanItem, current: ItemState | undefined): boolean {
  return item.action === 'skip' && item.reason === 'in_progress' && current !== undefined && sameObject(item, current) && NOT_SUBMITTED.has(current.status) && current.status !== 'planned';
}

function sameObject(item: PlanItem, current: ItemState): boolean {
  return current.etag === item.etag && current.size === item.size;
}

/** An upload item (or one resumed mid-step): true when this run works on it. */
async function mergeUpload(store: Pick<ItemStore, 'item' | 'setItem'>, uri: string, item: PlanItem, retryFailed: boolean, now: string): Promise<boolean> {
  const current = store.item(uri);
  if (item.action !== 'upload') return true;
  if (current && sameObject(item, current) && current.status !== 'skipped') {
    // A re-plan may move an object not started yet to (or from) a multipart upload.
    if (current.status === 'planned' && current.method !== item.method) await store.setItem(uri, { method: item.method });
    if (current.status === 'failed' && retryFailed) {
      await store.setItem(uri, { status: 'planned', lastError: null });
      return true;
    }
    return NOT_SUBMITTED.has(current.status);
  }
  await store.setItem(uri, newItem(item, 'planned', now));
  return true;
}

/**
 * A skip or a preflight failure of the plan, recorded for status unless the state knows better (a
 * task of it exists). True when this run works on it after all: `--retry-failed` of a failure.
 */
async function recordSkipOrFailure(store: Pick<ItemStore, 'item' | 'setItem'>, uri: string, item: PlanItem, current: ItemState | undefined, retryFailed: boolean, now: string): Promise<boolean> {
  if (!current || current.status === 'skipped' || (current.status === 'failed' && !current.taskId)) {
    if (item.action === 'fail' && retryFailed && current?.status === 'failed' && current.lastError?.code === item.reason && item.match?.by === 'ledger') {
      await store.setItem(uri, { status: 'planned', lastError: null });
      return true;
    }
    if (item.action === 'fail' && item.match?.by === 'ledger') return false;
    await store.setItem(uri, {
      ...newItem(item, item.action === 'fail' ? 'failed' : item.reason === 'indexed' ? 'ready' : 'skipped', now),
      reason: item.reason,
      ...(item.match?.videoId ? { videoId: item.match.videoId } : {}),
      ...(item.action === 'fail' ? { lastError: { code: item.reason ?? 'preflight_failed', message: item.detail ?? 'failed preflight', at: now } } : {}),
    });
    return false;
  }
  if (item.action === 'fail' && retryFailed && current.status === 'failed') {
    await store.setItem(uri, { status: 'planned', lastError: null });
    return true;
  }
  return false;
}

function newItem(item: PlanItem, status: ItemState['status'], now: string): ItemState {
  return { key: item.key, size: item.size, etag: item.etag, ...(item.sha256 ? { sha256: item.sha256 } : {}), ...(item.method ? { method: item.method } : {}), status, attempts: 0, updatedAt: now };
}
