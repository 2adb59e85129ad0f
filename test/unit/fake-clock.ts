import type { Clock } from '../../src/clock.js';

interface Timer {
  at: number;
  seq: number;
  resolve: () => void;
}

/**
 * Virtual time. `sleep` registers a timer; once the event loop has nothing else to do this turn
 * (setImmediate), time jumps to the earliest timer and fires it. Concurrent sleepers therefore see
 * one shared timeline, and a test never waits for real time to pass.
 */
export class FakeClock implements Clock {
  private time: number;
  private seq = 0;
  private timers: Timer[] = [];
  private scheduled = false;
  /** Every sleep asked for, in order. */
  readonly sleeps: number[] = [];

  constructor(start = 0) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const timer: Timer = { at: this.time + Math.max(0, ms), seq: this.seq++, resolve };
      const onAbort = () => {
        this.timers = this.timers.filter((t) => t !== timer);
        reject(signal?.reason);
      };
      timer.resolve = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.timers.push(timer);
      this.schedule();
    });
  }

  /** Moves time forward by hand (timers due by then fire on the next turn). */
  advance(ms: number): void {
    this.time += ms;
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.fireEarliest();
    });
  }

  private fireEarliest(): void {
    if (this.timers.length === 0) return;
    this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
    const first = this.timers[0] as Timer;
    this.time = Math.max(this.time, first.at);
    const due = this.timers.filter((t) => t.at <= this.time);
    this.timers = this.timers.filter((t) => t.at > this.time);
    for (const timer of due) timer.resolve();
    if (this.timers.length) this.schedule();
  }
}
