import { describe, expect, it } from 'vitest';
import { concatLines, mapIterable, runSteps, wait } from '../../src/planner/ordered.js';

function* sum(values: Array<number | Promise<number>>): Generator<unknown, number, unknown> {
  let total = 0;
  for (const value of values) total += yield* wait(value);
  return total;
}

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}

async function* numbers(n: number, ended: { ended: boolean }): AsyncGenerator<number> {
  try {
    for (let i = 0; i < n; i++) yield i;
  } finally {
    ended.ended = true;
  }
}

describe('runSteps', () => {
  it('answers at once, without a promise, while no step is a promise', () => {
    expect(runSteps(sum([1, 2, 3]))).toBe(6);
  });

  it('answers with a promise from the first step that is one, and the same result', async () => {
    const result = runSteps(sum([1, Promise.resolve(2), 3, Promise.resolve(4)]));
    expect(result).toBeInstanceOf(Promise);
    expect(await result).toBe(10);
  });

  it('throws a rejection at its step, where the steps may catch it', async () => {
    function* guarded(): Generator<unknown, string, unknown> {
      try {
        yield* wait(Promise.reject(new Error('no answer')));
        return 'answered';
      } catch (error) {
        return `caught: ${(error as Error).message}`;
      }
    }
    expect(await runSteps(guarded())).toBe('caught: no answer');
    await expect(runSteps(sum([1, Promise.reject(new Error('lost'))]))).rejects.toThrow('lost');
  });
});

describe('mapIterable and concatLines', () => {
  it('maps each item as it is read, and ending early ends the source', async () => {
    const all = { ended: false };
    expect(await collect(mapIterable(numbers(4, all), (n) => n * 10))).toEqual([0, 10, 20, 30]);
    expect(all.ended).toBe(true);
    const early = { ended: false };
    for await (const n of mapIterable(numbers(100, early), (x) => x)) if (n === 2) break;
    expect(early.ended).toBe(true);
  });

  it('gives the head, the body, then the tail made once the body ended; ending early ends the body', async () => {
    let bodyLines = 0;
    const body = mapIterable(numbers(3, { ended: false }), (n) => {
      bodyLines += 1;
      return `line ${n}`;
    });
    expect(await collect(concatLines('head', body, () => `tail after ${bodyLines}`))).toEqual(['head', 'line 0', 'line 1', 'line 2', 'tail after 3']);
    const early = { ended: false };
    for await (const line of concatLines('head', mapIterable(numbers(100, early), String), () => 'tail')) if (line === '1') break;
    expect(early.ended).toBe(true);
  });
});
