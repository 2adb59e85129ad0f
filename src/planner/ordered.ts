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
