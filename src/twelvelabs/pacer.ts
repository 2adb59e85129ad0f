import type { Clock } from '../clock.js';
import { backoffMs } from './retry.js';

/** What the pacer learns from each answer. */
export interface ResponseSignal {
  status: number;
  /** From `Retry-After`. */
  retryAfterMs?: number | undefined;
  /** Absolute time from `X-Ratelimit-Reset`. */
  resetAtMs?: number | undefined;
  limit?: number | undefined;
  remaining?: number | undefined;
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

/**
 * One shared pacer for a run (not per request): a token bucket at the current rate, a global pause
 * after a 429 (Retry-After, else X-Ratelimit-Reset, else backoff with jitter), a multiplicative
 * slow-down on each 429 and a gentle additive ramp back up to the cap. When the server announces
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
  private remaining: number | undefined;
  private resetAt: number | undefined;
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
      const waitUntil = Math.max(this.pausedUntil, this.budgetExhausted(now) ? (this.resetAt ?? now) : 0, this.rpm === undefined ? 0 : this.nextSlotAt);
      if (waitUntil <= now) break;
      await this.clock.sleep(waitUntil - now, signal);
    }
    const now = this.clock.now();
    if (this.rpm !== undefined) this.nextSlotAt = Math.max(now, this.nextSlotAt) + 60_000 / this.rpm;
    if (this.remaining !== undefined) this.remaining -= 1;
    this.inFlight += 1;
    this.stats.sent += 1;
  }

  release(signal: ResponseSignal): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    const now = this.clock.now();
    if (signal.resetAtMs !== undefined) this.resetAt = signal.resetAtMs;
    if (signal.remaining !== undefined) this.remaining = Math.min(signal.remaining, this.remaining ?? signal.remaining);
    if (signal.resetAtMs !== undefined && signal.remaining !== undefined && now >= (this.resetAt ?? 0)) this.remaining = signal.remaining;
    if (signal.status === 429) {
      this.consecutive429 += 1;
      this.stats.throttled += 1;
      const pause =
        signal.retryAfterMs ??
        (signal.resetAtMs !== undefined && signal.resetAtMs > now ? signal.resetAtMs - now : backoffMs(this.consecutive429, this.random));
      const until = now + pause;
      if (until > this.pausedUntil) {
        this.stats.pausedMs += until - Math.max(now, this.pausedUntil);
        this.pausedUntil = until;
      }
      if (signal.limit === undefined) this.slowDown();
      this.onThrottle?.(pause);
      return;
    }
    if (signal.status < 500) {
      this.consecutive429 = 0;
      this.speedUp();
    }
  }

  /** When the server told us what is left, keep the in-flight requests inside that budget. */
  private budgetExhausted(now: number): boolean {
    if (this.remaining === undefined || this.resetAt === undefined) return false;
    if (now >= this.resetAt) {
      this.remaining = undefined;
      return false;
    }
    return this.remaining <= 0;
  }

  private slowDown(): void {
    const observed = this.rpm ?? Math.max(MIN_RPM, this.stats.sent);
    this.rpm = Math.max(MIN_RPM, Math.floor(observed * 0.5));
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
