import pLimit from 'p-limit';
import { SourceError, TlmError, redactUrls } from '../errors.js';
import { basename } from '../planner/index.js';
import type { ItemState } from '../state/index.js';
import { backoffMs, classifyFailure } from '../twelvelabs/retry.js';
import { ApiError } from '../errors.js';
import { reconcileItem, type ReconcileContext } from './reconcile.js';
import type { ExecuteOptions, ExecuteResult } from './types.js';

const AWAITING_OUTCOME = new Set(['intent', 'unknown']);
/** Rate-limited attempts do not create tasks; allow many before giving an item up for this run. */
const MAX_THROTTLED_ATTEMPTS = 100;

/**
 * Applies the upload items of a plan: one task per object, exactly once. Each POST is preceded by a
 * durable intent; a POST whose outcome is lost is reconciled (searched for) before any retry; items
 * left in `intent`/`unknown` by a killed run are reconciled first. Items fail; the run throws only
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
  for (const item of Object.values(o.store.state.items)) if (item.taskId) claimed.add(item.taskId);
  const random = o.random ?? Math.random;
  const reconcileCtx: ReconcileContext = {
    api: o.api,
    clock: o.clock,
    indexId: o.indexId,
    claimed,
    lagMs: o.reconcileLagMs ?? 5000,
    siblingsPending: (uri, filename) =>
      o.uris.some((other) => other !== uri && AWAITING_OUTCOME.has(o.store.item(other)?.status ?? '') && basename(o.store.item(other)?.key ?? '') === filename),
  };
  let fatal: unknown;

  const record = async (uri: string, patch: Partial<ItemState>, durable = false) => o.store.setItem(uri, patch, { durable });

  /** Resolves an item whose POST outcome is unknown. Returns true when the item needs no new POST. */
  const settle = async (uri: string, item: ItemState): Promise<boolean> => {
    const outcome = await reconcileItem(uri, item, reconcileCtx);
    if (outcome.kind === 'found') {
      await record(uri, { status: 'submitted', taskId: outcome.task._id, videoId: outcome.task.video_id, submittedAt: outcome.task.created_at ?? new Date(o.clock.now()).toISOString(), lastError: null }, true);
      result.reconciled += 1;
      result.submitted += 1;
      o.onEvent?.({ type: 'reconciled', uri, found: true, taskId: outcome.task._id });
      return true;
    }
    if (outcome.kind === 'ambiguous') {
      await record(uri, { status: 'unknown', lastError: { code: 'reconcile_ambiguous', message: `several unconfirmed tasks may be this object's (${outcome.candidates.join(', ')}); resume later to decide`, at: new Date(o.clock.now()).toISOString() } }, true);
      o.onEvent?.({ type: 'reconciled', uri, found: false });
      return true;
    }
    await record(uri, { status: 'planned' }, true);
    o.onEvent?.({ type: 'reconciled', uri, found: false });
    return false;
  };

  const processItem = async (uri: string): Promise<void> => {
    let item = o.store.item(uri);
    if (!item) return;
    if (AWAITING_OUTCOME.has(item.status)) {
      if (await settle(uri, item)) return;
      item = o.store.item(uri) as ItemState;
    }
    if (item.status !== 'planned') return;
    let failures = 0;
    for (let attempt = 1; attempt <= MAX_THROTTLED_ATTEMPTS; attempt++) {
      if (halt.signal.aborted) return;
      const now = () => new Date(o.clock.now()).toISOString();
      let head;
      try {
        head = await o.source.head(item.key);
      } catch (error) {
        if (error instanceof SourceError && error.code === 'access_denied') {
          await failItem(uri, 'source_access_denied', error.message);
          return;
        }
        throw error;
      }
      if (!head) {
        await failItem(uri, 'source_missing', `s3://${o.bucket}/${item.key} no longer exists: re-plan`);
        return;
      }
      if (head.etag !== item.etag || head.size !== item.size) {
        await failItem(uri, 'source_changed', `s3://${o.bucket}/${item.key} changed since the plan (ETag ${item.etag} -> ${head.etag}): re-plan`);
        return;
      }
      const url = await o.source.presignGet(item.key, o.presignExpiresSeconds);
      await record(uri, { status: 'intent', intentAt: now(), attempts: item.attempts + 1, runId: o.runId }, true);
      item = o.store.item(uri) as ItemState;
      try {
        const created = await o.api.createTask({
          indexId: o.indexId,
          videoUrl: url,
          enableVideoStream: o.enableVideoStream,
          userMetadata: { ...o.userMetadata, ...fingerprint(o.bucket, item, o.runId) },
        });
        claimed.add(created.taskId);
        await record(uri, { status: 'submitted', taskId: created.taskId, videoId: created.videoId, submittedAt: now(), lastError: null });
        result.submitted += 1;
        o.onEvent?.({ type: 'submitted', uri, taskId: created.taskId });
        return;
      } catch (error) {
        const action = classifyFailure(error, { idempotent: false }, o.clock.now());
        const code = error instanceof TlmError ? error.code : 'error';
        const message = redactUrls(error instanceof ApiError ? error.apiMessage : error instanceof Error ? error.message : String(error));
        const lastError = { code, message, at: now() };
        if (action === 'pace') {
          result.throttled += 1;
          await record(uri, { status: 'planned', lastError });
          o.onEvent?.({ type: 'throttled', uri });
          continue;
        }
        if (action === 'quota') {
          await record(uri, { status: 'planned', lastError }, true);
          const resetMs = error instanceof ApiError ? (error.rateLimitResetMs ?? (error.retryAfterMs === undefined ? undefined : o.clock.now() + error.retryAfterMs)) : undefined;
          result.quota = { resetAt: resetMs === undefined ? undefined : new Date(resetMs).toISOString() };
          o.onEvent?.({ type: 'quota', resetAt: result.quota.resetAt });
          halt.abort();
          return;
        }
        if (action === 'fail') {
          await failItem(uri, code, message);
          return;
        }
        if (action === 'reconcile') {
          await record(uri, { status: 'unknown', lastError }, true);
          if (await settle(uri, o.store.item(uri) as ItemState)) return;
          item = o.store.item(uri) as ItemState;
          failures += 1;
          result.retries += 1;
          o.onEvent?.({ type: 'retry', uri, reason: code });
          if (failures >= (o.maxAttempts ?? 5)) {
            await record(uri, { lastError: { code: 'attempts_exhausted', message: `${failures} attempts failed, last: ${code}: ${message}`, at: now() } });
            return;
          }
          await o.clock.sleep(backoffMs(failures, random, 1000, 30_000), halt.signal).catch(() => undefined);
          continue;
        }
        throw error;
      }
    }
  };

  const failItem = async (uri: string, code: string, message: string) => {
    await record(uri, { status: 'failed', runId: o.runId, lastError: { code, message, at: new Date(o.clock.now()).toISOString() } });
    result.failed += 1;
    o.onEvent?.({ type: 'failed', uri, code, message });
  };

  await Promise.all(
    o.uris.map((uri) =>
      limit(async () => {
        if (halt.signal.aborted || fatal) return;
        try {
          await processItem(uri);
        } catch (error) {
          fatal ??= error;
          halt.abort();
        }
      }),
    ),
  );
  o.stop?.removeEventListener('abort', onStop);
  if (fatal) throw fatal;
  result.interrupted = Boolean(o.stop?.aborted);
  result.pending = o.uris.filter((uri) => {
    const status = o.store.item(uri)?.status;
    return status === 'planned' || status === 'intent' || status === 'unknown';
  }).length;
  return result;
}

/** tlmigrate's fingerprint in user_metadata: proves in the index itself what came from where. */
export function fingerprint(bucket: string, item: ItemState, runId: string): Record<string, string | number> {
  return {
    tlm_source: `s3://${bucket}/${item.key}`,
    tlm_etag: item.etag,
    tlm_size: item.size,
    ...(item.sha256 ? { tlm_sha256: item.sha256 } : {}),
    tlm_run: runId,
  };
}
