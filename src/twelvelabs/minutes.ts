import type { Clock } from '../clock.js';

/** A video-minute limit the server announced (see ResponseSignal.videoMinutes). */
export interface MinuteSignal {
  limit?: number | undefined;
  remaining?: number | undefined;
  /** Absolute time the server's minute window ends. */
  resetAtMs?: number | undefined;
}

/** What a create waits at before it leaves, charged with the video minutes it adds. */
export interface MinuteGate {
  acquire(minutes: number, signal?: AbortSignal): Promise<void>;
}

export interface VideoMinutePacerOptions {
  clock: Clock;
  /** User caps (--max-video-minutes-per-hour / -per-day): minutes over any sliding hour / day. */
  perHour?: number | undefined;
  perDay?: number | undefined;
  /** Called when a create must wait for minutes, with when it may leave. */
  onWait?: (untilMs: number, why: 'cap' | 'server') => void;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** Two reset times this close apart name the same window. */
const SAME_WINDOW_MS = 2_000;

/**
 * Paces creates by the video minutes they add: the user's caps over sliding windows, and the
 * budget the server announces (its remaining minutes until its reset), learned like a request
 * budget: our own count goes down with each create, the server's number wins when lower, and a
 * later reset starts a new window. A video longer than a whole cap still leaves, alone in its window.
 */
export class VideoMinutePacer implements MinuteGate {
  private readonly clock: Clock;
  private readonly perHour: number | undefined;
  private readonly perDay: number | undefined;
  private readonly onWait: VideoMinutePacerOptions['onWait'];
  /** Minutes sent over the last day, oldest first. */
  private readonly sent: Array<{ at: number; minutes: number }> = [];
  private server: { remaining: number; resetAt: number; limit?: number | undefined } | undefined;
  readonly stats = { minutes: 0, waits: 0, learnedLimit: undefined as number | undefined };

  constructor(options: VideoMinutePacerOptions) {
    this.clock = options.clock;
    this.perHour = options.perHour;
    this.perDay = options.perDay;
    this.onWait = options.onWait;
  }

  async acquire(minutes: number, signal?: AbortSignal): Promise<void> {
    let announced = 0;
    for (;;) {
      const now = this.clock.now();
      const wait = this.waitFor(minutes, now);
      if (wait === undefined) break;
      if (wait.until !== announced) {
        announced = wait.until;
        this.stats.waits += 1;
        this.onWait?.(wait.until, wait.why);
      }
      await this.clock.sleep(wait.until - now, signal);
    }
    const now = this.clock.now();
    this.sent.push({ at: now, minutes });
    if (this.server) this.server.remaining -= minutes;
    this.stats.minutes += minutes;
  }

  /** Learns from a create's answer (any status): the server's remaining minutes and its reset. */
  learn(signal: MinuteSignal): void {
    const now = this.clock.now();
    if (signal.limit !== undefined) this.stats.learnedLimit = signal.limit;
    if (signal.remaining === undefined || signal.resetAtMs === undefined || signal.resetAtMs <= now) return;
    const current = this.server;
    if (current && signal.resetAtMs < current.resetAt - SAME_WINDOW_MS) return;
    if (current && signal.resetAtMs <= current.resetAt + SAME_WINDOW_MS) current.remaining = Math.min(current.remaining, signal.remaining);
    else this.server = { remaining: signal.remaining, resetAt: signal.resetAtMs, limit: signal.limit };
  }

  /** When the pacer holds creates back, until when; undefined when they may leave now. */
  get heldUntil(): number | undefined {
    const wait = this.waitFor(0, this.clock.now());
    return wait?.until;
  }

  private waitFor(minutes: number, now: number): { until: number; why: 'cap' | 'server' } | undefined {
    while ((this.sent[0]?.at ?? now) <= now - DAY_MS) this.sent.shift();
    if (this.server && now >= this.server.resetAt) this.server = undefined;
    // The server's budget: a create whose minutes do not fit waits for the reset (zero-minute creates wait only at zero).
    if (this.server && (this.server.remaining <= 0 || (minutes > 0 && minutes > this.server.remaining))) return { until: this.server.resetAt, why: 'server' };
    let until = 0;
    for (const [cap, span] of [[this.perHour, HOUR_MS], [this.perDay, DAY_MS]] as const) {
      if (cap === undefined) continue;
      const leaves = this.capWait(cap, span, minutes, now);
      if (leaves > until) until = leaves;
    }
    return until > now ? { until, why: 'cap' } : undefined;
  }

  /** The earliest time `minutes` more fit under `cap` over a sliding `span`. */
  private capWait(cap: number, span: number, minutes: number, now: number): number {
    const inWindow = this.sent.filter((s) => s.at > now - span);
    let used = inWindow.reduce((sum, s) => sum + s.minutes, 0);
    if (used === 0 || used + minutes <= cap) return now;
    for (const s of inWindow) {
      used -= s.minutes;
      if (used === 0 || used + minutes <= cap) return s.at + span;
    }
    return now;
  }
}
