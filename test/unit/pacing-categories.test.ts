import { describe, expect, it } from 'vitest';
import { VideoMinutePacer } from '../../src/twelvelabs/minutes.js';
import { Pacer } from '../../src/twelvelabs/pacer.js';
import { PacerSet, limitCategory } from '../../src/twelvelabs/pacers.js';
import { readRateLimit } from '../../src/twelvelabs/client.js';
import { FakeClock } from './fake-clock.js';

const HOUR = 3_600_000;

describe('limitCategory: the categories the API documents', () => {
  it.each([
    ['POST', '/tasks', 'tasks'],
    ['POST', '/indexes/65f0a1b2c3d4e5f6a7b8c9d0/indexed-assets', 'tasks'],
    ['POST', '/assets', 'assets'],
    ['GET', '/tasks', 'reads'],
    ['GET', '/assets', 'reads'],
    ['GET', '/indexes/x/videos', 'reads'],
    ['DELETE', '/tasks/x', 'reads'],
  ])('%s %s -> %s', (method, path, category) => {
    expect(limitCategory(method, path)).toBe(category);
  });
});

describe('PacerSet: each category learns alone', () => {
  it('a 429 on reads pauses reads, not creates', async () => {
    const clock = new FakeClock(0);
    const set = new PacerSet({ clock, random: () => 0.5 });
    const reads = set.gateFor('GET', '/tasks');
    await reads.acquire();
    reads.release({ status: 429, retryAfterMs: 30_000 });
    const creates = set.gateFor('POST', '/tasks');
    await creates.acquire();
    expect(clock.now()).toBe(0);
    creates.release({ status: 201 });
    await reads.acquire();
    expect(clock.now()).toBe(30_000);
    expect(set.stats.byCategory.reads.throttled).toBe(1);
    expect(set.stats.byCategory.tasks.throttled).toBe(0);
  });

  it('a 429 on POST /tasks also holds POST indexed-assets (one shared limit), not POST /assets', async () => {
    const clock = new FakeClock(0);
    const set = new PacerSet({ clock, random: () => 0.5 });
    const tasks = set.gateFor('POST', '/tasks');
    await tasks.acquire();
    tasks.release({ status: 429, retryAfterMs: 10_000 });
    await set.gateFor('POST', '/assets').acquire();
    expect(clock.now()).toBe(0);
    await set.gateFor('POST', '/indexes/i/indexed-assets').acquire();
    expect(clock.now()).toBe(10_000);
  });

  it('a video-minute refusal teaches the minute pacer and leaves the request rate alone', async () => {
    const clock = new FakeClock(0);
    const minutes = new VideoMinutePacer({ clock });
    const set = new PacerSet({ clock, maxRpm: 600, minutes, random: () => 0.5 });
    const tasks = set.gateFor('POST', '/tasks');
    await tasks.acquire();
    tasks.release({ status: 429, videoMinutes: { limit: 30, remaining: 0, resetAtMs: 20_000 } });
    expect(set.pacers.tasks.stats.currentRpm).toBe(600);
    expect(minutes.stats.learnedLimit).toBe(30);
    await minutes.acquire(5);
    expect(clock.now()).toBe(20_000);
    // A retry of the refused create waits for the reset too.
    const retryAt = new FakeClock(0);
    const again = new PacerSet({ clock: retryAt, minutes: new VideoMinutePacer({ clock: retryAt }) });
    const gate = again.gateFor('POST', '/tasks');
    await gate.acquire();
    gate.release({ status: 429, videoMinutes: { limit: 30, remaining: 0, resetAtMs: 20_000 } });
    await gate.acquire();
    expect(retryAt.now()).toBe(20_000);
    expect(again.pacers.tasks.stats.currentRpm).toBeUndefined();
  });
});

describe('readRateLimit: video-minute headers (the simulator\'s assumed wire form)', () => {
  it('reads X-Ratelimit-Video-Minutes-* as a minute budget with an absolute reset', () => {
    const headers = new Headers({ 'x-ratelimit-video-minutes-limit': '600', 'x-ratelimit-video-minutes-remaining': '12', 'x-ratelimit-video-minutes-reset': '1800000000' });
    expect(readRateLimit({ status: 201, headers }, 0).videoMinutes).toEqual({ limit: 600, remaining: 12, resetAtMs: 1_800_000_000_000 });
    expect(readRateLimit({ status: 201, headers: new Headers() }, 0).videoMinutes).toBeUndefined();
  });
});

describe('VideoMinutePacer', () => {
  it('keeps creates within --max-video-minutes-per-hour over any sliding hour', async () => {
    const clock = new FakeClock(0);
    const pacer = new VideoMinutePacer({ clock, perHour: 10 });
    const sent: Array<[number, number]> = [];
    for (const minutes of [4, 4, 4, 1, 6]) {
      await pacer.acquire(minutes);
      sent.push([clock.now(), minutes]);
    }
    expect(sent.map(([at]) => at)).toEqual([0, 0, HOUR, HOUR, 2 * HOUR]);
    for (const [at] of sent) expect(sent.filter(([t]) => t > at - HOUR && t <= at).reduce((sum, [, m]) => sum + m, 0)).toBeLessThanOrEqual(10);
  });

  it('lets a video longer than the whole cap leave alone in its window', async () => {
    const clock = new FakeClock(0);
    const pacer = new VideoMinutePacer({ clock, perHour: 10, perDay: 100 });
    await pacer.acquire(90);
    expect(clock.now()).toBe(0);
    await pacer.acquire(1);
    expect(clock.now()).toBe(HOUR);
  });

  it('spends the budget the server announces and waits for its reset when an item does not fit', async () => {
    const clock = new FakeClock(0);
    const pacer = new VideoMinutePacer({ clock });
    pacer.learn({ limit: 10, remaining: 6, resetAtMs: 60_000 });
    await pacer.acquire(5);
    expect(clock.now()).toBe(0);
    await pacer.acquire(5);
    expect(clock.now()).toBe(60_000);
    // An answer about the old window, arriving late, says nothing about the new one.
    pacer.learn({ limit: 10, remaining: 0, resetAtMs: 60_000 });
    await pacer.acquire(1);
    expect(clock.now()).toBe(60_000);
  });

  it('stops waiting when the run stops', async () => {
    const clock = new FakeClock(0);
    const pacer = new VideoMinutePacer({ clock, perHour: 1 });
    await pacer.acquire(1);
    const stop = new AbortController();
    const waiting = pacer.acquire(1, stop.signal);
    stop.abort(new Error('SIGINT'));
    await expect(waiting).rejects.toThrow('SIGINT');
  });
});

describe('Pacer: unchanged for requests', () => {
  it('still slows down on a plain 429', async () => {
    const clock = new FakeClock(0);
    const pacer = new Pacer({ clock, maxRpm: 600, random: () => 0.5 });
    for (let i = 0; i < 10; i++) {
      await pacer.acquire();
      pacer.release({ status: 200 });
    }
    pacer.release({ status: 429 });
    expect(pacer.stats.currentRpm).toBeLessThan(600);
  });
});
