import { Readable } from 'node:stream';

/**
 * The body, failing with `silent()` when the server sends nothing for `timeoutMs` while we wait
 * for data. Our own pauses (the planner busy, backpressure) are not silence: no read is pending.
 */
export function guardSilence(body: Readable, timeoutMs: number, silent: () => Error): Readable {
  async function* guarded(): AsyncGenerator<Buffer> {
    const chunks = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    try {
      for (;;) {
        let timer: NodeJS.Timeout | undefined;
        const stalled = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(silent()), timeoutMs);
        });
        const read = chunks.next();
        // Abandoned when the server goes silent: its later failure (the body destroyed) is expected.
        read.catch(() => undefined);
        const next = await Promise.race([read, stalled]).finally(() => clearTimeout(timer));
        if (next.done) return;
        yield next.value;
      }
    } finally {
      // Ended, failed or abandoned: the connection goes with it.
      body.destroy();
    }
  }
  return Readable.from(guarded(), { objectMode: false });
}
