/**
 * Maps an async iterable with up to `concurrency` calls in flight, yielding results in input order.
 * The synchronous part of each call runs in input order too, which the planner relies on.
 */
export async function* mapOrdered<T, R>(source: AsyncIterable<T>, concurrency: number, fn: (item: T) => Promise<R>): AsyncGenerator<R> {
  const window: Array<Promise<R>> = [];
  for await (const item of source) {
    const pending = fn(item);
    // Handled when yielded; this keeps an early rejection from being reported as unhandled.
    pending.catch(() => undefined);
    window.push(pending);
    if (window.length >= concurrency) yield await (window.shift() as Promise<R>);
  }
  while (window.length) yield await (window.shift() as Promise<R>);
}

/**
 * Runs steps written once for both ways: a step yields a value, or a promise of one, and gets it
 * back resolved. While no step yields a promise the result comes at once, with no promise made;
 * from the first promise on, the rest runs when it settles (a rejection is thrown at that step).
 */
export function runSteps<R>(steps: Generator<unknown, R, unknown>): R | Promise<R> {
  return drive(steps, steps.next());
}

function drive<R>(steps: Generator<unknown, R, unknown>, next: IteratorResult<unknown, R>): R | Promise<R> {
  while (!next.done) {
    const value = next.value;
    if (value instanceof Promise) {
      return value.then(
        (resolved: unknown) => drive(steps, steps.next(resolved)),
        (error: unknown) => drive(steps, steps.throw(error)),
      );
    }
    next = steps.next(value);
  }
  return next.value;
}

/** One step of `runSteps`: a value as it is, a promise once it resolves. */
export function* wait<T>(value: T | Promise<T>): Generator<unknown, T, unknown> {
  return (yield value) as T;
}

/**
 * `source` with `map` applied to each item as it is read: an iterator over the source's own, with
 * no generator between (each generator an item passes through costs ~1 us of CPU, ~0.1 s a step
 * at 100k objects). Ending it early ends the source.
 */
export function mapIterable<T, R>(source: AsyncIterable<T>, map: (item: T) => R): AsyncIterableIterator<R> {
  const inner = source[Symbol.asyncIterator]();
  const mapped: AsyncIterableIterator<R> = {
    next: () => inner.next().then((result) => (result.done ? result : { done: false, value: map(result.value) })),
    return: async (value?: unknown) => {
      await inner.return?.(value);
      return { done: true, value: value as R };
    },
    [Symbol.asyncIterator]: () => mapped,
  };
  return mapped;
}

/** `head`, the lines `body` gives, then `tail()` (called once the body ended): as one iterator, with no generator between. */
export function concatLines(head: string, body: AsyncIterator<string>, tail: () => string): AsyncIterableIterator<string> {
  let stage: 'head' | 'body' | 'done' = 'head';
  const lines: AsyncIterableIterator<string> = {
    next: () => {
      if (stage === 'head') {
        stage = 'body';
        return Promise.resolve({ done: false, value: head });
      }
      if (stage === 'done') return Promise.resolve({ done: true, value: undefined });
      return body.next().then((result) => {
        if (!result.done) return result;
        stage = 'done';
        return { done: false, value: tail() };
      });
    },
    return: async (value?: unknown) => {
      const ended = stage === 'done';
      stage = 'done';
      if (!ended) await body.return?.();
      return { done: true, value: value as string };
    },
    [Symbol.asyncIterator]: () => lines,
  };
  return lines;
}
