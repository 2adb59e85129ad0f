import { describe, expect, it } from 'vitest';
import { Pacer } from '../../src/twelvelabs/pacer.js';
import { QUOTA_RESET_THRESHOLD_MS } from '../../src/twelvelabs/retry.js';
import { FakeClock } from './fake-clock.js';

const HOUR = 3_600_000;

function aPacer() {
  const clock = new FakeClock(1_000_000);
  const pauses: number[] = [];
  const pacer = new Pacer({ clock, random: () => 0.5, onThrottle: (ms) => pauses.push(ms) });
  return { clock, pacer, pauses };
}

/** The executor stops the run on a daily quota; the shared pacer must not hold every other request until midnight. */
describe('Pacer: a daily quota is not a rate limit', () => {
  it.each([
    ['X-Ratelimit-Reset hours away', { resetAtMs: 1_000_000 + 10 * HOUR, limit: 50, remaining: 0 }],
    ['Retry-After hours away', { retryAfterMs: 10 * HOUR }],
  ])('a 429 with %s does not pause the run', async (_name, signal) => {
    const { clock, pacer, pauses } = aPacer();
    await pacer.acquire();
    pacer.release({ status: 429, ...signal });
    await pacer.acquire();
    expect(clock.now()).toBe(1_000_000);
    expect(pauses).toEqual([]);
    expect(pacer.stats.pausedMs).toBe(0);
  });

  it('a window with nothing left that resets hours away does not hold requests', async () => {
    const { clock, pacer } = aPacer();
    await pacer.acquire();
    pacer.release({ status: 200, resetAtMs: 1_000_000 + 10 * HOUR, limit: 50, remaining: 0 });
    await pacer.acquire();
    expect(clock.now()).toBe(1_000_000);
  });

  it('a per-minute window still holds requests until its reset, and a short Retry-After still pauses', async () => {
    const { clock, pacer, pauses } = aPacer();
    await pacer.acquire();
    pacer.release({ status: 200, resetAtMs: 1_000_000 + 30_000, limit: 50, remaining: 0 });
    await pacer.acquire();
    expect(clock.now()).toBe(1_030_000);
    pacer.release({ status: 429, retryAfterMs: QUOTA_RESET_THRESHOLD_MS - 1 });
    await pacer.acquire();
    expect(pauses).toEqual([QUOTA_RESET_THRESHOLD_MS - 1]);
    expect(clock.now()).toBe(1_030_000 + QUOTA_RESET_THRESHOLD_MS - 1);
  });
});
