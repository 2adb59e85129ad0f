import { describe, expect, it } from 'vitest';
import { Pacer } from '../../src/twelvelabs/pacer.js';
import type { ResponseSignal } from '../../src/twelvelabs/pacer.js';
import { FakeClock } from './fake-clock.js';

const OK: ResponseSignal = { status: 200 };
const MINUTE = 60_000;

function aPacer(options: { maxRpm?: number; start?: number } = {}) {
  const clock = new FakeClock(options.start ?? 0);
  const throttles: number[] = [];
  const pacer = new Pacer({ clock, maxRpm: options.maxRpm, random: () => 0.5, onThrottle: (ms) => throttles.push(ms) });
  return { clock, pacer, throttles };
}

/** Acquires and answers `n` requests one after another; returns when each was let through. */
async function sendSequentially(pacer: Pacer, clock: FakeClock, n: number, answer: ResponseSignal = OK): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    await pacer.acquire();
    times.push(clock.now());
    pacer.release(answer);
  }
  return times;
}

function gaps(times: number[]): number[] {
  return times.slice(1).map((t, i) => t - (times[i] as number));
}

describe('Pacer: --max-rpm', () => {
  it.each<[number, number]>([
    [60, 30],
    [600, 100],
    [7, 15],
  ])('spaces %i rpm evenly: %i requests take (n-1)/rpm minutes of virtual time', async (rpm, n) => {
    const { clock, pacer } = aPacer({ maxRpm: rpm });
    const times = await sendSequentially(pacer, clock, n);
    expect(times[0]).toBe(0);
    expect(clock.now()).toBeCloseTo(((n - 1) * MINUTE) / rpm, 6);
    for (const gap of gaps(times)) expect(gap).toBeCloseTo(MINUTE / rpm, 6);
    expect(pacer.stats.sent).toBe(n);
  });

  it('spaces concurrent callers too: never more than rpm in any minute', async () => {
    const { clock, pacer } = aPacer({ maxRpm: 120 });
    const times: number[] = [];
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        await pacer.acquire();
        times.push(clock.now());
        pacer.release(OK);
      }),
    );
    times.sort((a, b) => a - b);
    for (const gap of gaps(times)) expect(gap).toBeGreaterThanOrEqual(500 - 1e-6);
    expect(times.at(-1)).toBeCloseTo(49 * 500, 6);
  });

  it('does not wait at all without a cap', async () => {
    const { clock, pacer } = aPacer();
    await sendSequentially(pacer, clock, 1000);
    expect(clock.now()).toBe(0);
    expect(clock.sleeps).toEqual([]);
  });

  it('gives up waiting when the signal aborts', async () => {
    const { pacer } = aPacer({ maxRpm: 1 });
    await pacer.acquire();
    const controller = new AbortController();
    const waiting = pacer.acquire(controller.signal);
    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
  });
});

describe('Pacer: after a 429', () => {
  it('pauses every later acquire until Retry-After has passed', async () => {
    const { clock, pacer, throttles } = aPacer();
    await pacer.acquire();
    pacer.release({ status: 429, retryAfterMs: 30_000 });
    const times: number[] = [];
    await Promise.all(
      Array.from({ length: 5 }, async () => {
        await pacer.acquire();
        times.push(clock.now());
        pacer.release(OK);
      }),
    );
    for (const t of times) expect(t).toBeGreaterThanOrEqual(30_000);
    expect(throttles).toEqual([30_000]);
    expect(pacer.stats).toMatchObject({ throttled: 1, pausedMs: 30_000 });
  });

  it('waits for X-Ratelimit-Reset when there is no Retry-After', async () => {
    const { clock, pacer } = aPacer({ start: 1_000_000 });
    await pacer.acquire();
    pacer.release({ status: 429, resetAtMs: 1_000_000 + 42_000, limit: 600, remaining: 0 });
    await pacer.acquire();
    expect(clock.now()).toBe(1_042_000);
  });

  it('without any header, backs off with jitter and lowers the rate below what was observed', async () => {
    const { clock, pacer, throttles } = aPacer();
    // 100 requests, one every 30 s: 2 per minute.
    for (let i = 0; i < 100; i++) {
      await pacer.acquire();
      pacer.release(OK);
      await clock.sleep(30_000);
    }
    const before = clock.now();
    await pacer.acquire();
    pacer.release({ status: 429 });
    expect(throttles).toEqual([750]);
    const times = await sendSequentially(pacer, clock, 4);
    expect(times[0]).toBeGreaterThanOrEqual(before + 750);
    expect(pacer.stats.currentRpm).toBeDefined();
    expect(pacer.stats.currentRpm).toBeLessThanOrEqual(2);
    for (const gap of gaps(times)) expect(gap).toBeGreaterThanOrEqual(30_000);
  });

  it('halves the rate of a young run from what it sent so far, not from one minute', async () => {
    const { clock, pacer } = aPacer();
    // 20 requests in 1.9 s: about 630 per minute.
    for (let i = 0; i < 20; i++) {
      if (i > 0) await clock.sleep(100);
      await pacer.acquire();
      pacer.release(i === 19 ? { status: 429 } : OK);
    }
    expect(pacer.stats.currentRpm).toBe(315);
  });

  it('halves an explicit rate and backs off longer on each consecutive 429', async () => {
    const { clock, pacer, throttles } = aPacer({ maxRpm: 120 });
    await sendSequentially(pacer, clock, 120);
    await pacer.acquire();
    pacer.release({ status: 429 });
    await pacer.acquire();
    pacer.release({ status: 429 });
    expect(throttles).toEqual([750, 1_500]);
    expect(pacer.stats.currentRpm).toBe(30);
  });

  it('ramps back up gradually after successes, never above the cap', async () => {
    const { clock, pacer } = aPacer({ maxRpm: 100 });
    await sendSequentially(pacer, clock, 100);
    await pacer.acquire();
    pacer.release({ status: 429 });
    expect(pacer.stats.currentRpm).toBe(50);
    const seen: number[] = [];
    for (let i = 0; i < 200; i++) {
      await sendSequentially(pacer, clock, 1);
      seen.push(pacer.stats.currentRpm ?? Infinity);
    }
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(seen[5]).toBe(50);
    expect(seen.at(-1)).toBe(100);
  });
});

describe('Pacer: X-Ratelimit-Remaining', () => {
  it('waits for the reset once the server says nothing is left', async () => {
    const { clock, pacer } = aPacer({ start: 1_000_000 });
    await pacer.acquire();
    pacer.release({ status: 200, limit: 600, remaining: 0, resetAtMs: 1_000_000 + 45_000 });
    await pacer.acquire();
    expect(clock.now()).toBe(1_045_000);
  });

  it('spends what is left without waiting, then waits for the reset', async () => {
    const { clock, pacer } = aPacer();
    await pacer.acquire();
    pacer.release({ status: 200, remaining: 3, resetAtMs: 20_000 });
    const times: number[] = [];
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        await pacer.acquire();
        times.push(clock.now());
      }),
    );
    expect(times).toEqual([0, 0, 0, 20_000]);
  });

  it('trusts a new window at once, even when an answer straddles the reset', async () => {
    const { clock, pacer } = aPacer();
    await pacer.acquire();
    pacer.release({ status: 200, remaining: 1, resetAtMs: 60_000 });
    await clock.sleep(59_900);
    await pacer.acquire();
    await clock.sleep(200);
    // The answer comes from the next window: 99 left until 120 s.
    pacer.release({ status: 200, remaining: 99, resetAtMs: 120_000 });
    await pacer.acquire();
    expect(clock.now()).toBe(60_100);
  });

  it('ignores a late answer from an earlier window', async () => {
    const { clock, pacer } = aPacer();
    await pacer.acquire();
    await pacer.acquire();
    pacer.release({ status: 200, remaining: 50, resetAtMs: 60_000 });
    await clock.sleep(61_000);
    await pacer.acquire();
    pacer.release({ status: 200, remaining: 99, resetAtMs: 120_000 });
    // The first request's answer, delayed: it speaks of the window that ended at 60 s.
    pacer.release({ status: 200, remaining: 0, resetAtMs: 60_000 });
    await pacer.acquire();
    expect(clock.now()).toBe(61_000);
  });

  it('counts requests still in flight against what the server says is left', async () => {
    const { clock, pacer } = aPacer();
    await pacer.acquire();
    await pacer.acquire();
    await pacer.acquire();
    // One answer: 2 left, but two of ours are still on the wire.
    pacer.release({ status: 200, remaining: 2, resetAtMs: 30_000 });
    await pacer.acquire();
    expect(clock.now()).toBe(30_000);
  });

  it('forgets the budget once the reset has passed', async () => {
    const { clock, pacer } = aPacer();
    await pacer.acquire();
    pacer.release({ status: 200, remaining: 0, resetAtMs: 10_000 });
    await clock.sleep(15_000);
    const times = await sendSequentially(pacer, clock, 5);
    expect(times).toEqual([15_000, 15_000, 15_000, 15_000, 15_000]);
  });
});
