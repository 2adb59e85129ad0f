import { describe, expect, it } from 'vitest';
import { Pacer } from '../../src/twelvelabs/pacer.js';
import { FakeClock } from './fake-clock.js';

/**
 * Found by the chaos suite: with N requests in flight, a 429 burst without rate-limit headers
 * (the v1.3 case) halved the rate N times, so 3 concurrent 429s took a run from 400 to 50 rpm and
 * 16 would take any run to 1 rpm, recovering at +10% per 10 successes.
 */
describe('Pacer: one 429 burst is one slow-down', () => {
  async function burst(inFlight: number) {
    const clock = new FakeClock(0);
    const pauses: number[] = [];
    const pacer = new Pacer({ clock, random: () => 0.5, onThrottle: (ms) => pauses.push(ms) });
    // 20 requests in 1.9 s: about 630 per minute.
    for (let i = 0; i < 20; i++) {
      if (i > 0) await clock.sleep(100);
      await pacer.acquire();
      pacer.release({ status: 200 });
    }
    for (let i = 0; i < inFlight; i++) await pacer.acquire();
    for (let i = 0; i < inFlight; i++) pacer.release({ status: 429 });
    return { clock, pacer, pauses };
  }

  it.each([1, 3, 16])('%i requests refused at once halve the rate once and back off one step', async (n) => {
    const { pacer, pauses } = await burst(n);
    expect(pacer.stats.currentRpm).toBeGreaterThanOrEqual(300);
    expect(pacer.stats.throttled).toBe(n);
    expect(pauses).toEqual(Array.from({ length: n }, () => 750));
    expect(pacer.stats.pausedMs).toBe(750);
  });

  it('a 429 for a request sent after the pause is a new burst: halved again, a longer backoff', async () => {
    const { clock, pacer, pauses } = await burst(3);
    const after = pacer.stats.currentRpm ?? 0;
    await pacer.acquire();
    expect(clock.now()).toBeGreaterThanOrEqual(1_900 + 750);
    pacer.release({ status: 429 });
    expect(pacer.stats.currentRpm).toBe(Math.floor(after / 2));
    expect(pauses.at(-1)).toBe(1_500);
  });
});
