import pLimit from 'p-limit';
import { basename } from '../planner/index.js';
import { assetsPath, tasksPath, type PathContext, type SubmitPath } from './paths.js';
import type { ReconcileContext } from './reconcile.js';
import type { ExecuteOptions, ExecuteResult } from './types.js';

const AWAITING_OUTCOME = new Set(['intent', 'unknown']);
const NOT_SUBMITTED = new Set(['planned', 'intent', 'unknown', 'asset_processing', 'asset_ready']);

/**
 * Applies the upload items of a plan: one task (or asset + indexed asset) per object, exactly once.
 * Each POST is preceded by a durable intent; a POST whose outcome is lost is reconciled before any
 * retry; items left mid-step by a killed run are reconciled first. Items fail; the run throws only
 * for run-level faults (invalid key, unwritable state).
 */
export async function executePlan(o: ExecuteOptions): Promise<ExecuteResult> {
  const result: ExecuteResult = { submitted: 0, failed: 0, reconciled: 0, pending: 0, retries: 0, throttled: 0, interrupted: false };
  const limit = pLimit(o.concurrency);
  const halt = new AbortController();
  const onStop = () => halt.abort(o.stop?.reason);
  if (o.stop?.aborted) halt.abort();
  o.stop?.addEventListener('abort', onStop, { once: true });
  const claimed = new Set<string>();
  for (const item of Object.values(o.store.state.items)) for (const id of [item.taskId, item.assetId, item.indexedAssetId]) if (id) claimed.add(id);
  const reconcile: ReconcileContext = {
    api: o.api,
    clock: o.clock,
    indexId: o.indexId,
    claimed,
    lagMs: o.reconcileLagMs ?? 5000,
    siblingsPending: (uri, filename) =>
      o.uris.some((other) => other !== uri && AWAITING_OUTCOME.has(o.store.item(other)?.status ?? '') && basename(o.store.item(other)?.key ?? '') === filename),
  };
  const ctx: PathContext = {
    options: o,
    store: o.store,
    clock: o.clock,
    runId: o.runId,
    halt,
    result,
    random: o.random ?? Math.random,
    maxAttempts: o.maxAttempts ?? 5,
    onEvent: o.onEvent,
    claimed,
    reconcile,
  };
  let path: SubmitPath = tasksPath;
  if (o.via === 'assets') {
    if (!o.assetsApi) throw new Error('executePlan: via assets needs assetsApi');
    path = assetsPath(o.assetsApi);
  }
  let fatal: unknown;
  const schedule = (uri: string) =>
    limit(async () => {
      if (halt.signal.aborted || fatal) return;
      try {
        await path.submit(uri, ctx);
      } catch (error) {
        fatal ??= error;
        halt.abort();
      }
    });

  await Promise.all(o.uris.map(schedule));
  if (path.drain && !fatal && !halt.signal.aborted) {
    await path.drain(o.uris, schedule, ctx).catch((error: unknown) => {
      fatal ??= error;
    });
  }
  o.stop?.removeEventListener('abort', onStop);
  if (fatal) throw fatal;
  result.interrupted = Boolean(o.stop?.aborted);
  result.pending = o.uris.filter((uri) => NOT_SUBMITTED.has(o.store.item(uri)?.status ?? '')).length;
  return result;
}

export { fingerprint } from './paths.js';
