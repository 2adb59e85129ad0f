import type { Clock } from '../clock.js';
import type { MinuteGate } from '../twelvelabs/minutes.js';
import type { ExecuteOptions, ExecuteResult, ExecutorEvent, QuotaWait } from './types.js';

/** Shortest wait for a quota whose reset the server did not say, or said is already past. */
const MIN_QUOTA_WAIT_MS = 5_000;
/** A quota refusal without a reset time: look again this much later. */
const UNKNOWN_RESET_WAIT_MS = 15 * 60_000;
/** Past the announced reset, so the first request lands in the new window. */
const RESET_MARGIN_MS = 1_000;

/**
 * `--wait-for-quota`: one wait at a time for the whole run. The first job refused records the wait
 * (durably, before sleeping) and sleeps until the reset; jobs refused meanwhile join it, and jobs
 * about to create wait for it to end instead of spending a refused request.
 */
export class QuotaWaiter {
  private current: { until: number; done: Promise<void> } | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly signal: AbortSignal,
    private readonly record: ((wait: QuotaWait) => Promise<void>) | undefined,
    private readonly onEvent: ((event: ExecutorEvent) => void) | undefined,
  ) {}

  /** Sleeps through the quota window; throws the abort reason when the run stops meanwhile. */
  async wait(resetAtMs: number | undefined, reason: string): Promise<void> {
    // A refusal answered after Ctrl-C ended the wait under way starts no new wait (nor records one).
    if (this.signal.aborted) throw this.signal.reason;
    const now = this.clock.now();
    const until = resetAtMs === undefined ? now + UNKNOWN_RESET_WAIT_MS : Math.max(resetAtMs + RESET_MARGIN_MS, now + MIN_QUOTA_WAIT_MS);
    if (this.current && this.current.until >= Math.min(until, resetAtMs ?? until)) return this.current.done;
    const wait: QuotaWait = { at: new Date(now).toISOString(), until: new Date(until).toISOString(), reason, resetKnown: resetAtMs !== undefined };
    const done = (async () => {
      await this.record?.(wait);
      this.onEvent?.({ type: 'quota_wait', until: wait.until, reason });
      await this.clock.sleep(until - this.clock.now(), this.signal);
    })();
    this.current = { until, done };
    try {
      await done;
    } finally {
      if (this.current?.done === done) this.current = undefined;
    }
  }

  /** Resolves once no quota wait is under way. */
  async idle(): Promise<void> {
    while (this.current) await this.current.done;
  }

  /** The end of the wait under way, if any (for the ETA). */
  get waitingUntil(): number | undefined {
    return this.current?.until;
  }
}

/**
 * What a run may still start: the budgets (--max-items, --max-video-hours) and the video-minute
 * pacing, checked before an item's first create. An item already past its first create (a lost
 * answer, an asset to index) always goes on: it spends nothing new.
 */
export class Admission {
  private items = 0;
  private videoSeconds = 0;
  private readonly admitted = new Set<string>();

  constructor(
    private readonly options: Pick<ExecuteOptions, 'budget' | 'durations'>,
    private readonly minutes: MinuteGate | undefined,
    private readonly result: ExecuteResult,
  ) {}

  /** True when the item may create now (after any pacing wait); false once a budget is spent (then for every new item). */
  async admit(uri: string, signal: AbortSignal): Promise<boolean> {
    if (this.admitted.has(uri)) return true;
    if (this.result.budget) return false;
    const seconds = this.options.durations?.get(uri) ?? 0;
    const budget = this.options.budget;
    if (budget?.maxItems !== undefined && this.items + 1 > budget.maxItems) return this.spent('max_items');
    if (budget?.maxVideoSeconds !== undefined && this.videoSeconds + seconds > budget.maxVideoSeconds) return this.spent('max_video_hours');
    this.items += 1;
    this.videoSeconds += seconds;
    this.admitted.add(uri);
    this.result.used = { items: this.items, videoSeconds: this.videoSeconds };
    await this.minutes?.acquire(seconds / 60, signal);
    return true;
  }

  /** Forgets an item no job will take again this run (a window of a state in parts is over): the set stays the size of the work in hand. */
  forget(uri: string): void {
    this.admitted.delete(uri);
  }

  private spent(reason: 'max_items' | 'max_video_hours'): false {
    this.result.budget ??= { reason };
    return false;
  }
}
