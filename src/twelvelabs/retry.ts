import pRetry from 'p-retry';
import type { Clock } from '../clock.js';
import { ApiError, TransportError } from '../errors.js';

// Retries of idempotent requests: what to do after a failed request (`classifyFailure`, pure,
// table-tested), the backoff (`backoffMs`), and the retry loop (`retrying`, on p-retry).

/**
 * What to do after a failed request. Pure, so it is table-tested (smithy's retry classifiers).
 * - `pace`: the server refused before doing any work (429): slow the whole run down, then retry.
 * - `quota`: a quota or the account's credit is exhausted: stop the run cleanly and resume later.
 * - `retry`: safe to send again (idempotent request, transient fault).
 * - `reconcile`: a non-idempotent request may have been acted on: look for its effect before retrying.
 * - `fail`: a definite rejection of this item; record it, never retry automatically.
 * - `fatal`: a run-level fault (invalid key, unknown error): stop everything.
 */
export type FailureAction = 'pace' | 'quota' | 'retry' | 'reconcile' | 'fail' | 'fatal';

/** A reset further away than this is a daily quota, not a per-minute rate limit. */
export const QUOTA_RESET_THRESHOLD_MS = 15 * 60_000;

/**
 * Refusals that concern the account, not the item, whatever their status: the status of
 * `usage_limit_exceeded` is undocumented (429, 400, 402 and 403 are all plausible).
 */
export function isQuotaRefusal(error: ApiError): boolean {
  return error.code === 'usage_limit_exceeded' || error.status === 402;
}

/** A rate-limit refusal: 429, or the platform's `too_many_requests` code under another status. */
export function isRateLimited(error: ApiError): boolean {
  return error.status === 429 || error.code === 'too_many_requests';
}

export function classifyFailure(error: unknown, request: { idempotent: boolean }, nowMs = Date.now()): FailureAction {
  if (error instanceof ApiError) {
    if (isQuotaRefusal(error)) return 'quota';
    if (isRateLimited(error)) {
      const resetIn = error.rateLimitResetMs === undefined ? 0 : error.rateLimitResetMs - nowMs;
      if (error.retryAfterMs === undefined && resetIn > QUOTA_RESET_THRESHOLD_MS) return 'quota';
      if (error.retryAfterMs !== undefined && error.retryAfterMs > QUOTA_RESET_THRESHOLD_MS) return 'quota';
      return 'pace';
    }
    if (error.status === 401) return 'fatal';
    if (error.status === 408 || error.status >= 500) return request.idempotent ? 'retry' : 'reconcile';
    if (error.status >= 400) return 'fail';
    return 'fatal';
  }
  if (error instanceof TransportError) return request.idempotent ? 'retry' : 'reconcile';
  return 'fatal';
}

/** Exponential backoff with full jitter: attempt 1 -> up to base, doubling, capped. */
export function backoffMs(attempt: number, random: () => number = Math.random, baseMs = 1000, capMs = 60_000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/**
 * Sends an idempotent request again while the classifier says `retry` or `pace`, up to `attempts`
 * times, on p-retry. The waits run on `clock` (a fake one in tests), not on p-retry's timers; a
 * `pace` is not waited here when a gate (`paced`) already pauses the run after a 429. The signal
 * stops the retries.
 */
export function retrying<T>(attempt: () => Promise<T>, o: { attempts: number; clock: Clock; random: () => number; paced: boolean; signal?: AbortSignal | undefined }): Promise<T> {
  return pRetry(attempt, {
    retries: o.attempts - 1,
    minTimeout: 0,
    signal: o.signal,
    shouldRetry: async ({ error, attemptNumber }) => {
      const action = classifyFailure(error, { idempotent: true }, o.clock.now());
      if (action !== 'retry' && action !== 'pace') return false;
      if (action === 'retry' || !o.paced) await o.clock.sleep(backoffMs(attemptNumber, o.random, 500, 30_000), o.signal);
      return true;
    },
  });
}
