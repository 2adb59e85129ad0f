import type { Clock } from '../clock.js';
import { ApiError } from '../errors.js';
import { basename } from '../planner/index.js';
import type { ItemState } from '../state/index.js';
import { listTasks } from '../twelvelabs/index-reader.js';
import type { Task } from '../twelvelabs/types.js';
import type { ExecutorApi } from './types.js';

/** How far back of our intent time to search: allows for clock skew between us and the API. */
export const RECONCILE_SKEW_MS = 5 * 60_000;

export type ReconcileOutcome = { kind: 'found'; task: Task; confirmed: boolean; duplicates: string[] } | { kind: 'absent' } | { kind: 'ambiguous'; candidates: string[] };

export interface ReconcileContext {
  api: ExecutorApi;
  clock: Clock;
  indexId: string;
  /** Task ids already recorded for other items: never claimed twice. */
  claimed: Set<string>;
  /** Whether another item with the same file name also awaits reconciliation. */
  siblingsPending(uri: string, filename: string): boolean;
  lagMs: number;
  signal?: AbortSignal;
}

/**
 * Finds the task a POST with an unknown outcome may have created: tasks of the index with the
 * item's file name created since its intent, confirmed by the fingerprint in the video's
 * user_metadata. Searches twice, a visibility lag apart, before declaring the task absent.
 */
export async function reconcileItem(uri: string, item: ItemState, ctx: ReconcileContext): Promise<ReconcileOutcome> {
  const filename = basename(item.key);
  const since = new Date(Date.parse(item.intentAt ?? item.updatedAt) - RECONCILE_SKEW_MS).toISOString();
  let candidates: string[] = [];
  for (let pass = 0; pass < 3; pass++) {
    const tasks = (await listTasks(ctx.api, { indexId: ctx.indexId, filename, createdAt: since }, { concurrency: 2, ...(ctx.signal ? { signal: ctx.signal } : {}) }))
      .filter((t) => (t.system_metadata?.filename ?? filename) === filename && !ctx.claimed.has(t._id))
      .sort((a, b) => (a.created_at ?? '').localeCompare(b.created_at ?? ''));
    const confirmed: Task[] = [];
    const unconfirmed: Task[] = [];
    for (const task of tasks) {
      const verdict = await fingerprintOf(task, uri, item, ctx);
      if (verdict === 'ours') confirmed.push(task);
      else if (verdict === 'unknown') unconfirmed.push(task);
    }
    const first = confirmed[0];
    if (first) {
      ctx.claimed.add(first._id);
      return { kind: 'found', task: first, confirmed: true, duplicates: confirmed.slice(1).map((t) => t._id) };
    }
    candidates = unconfirmed.map((t) => t._id);
    const only = unconfirmed[0];
    if (only && unconfirmed.length === 1 && !ctx.siblingsPending(uri, filename)) {
      ctx.claimed.add(only._id);
      return { kind: 'found', task: only, confirmed: false, duplicates: [] };
    }
    if (unconfirmed.length === 0 && pass >= 1) return { kind: 'absent' };
    // Not listed yet, or several unconfirmed candidates whose metadata may show up once indexed.
    await ctx.clock.sleep(ctx.lagMs * (pass + 1), ctx.signal);
  }
  return { kind: 'ambiguous', candidates };
}

async function fingerprintOf(task: Task, uri: string, item: ItemState, ctx: ReconcileContext): Promise<'ours' | 'other' | 'unknown'> {
  if (!task.video_id) return 'unknown';
  try {
    const video = await ctx.api.getVideo(ctx.indexId, task.video_id, ctx.signal);
    const metadata = video.user_metadata;
    if (!metadata || typeof metadata.tlm_source !== 'string') return 'unknown';
    return metadata.tlm_source === uri && String(metadata.tlm_etag) === item.etag ? 'ours' : 'other';
  } catch (error) {
    // The video of a task still validating may not be readable yet.
    if (error instanceof ApiError && (error.status === 404 || error.status === 400)) return 'unknown';
    throw error;
  }
}
