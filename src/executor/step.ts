import type { Clock } from '../clock.js';
import { ApiError, TlmError, redactUrls } from '../errors.js';
import type { ItemState, ItemStatus, StateStore, SubmitStep } from '../state/index.js';
import { backoffMs, classifyFailure } from '../twelvelabs/retry.js';
import type { ExecuteResult, ExecutorEvent } from './types.js';

/** What a reconciliation search found. */
export type Found<T> = { kind: 'found'; value: T } | { kind: 'absent' } | { kind: 'ambiguous'; detail: string };

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

export type StepResult = 'done' | 'failed' | 'quota' | 'halted' | 'ambiguous' | 'exhausted';

export interface StepContext {
  store: StateStore;
  clock: Clock;
  runId: string;
  halt: AbortController;
  result: ExecuteResult;
  random: () => number;
  maxAttempts: number;
  onEvent?: ((event: ExecutorEvent) => void) | undefined;
}

/** Rate-limited attempts create nothing; allow many before giving an item up for this run. */
const MAX_THROTTLED_ATTEMPTS = 100;

/**
 * The exactly-once protocol for one POST: a durable intent before it leaves; on a lost answer,
 * search for its effect (twice, a visibility lag apart, inside `find`) before any retry; an item
 * left in `intent`/`unknown` by a killed run is searched for first.
 */
export async function runStep<T>(uri: string, spec: StepSpec<T>, ctx: StepContext): Promise<StepResult> {
  const now = () => new Date(ctx.clock.now()).toISOString();
  const item = () => ctx.store.item(uri) as ItemState;
  const settle = async (): Promise<StepResult | undefined> => {
    const found = await spec.find(item());
    if (found.kind === 'found') {
      await spec.commit(found.value, 'found');
      ctx.result.reconciled += 1;
      ctx.onEvent?.({ type: 'reconciled', uri, found: true });
      return 'done';
    }
    if (found.kind === 'ambiguous') {
      await ctx.store.setItem(uri, { status: 'unknown', lastError: { code: 'reconcile_ambiguous', message: found.detail, at: now() } }, { durable: true });
      ctx.onEvent?.({ type: 'reconciled', uri, found: false });
      return 'ambiguous';
    }
    await ctx.store.setItem(uri, { status: spec.resting }, { durable: true });
    ctx.onEvent?.({ type: 'reconciled', uri, found: false });
    return undefined;
  };

  const current = item();
  if ((current.status === 'intent' || current.status === 'unknown') && (current.step ?? 'task') === spec.step) {
    const settled = await settle();
    if (settled) return settled;
  }
  let checked = false;
  let failures = 0;
  for (let attempt = 1; attempt <= MAX_THROTTLED_ATTEMPTS; attempt++) {
    if (ctx.halt.signal.aborted) return 'halted';
    if (!checked && spec.beforeFirstSend) {
      const problem = await spec.beforeFirstSend();
      if (problem) {
        await failItem(uri, problem.code, problem.message, ctx);
        return 'failed';
      }
      checked = true;
    }
    await ctx.store.setItem(uri, { status: 'intent', step: spec.step, intentAt: now(), attempts: item().attempts + 1, runId: ctx.runId }, { durable: true });
    let value: T;
    try {
      value = await spec.send();
    } catch (error) {
      const action = classifyFailure(error, { idempotent: false }, ctx.clock.now());
      const code = error instanceof TlmError ? error.code : 'error';
      const message = redactUrls(error instanceof ApiError ? error.apiMessage : error instanceof Error ? error.message : String(error));
      const lastError = { code, message, at: now() };
      if (action === 'pace') {
        ctx.result.throttled += 1;
        await ctx.store.setItem(uri, { status: spec.resting, lastError });
        ctx.onEvent?.({ type: 'throttled', uri });
        continue;
      }
      if (action === 'quota') {
        await ctx.store.setItem(uri, { status: spec.resting, lastError }, { durable: true });
        const resetMs = error instanceof ApiError ? (error.rateLimitResetMs ?? (error.retryAfterMs === undefined ? undefined : ctx.clock.now() + error.retryAfterMs)) : undefined;
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
      const settled = await settle();
      if (settled) return settled;
      failures += 1;
      ctx.result.retries += 1;
      ctx.onEvent?.({ type: 'retry', uri, reason: code });
      if (failures >= ctx.maxAttempts) {
        await ctx.store.setItem(uri, { lastError: { code: 'attempts_exhausted', message: `${failures} attempts failed, last: ${code}: ${message}`, at: now() } });
        return 'exhausted';
      }
      await ctx.clock.sleep(backoffMs(failures, ctx.random, 1000, 30_000), ctx.halt.signal).catch(() => undefined);
      continue;
    }
    await spec.commit(value, 'created');
    return 'done';
  }
  return 'exhausted';
}

export async function failItem(uri: string, code: string, message: string, ctx: Pick<StepContext, 'store' | 'clock' | 'runId' | 'result' | 'onEvent'>): Promise<void> {
  await ctx.store.setItem(uri, { status: 'failed', runId: ctx.runId, lastError: { code, message, at: new Date(ctx.clock.now()).toISOString() } });
  ctx.result.failed += 1;
  ctx.onEvent?.({ type: 'failed', uri, code, message });
}
