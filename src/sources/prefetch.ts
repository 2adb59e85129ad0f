/**
 * Pulls from `source` eagerly into a bounded buffer, so a listing runs while its consumer is busy
 * elsewhere. Errors surface to the consumer, in order. `stop()` ends the producer early.
 */
export function prefetch<T>(source: AsyncIterable<T>, limit: number, onItem?: () => void): AsyncGenerator<T> & { stop(): void } {
  const buffer = new PrefetchBuffer<T>(limit, onItem);
  void buffer.fill(source);
  return Object.assign(buffer.drain(), { stop: () => buffer.stop() });
}

/** The buffer between one producer (`fill`) and one consumer (`drain`); each waits on the other only at the bounds. */
class PrefetchBuffer<T> {
  private items: T[] = [];
  private head = 0;
  private done = false;
  private stopped = false;
  private failure: { error: unknown } | undefined;
  private wake: (() => void) | undefined;
  private resumeProducer: (() => void) | undefined;

  constructor(
    private readonly limit: number,
    private readonly onItem?: () => void,
  ) {}

  async fill(source: AsyncIterable<T>): Promise<void> {
    try {
      for await (const item of source) {
        if (this.stopped) return;
        this.items.push(item);
        this.onItem?.();
        this.notify();
        if (this.items.length - this.head >= this.limit) await new Promise<void>((resolve) => (this.resumeProducer = resolve));
      }
    } catch (error) {
      this.failure = { error };
    } finally {
      this.done = true;
      this.notify();
    }
  }

  async *drain(): AsyncGenerator<T> {
    try {
      for (;;) {
        if (this.head < this.items.length) {
          const item = this.items[this.head] as T;
          this.head += 1;
          // Drop consumed slots now and then instead of shifting a large array item by item.
          if (this.head >= 4096 && this.head * 2 >= this.items.length) {
            this.items = this.items.slice(this.head);
            this.head = 0;
          }
          if (this.items.length - this.head < this.limit / 2) this.resume();
          yield item;
          continue;
        }
        if (this.failure) throw this.failure.error;
        if (this.done) return;
        await new Promise<void>((resolve) => (this.wake = resolve));
      }
    } finally {
      this.stop();
    }
  }

  stop(): void {
    this.stopped = true;
    this.resume();
  }

  private notify(): void {
    this.wake?.();
    this.wake = undefined;
  }

  private resume(): void {
    this.resumeProducer?.();
    this.resumeProducer = undefined;
  }
}
