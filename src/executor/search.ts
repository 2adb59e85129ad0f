import type { Clock } from '../clock.js';
import { filenameForms, isFingerprintOf } from '../planner/index.js';
import type { ItemState } from '../state/index.js';
import { listTasks } from '../twelvelabs/index-reader.js';
import type { Task } from '../twelvelabs/types.js';
import { decide, stageOf, type Candidate, type Decision } from './decide.js';
import type { ExecutorApi } from './types.js';
import type { IdSet } from './compact-sets.js';

/** How far back of our intent time to search: allows for clock skew between us and the API. */
export const RECONCILE_SKEW_MS = 5 * 60_000;

export interface ReconcileContext {
  api: ExecutorApi;
  clock: Clock;
  indexId: string;
  /** Task ids already recorded for other items: never claimed twice. */
  claimed: IdSet;
  signal?: AbortSignal | undefined;
}

/**
 * One search for the task a POST with a lost answer may have created: the index's tasks under the
 * item's file name (decoded or as the URL carried it) created since its intent, each judged by the
 * fingerprint in its video's user_metadata. Deciding when to search again and when an empty search
 * allows a resubmission is the step runner's (exactly-once.ts), not this function's.
 */
export async function searchTask(uri: string, item: ItemState, ctx: ReconcileContext): Promise<{ decision: Decision; tasks: Map<string, Task> }> {
  const forms = filenameForms(item.key);
  const since = new Date(Date.parse(item.intentAt ?? item.updatedAt) - RECONCILE_SKEW_MS).toISOString();
  const tasks = new Map<string, Task>();
  const signal = ctx.signal ? { signal: ctx.signal } : {};
  for (const filename of forms) {
    for (const task of await listTasks(ctx.api, { indexId: ctx.indexId, filename, createdAt: since }, { concurrency: 2, ...signal })) {
      const name = task.system_metadata?.filename;
      if ((name === undefined || forms.includes(name)) && !(await ctx.claimed.has(task._id))) tasks.set(task._id, task);
    }
  }
  const candidates: Candidate[] = [];
  for (const task of tasks.values()) {
    candidates.push({ id: task._id, videoId: task.video_id, stage: stageOf(task.status), verdict: await verdictOf(task, uri, item, ctx), createdAt: task.created_at });
  }
  return { decision: decide(candidates), tasks };
}

async function verdictOf(task: Task, uri: string, item: ItemState, ctx: ReconcileContext): Promise<Candidate['verdict']> {
  if (!task.video_id) return 'unknown';
  try {
    const video = await ctx.api.getVideo(ctx.indexId, task.video_id, ctx.signal);
    return isFingerprintOf(video.user_metadata, uri, item.etag) ? 'ours' : 'other';
  } catch (error) {
    // The video of a task still validating may not be readable yet.
    const status = (error as { status?: number }).status;
    if (status === 404 || status === 400) return 'unknown';
    throw error;
  }
}

/** Why a task failed, as far as the API says (the documented schema gives no reason). */
export function taskFailure(task: Pick<Task, 'error'> | undefined): { code: string; message: string } {
  const error = task?.error;
  return {
    code: typeof error === 'object' && error?.code ? error.code : 'indexing_failed',
    message: typeof error === 'string' && error ? error : typeof error === 'object' && error?.message ? error.message : 'the platform marked the task failed (no reason given by the API)',
  };
}
