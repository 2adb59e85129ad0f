/**
 * Pulls from `source` eagerly into a bounded buffer, so a listing runs while its consumer is busy
 * elsewhere. Errors surface to the consumer, in order. `stop()` ends the producer early.
 */
export function prefetch<T>(source: AsyncIterable<T>, limit: number, onItem?: () => void): AsyncGenerator<T> & { stop(): void } {
  let buffer: T[] = [];
  let head = 0;
  let done = false;
  let stopped = false;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  let resumeProducer: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  const resume = () => {
    resumeProducer?.();
    resumeProducer = undefined;
  };
  void (async () => {
    try {
      for await (const item of source) {
        if (stopped) return;
        buffer.push(item);
        onItem?.();
        notify();
        if (buffer.length - head >= limit) await new Promise<void>((resolve) => (resumeProducer = resolve));
      }
    } catch (error) {
      failure = { error };
    } finally {
      done = true;
      notify();
    }
  })();
  const iterator = (async function* () {
    try {
      for (;;) {
        if (head < buffer.length) {
          const item = buffer[head] as T;
          head += 1;
          // Drop consumed slots now and then instead of shifting a large array item by item.
          if (head >= 4096 && head * 2 >= buffer.length) {
            buffer = buffer.slice(head);
            head = 0;
          }
          if (buffer.length - head < limit / 2) resume();
          yield item;
          continue;
        }
        if (failure) throw failure.error;
        if (done) return;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      stopped = true;
      resume();
    }
  })();
  return Object.assign(iterator, {
    stop: () => {
      stopped = true;
      resume();
    },
  });
}
