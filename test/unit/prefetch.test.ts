import { describe, expect, it } from 'vitest';
import { prefetch } from '../../src/sources/prefetch.js';

async function* numbers(n: number, pulled: { count: number }, failAt?: number): AsyncGenerator<number> {
  for (let i = 0; i < n; i++) {
    if (i === failAt) throw new Error(`boom at ${i}`);
    pulled.count += 1;
    await Promise.resolve();
    yield i;
  }
}

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('prefetch', () => {
  it('yields everything in order', async () => {
    const out: number[] = [];
    for await (const n of prefetch(numbers(10_000, { count: 0 }), 100)) out.push(n);
    expect(out).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
  });

  it('reads ahead while nobody consumes, but no further than the limit', async () => {
    const pulled = { count: 0 };
    const it = prefetch(numbers(1000, pulled), 50);
    await tick();
    expect(pulled.count).toBeGreaterThanOrEqual(50);
    expect(pulled.count).toBeLessThanOrEqual(51);
    it.stop();
  });

  it('surfaces a source error after the items before it', async () => {
    const out: number[] = [];
    await expect(
      (async () => {
        for await (const n of prefetch(numbers(10, { count: 0 }, 3), 100)) out.push(n);
      })(),
    ).rejects.toThrow('boom at 3');
    expect(out).toEqual([0, 1, 2]);
  });

  it('stop() ends the producer', async () => {
    const pulled = { count: 0 };
    const it = prefetch(numbers(1_000_000, pulled), 10);
    await tick();
    it.stop();
    const seen = pulled.count;
    await tick();
    expect(pulled.count).toBeLessThanOrEqual(seen + 1);
  });
});
