import type { Clock } from '../clock.js';
import { ApiError, NotSentError, TlmError, redactUrls } from '../errors.js';
import type { ItemState, ItemStatus, ItemStore, SubmitStep } from '../state/index.js';
import { classifyFailure } from '../twelvelabs/retry.js';
import type { ExecuteResult, ExecutorEvent } from './types.js';

/** What one search for a POST's effect found. */
export type Found<T> =
  | { kind: 'found'; value: T }
  /** Nothing that could be this item's: may be resubmitted once the search rules allow it. */
  | { kind: 'absent' }
  /** Candidates whose owner cannot be read yet: never resubmitted while they may be ours. */
  | { kind: 'wait'; detail: string }
  /** Every candidate ended failed and none can be read: the item takes that outcome. */
  | { kind: 'failed'; code: string; message: string };

/** One non-idempotent POST made exactly once: how to send it, how to find its effect, how to record it. */
export interface StepSpec<T> {
  step: SubmitStep;
  /** Status to fall back to when the POST certainly did not happen. */
  resting: ItemStatus;
  /** Runs once, before the first POST of this step in this run (e.g. a HEAD of the source object). */
  beforeFirstSend?(): Promise<{ code: string; message: string } | undefined>;
  send(): Promise<T>;
  find(item: ItemState): Promise<Found<T>>;
  commit(value: T, how: 'created' | 'found'): Promise<void>;
}

export type StepResult = 'done' | 'failed' | 'quota' | 'halted' | 'deferred' | 'exhausted';

/** Why an item was set aside: an empty search that may not resubmit yet, or candidates whose owner is unknown. */
export type DeferReason = 'search' | 'wait';

export interface StepContext {
  store: ItemStore;
  clock: Clock;
  runId: string;
  halt: AbortController;
  result: ExecuteResult;
  random: () => number;
  maxAttempts: number;
  /** First wait between searches for a lost answer; later ones grow. */
  lagMs: number;
  /** No resubmission before this long after the intent, whatever the searches say. */
  minAgeMs: number;
  /** Empty searches since each item's last intent (this run): two allow a resubmission. */
  searches: Map<string, number>;
  /** Looks at candidates whose owner could not be read yet (this run): they only space the next look. */
  rechecks: Map<string, number>;
  /** Resubmissions after searches found nothing (this run), bounded by `maxAttempts`. */
  resends: Map<string, number>;
  /** Sets an item aside: the run goes on, and the item is looked at again at `at`. */
  defer(uri: string, at: number, reason: DeferReason): void;
  onEvent?: ((event: ExecutorEvent) => void) | undefined;
  /** `--wait-for-quota`: sleeps through the quota window (throws when the run stops meanwhile). */
  quotaWait?: ((resetAtMs: number | undefined, reason: string) => Promise<void>) | undefined;
}

/** Rate-limited attempts create nothing; allow many before giving an item up for this run. */
const MAX_THROTTLED_ATTEMPTS = 100;
/** Searches for a lost answer grow apart up to this. */
const MAX_SEARCH_GAP_MS = 60_000;

/** When the `tries`-th look at an undecided item is due: the listing lag doubled each time, at least 1 s apart, at most a minute. */
export function nextLookAt(ctx: Pick<StepContext, 'clock' | 'lagMs'>, tries: number): number {
  return ctx.clock.now() + Math.min(Math.max(ctx.lagMs, 1000) * 2 ** (tries - 1), MAX_SEARCH_GAP_MS);
}

/**
 * The exactly-once protocol for one POST: a durable intent before it leaves; after a lost answer,
 * searches for its effect, set aside between searches so the run goes on. A resubmission needs two
 * empty searches, the last at least `minAgeMs` after the intent; a candidate whose owner cannot be
 * read yet blocks it until it can. This runner is the one owner of POST retries: reconciliation
 * before a resend is protocol, not retry policy, so no generic retry layer may wrap a POST.
 */
export async function runStep<T>(uri: string, spec: StepSpec<T>, ctx: StepContext): Promise<StepResult> {
  const current = ctx.store.item(uri) as ItemState;
  if ((current.status === 'intent' || current.status === 'unknown') && (current.step ?? 'task') === spec.step) {
    const settled = await settle(uri, spec, ctx);
    if (settled) return settled;
  }
  if (ctx.halt.signal.aborted) return 'halted';
  const problem = await spec.beforeFirstSend?.();
  if (problem) {
    await failItem(uri, problem.code, problem.message, ctx);
    return 'failed';
  }
  for (let attempt = 1; attempt <= MAX_THROTTLED_ATTEMPTS; attempt++) {
    if (ctx.halt.signal.aborted) return 'halted';
    ctx.searches.delete(uri);
    await ctx.store.setItem(uri, { status: 'intent', step: spec.step, intentAt: isoNow(ctx), attempts: (ctx.store.item(uri) as ItemState).attempts + 1, runId: ctx.runId }, { durable: true });
    // Stopped while the intent was written: nothing has left, so the item rests again instead.
    if (ctx.halt.signal.aborted) {
      await ctx.store.setItem(uri, { status: spec.resting }, { durable: true });
      return 'halted';
    }
    let value: T;
    try {
      value = await spec.send();
    } catch (error) {
      const outcome = await afterFailedSend(uri, spec, ctx, error);
      if (outcome === 'again') continue;
      return outcome;
    }
    await spec.commit(value, 'created');
    return 'done';
  }
  return 'exhausted';
}

const isoNow = (ctx: Pick<StepContext, 'clock'>) => new Date(ctx.clock.now()).toISOString();

/** What a POST that failed means for its item: sent again (`again`: nothing was created), ended, or searched for. */
async function afterFailedSend<T>(uri: string, spec: StepSpec<T>, ctx: StepContext, error: unknown): Promise<StepResult | 'again'> {
  // Stopped while it waited for the rate limiter: it never left, so the item rests again.
  if (error instanceof NotSentError) {
    await ctx.store.setItem(uri, { status: spec.resting }, { durable: true });
    return 'halted';
  }
  const action = classifyFailure(error, { idempotent: false }, ctx.clock.now());
  const code = error instanceof TlmError ? error.code : 'error';
  const message = redactUrls(error instanceof ApiError ? error.apiMessage : error instanceof Error ? error.message : String(error));
  const lastError = { code, message, at: isoNow(ctx) };
  if (action === 'pace') {
    ctx.result.throttled += 1;
    await ctx.store.setItem(uri, { status: spec.resting, lastError });
    ctx.onEvent?.({ type: 'throttled', uri });
    return 'again';
  }
  if (action === 'quota') {
    await ctx.store.setItem(uri, { status: spec.resting, lastError }, { durable: true });
    const resetMs = error instanceof ApiError ? (error.rateLimitResetMs ?? (error.retryAfterMs === undefined ? undefined : ctx.clock.now() + error.retryAfterMs)) : undefined;
    if (ctx.quotaWait) {
      await ctx.quotaWait(resetMs, code);
      return 'again';
    }
    ctx.result.quota = { resetAt: resetMs === undefined ? undefined : new Date(resetMs).toISOString() };
    ctx.onEvent?.({ type: 'quota', resetAt: ctx.result.quota.resetAt });
    ctx.halt.abort();
    return 'quota';
  }
  if (action === 'fail') {
    await failItem(uri, code, message, ctx);
    return 'failed';
  }
  if (action !== 'reconcile') throw error;
  await ctx.store.setItem(uri, { status: 'unknown', lastError }, { durable: true });
  return (await settle(uri, spec, ctx)) ?? 'again';
}

/**
 * One search for the effect of a POST whose answer was lost. Returns undefined only when the item
 * may be sent again now: the search came back empty, an earlier one did too, and the intent is old
 * enough that a slow listing would show its task by now. Otherwise the item ends here or is set aside.
 */
async function settle<T>(uri: string, spec: StepSpec<T>, ctx: StepContext): Promise<StepResult | undefined> {
  const item = ctx.store.item(uri) as ItemState;
  const at = new Date(ctx.clock.now()).toISOString();
  const found = await spec.find(item);
  if (found.kind === 'found') {
    ctx.searches.delete(uri);
    await spec.commit(found.value, 'found');
    ctx.result.reconciled += 1;
    ctx.onEvent?.({ type: 'reconciled', uri, found: true });
    return 'done';
  }
  if (found.kind === 'failed') {
    ctx.searches.delete(uri);
    await failItem(uri, found.code, found.message, ctx);
    return 'failed';
  }
  if (found.kind === 'wait') {
    const rechecks = (ctx.rechecks.get(uri) ?? 0) + 1;
    ctx.rechecks.set(uri, rechecks);
    const nextLook = nextLookAt(ctx, rechecks);
    await ctx.store.setItem(uri, { status: 'unknown', lastError: { code: 'reconcile_ambiguous', message: found.detail, at } }, { durable: true });
    ctx.defer(uri, nextLook, 'wait');
    return 'deferred';
  }
  const searches = (ctx.searches.get(uri) ?? 0) + 1;
  const nextSearch = nextLookAt(ctx, searches);
  // Counted from the later of the intent and the lost answer: a POST held back by the pacer left late.
  const sentBy = Math.max(Date.parse(item.intentAt ?? item.updatedAt), Date.parse(item.lastError?.at ?? '') || 0);
  const oldEnoughAt = sentBy + ctx.minAgeMs;
  if (searches >= 2 && ctx.clock.now() >= oldEnoughAt) {
    ctx.searches.delete(uri);
    ctx.onEvent?.({ type: 'reconciled', uri, found: false });
    const resends = (ctx.resends.get(uri) ?? 0) + 1;
    ctx.resends.set(uri, resends);
    if (resends > ctx.maxAttempts) {
      const last = item.lastError ? `${item.lastError.code}: ${item.lastError.message}` : 'no answer';
      await ctx.store.setItem(uri, { status: spec.resting, lastError: { code: 'attempts_exhausted', message: `${resends - 1} resubmissions found no task, last: ${last}`, at } }, { durable: true });
      return 'exhausted';
    }
    await ctx.store.setItem(uri, { status: spec.resting }, { durable: true });
    ctx.result.retries += 1;
    ctx.onEvent?.({ type: 'retry', uri, reason: item.lastError?.code ?? 'no_answer' });
    return undefined;
  }
  ctx.searches.set(uri, searches);
  if (item.status !== 'unknown') await ctx.store.setItem(uri, { status: 'unknown' }, { durable: true });
  // The search that may allow a resubmission waits for the minimum age, not longer.
  ctx.defer(uri, nextSearch > oldEnoughAt ? Math.max(oldEnoughAt, ctx.clock.now() + 1000) : nextSearch, 'search');
  return 'deferred';
}

export async function failItem(uri: string, code: string, message: string, ctx: Pick<StepContext, 'store' | 'clock' | 'runId' | 'result' | 'onEvent'>): Promise<void> {
  await ctx.store.setItem(uri, { status: 'failed', runId: ctx.runId, lastError: { code, message, at: new Date(ctx.clock.now()).toISOString() } });
  ctx.result.failed += 1;
  ctx.onEvent?.({ type: 'failed', uri, code, message });
}
