import type { Clock } from '../clock.js';
import { QUOTA_RESET_THRESHOLD_MS, backoffMs } from './retry.js';

/** What the pacer learns from each answer. */
export interface ResponseSignal {
  status: number;
  /** From `Retry-After`. */
  retryAfterMs?: number | undefined;
  /** Absolute time from `X-Ratelimit-Reset`. */
  resetAtMs?: number | undefined;
  limit?: number | undefined;
  remaining?: number | undefined;
  /** From `X-Ratelimit-Video-Minutes-*` (a simulator assumption: docs/reliability.md): a limit on video minutes, not requests. */
  videoMinutes?: { limit?: number | undefined; remaining?: number | undefined; resetAtMs?: number | undefined } | undefined;
}

/** Every request waits at the gate, and every answer is reported back to it. */
export interface RequestGate {
  acquire(signal?: AbortSignal): Promise<void>;
  release(signal: ResponseSignal): void;
}

export interface PacerStats {
  sent: number;
  throttled: number;
  pausedMs: number;
  currentRpm: number | undefined;
}

export interface PacerOptions {
  clock: Clock;
  /** User cap on requests per minute; undefined = no cap until the server says otherwise. */
  maxRpm?: number | undefined;
  random?: () => number;
  /** Called on each 429 with the pause chosen, for progress and logs. */
  onThrottle?: (pauseMs: number) => void;
}

const MIN_RPM = 1;
/** Two reset times this close apart name the same window (epoch seconds, or seconds-from-now read at different instants). */
const SAME_WINDOW_MS = 2_000;

/**
 * One shared pacer for a run (not per request): a token bucket at the current rate, a global pause
 * after a 429 (Retry-After, else X-Ratelimit-Reset, else backoff with jitter), a multiplicative
 * slow-down on each burst of 429s (halving the rate observed over the last minute) and a gentle ramp back up
 * (+10% per 10 successes) to the cap. When the server announces
 * `X-Ratelimit-Remaining`, the pacer stops sending before it hits zero and waits for the reset.
 */
export class Pacer implements RequestGate {
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly capRpm: number | undefined;
  private readonly onThrottle: ((pauseMs: number) => void) | undefined;
  private rpm: number | undefined;
  private nextSlotAt = 0;
  private pausedUntil = 0;
  private consecutive429 = 0;
  private inFlight = 0;
  /** Send times of the last minute: the rate actually observed, which a 429 halves. */
  private readonly recentSends: number[] = [];
  private firstSendAt: number | undefined;
  /** Requests we may still send in the server's current window, and when that window ends. */
  private budget: { remaining: number; resetAt: number } | undefined;
  private successesSinceSlowdown = 0;
  readonly stats: PacerStats = { sent: 0, throttled: 0, pausedMs: 0, currentRpm: undefined };

  constructor(options: PacerOptions) {
    this.clock = options.clock;
    this.random = options.random ?? Math.random;
    this.capRpm = options.maxRpm;
    this.rpm = options.maxRpm;
    this.onThrottle = options.onThrottle;
    this.stats.currentRpm = this.rpm;
  }

  async acquire(signal?: AbortSignal): Promise<void> {
    for (;;) {
      const now = this.clock.now();
      if (this.budget && now >= this.budget.resetAt) this.budget = undefined;
      const budgetWait = this.budget && this.budget.remaining <= 0 ? this.budget.resetAt : 0;
      const slotWait = this.rpm === undefined ? 0 : this.nextSlotAt;
      const waitUntil = Math.max(this.pausedUntil, budgetWait, slotWait);
      if (waitUntil <= now) break;
      await this.clock.sleep(waitUntil - now, signal);
    }
    const now = this.clock.now();
    if (this.rpm !== undefined) this.nextSlotAt = Math.max(now, this.nextSlotAt) + 60_000 / this.rpm;
    if (this.budget) this.budget.remaining -= 1;
    this.firstSendAt ??= now;
    this.recentSends.push(now);
    while ((this.recentSends[0] ?? now) <= now - 60_000) this.recentSends.shift();
    this.inFlight += 1;
    this.stats.sent += 1;
  }

  release(answer: ResponseSignal): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    const now = this.clock.now();
    const minutes = answer.videoMinutes;
    // A refusal for video minutes pauses this category until the minutes reset, and says nothing about the request rate (no slow-down).
    const signal = answer.status === 429 && minutes?.remaining !== undefined && minutes.remaining <= 0 ? { status: 429, resetAtMs: minutes.resetAtMs, limit: minutes.limit ?? 0 } : answer;
    this.learnBudget(signal, now);
    if (signal.status === 429) {
      this.stats.throttled += 1;
      // No request leaves during a pause, so a 429 that arrives in one answers a request sent before it:
      // the same burst. One burst is one slow-down and one backoff step, however many requests were in flight.
      const sameBurst = now < this.pausedUntil;
      if (!sameBurst) this.consecutive429 += 1;
      const pause =
        signal.retryAfterMs ??
        (signal.resetAtMs !== undefined && signal.resetAtMs > now ? signal.resetAtMs - now : backoffMs(this.consecutive429, this.random));
      // A wait that long is a daily quota (classifyFailure agrees): the run stops; pausing would only hang it.
      if (pause > QUOTA_RESET_THRESHOLD_MS) return;
      const until = now + pause;
      if (until > this.pausedUntil) {
        this.stats.pausedMs += until - Math.max(now, this.pausedUntil);
        this.pausedUntil = until;
      }
      if (signal.limit === undefined && !sameBurst) this.slowDown(now);
      this.onThrottle?.(pause);
      return;
    }
    if (signal.status < 500) {
      this.consecutive429 = 0;
      this.speedUp();
    }
  }

  /**
   * Keeps our count of what the server's window has left. Within one window our own count (one
   * less per acquire) and the server's only go down, so the lower wins; a later reset time starts
   * a new window, where the server's number is taken as is; an answer about an earlier window
   * (sent before the reset, answered after) says nothing about the current one.
   */
  private learnBudget(signal: ResponseSignal, now: number): void {
    if (signal.remaining === undefined || signal.resetAtMs === undefined || signal.resetAtMs <= now) return;
    // A window that ends hours away is a daily quota, not a rate: its 429 stops the run instead.
    if (signal.resetAtMs - now > QUOTA_RESET_THRESHOLD_MS) return;
    // Our requests still on the wire may not be counted in this answer yet: spend them now.
    const remaining = Math.max(0, signal.remaining - this.inFlight);
    const current = this.budget;
    if (current && signal.resetAtMs < current.resetAt - SAME_WINDOW_MS) return;
    if (current && signal.resetAtMs <= current.resetAt + SAME_WINDOW_MS) current.remaining = Math.min(current.remaining, remaining);
    else this.budget = { remaining, resetAt: signal.resetAtMs };
  }

  private slowDown(now: number): void {
    while ((this.recentSends[0] ?? now) <= now - 60_000) this.recentSends.shift();
    // A run younger than a minute has sent fewer than its rate: scale up what it sent so far.
    const spanMs = Math.min(60_000, Math.max(1_000, now - (this.firstSendAt ?? now)));
    const observed = Math.max(MIN_RPM, (this.recentSends.length * 60_000) / spanMs);
    this.rpm = Math.max(MIN_RPM, Math.floor(Math.min(this.rpm ?? observed, observed) * 0.5));
    this.successesSinceSlowdown = 0;
    this.stats.currentRpm = this.rpm;
  }

  private speedUp(): void {
    if (this.rpm === undefined) return;
    this.successesSinceSlowdown += 1;
    if (this.successesSinceSlowdown < 10) return;
    this.successesSinceSlowdown = 0;
    const next = Math.ceil(this.rpm * 1.1);
    this.rpm = this.capRpm === undefined ? next : Math.min(this.capRpm, next);
    if (this.capRpm === undefined && this.consecutive429 === 0 && this.rpm > 100_000) this.rpm = undefined;
    this.stats.currentRpm = this.rpm;
  }
}
