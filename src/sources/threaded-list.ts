import { Worker } from 'node:worker_threads';
import { SourceError } from '../errors.js';
import type { S3Settings } from './s3-settings.js';
import type { ListOptions, SourceLister, SourceObject } from './types.js';

/** What the listing thread is started with: plain data (the credentials come from the SDK's default chain there, as here). */
export interface ListWorkerData {
  settings: S3Settings;
  bucket: string;
  prefix: string;
  concurrency: number;
  /** Objects a message carries. */
  batch: number;
  /** Batches the thread may post before the reader asks for more. */
  credit: number;
}

export type ListWorkerMessage =
  | { objects: SourceObject[] }
  | { done: true }
  | { error: { kind: 'source'; code: string; message: string } | { kind: 'other'; name: string; message: string } };

/** The compiled listing thread; absent where the sources run untranspiled (tests under vitest), which then list in-process. */
const WORKER_URL = new URL('./list-worker.js', import.meta.url);

/** Whether a listing can run on a thread of its own here (the compiled CLI). */
export function canListOnThread(): boolean {
  return import.meta.url.endsWith('.js');
}

/**
 * A bucket listing on a worker thread: the same objects, in the same order, as `S3Source.list`
 * (it runs there), while this thread reads the index and plans. The listing's HTTP, signing and
 * XML reading are a tenth to a fifth of a plan's CPU, and a plan is bound by one core: on their
 * own thread they overlap the rest. The thread starts when `list` is called, not at the first
 * read; at most `bufferObjects` objects wait for the reader (the thread then pauses until it asks
 * for more). Reading to the end, stopping early, `stop()` or the signal end the thread.
 */
export class ThreadedLister implements SourceLister {
  constructor(
    private readonly settings: S3Settings,
    readonly bucket: string,
    private readonly options: { concurrency?: number; bufferObjects: number; batch?: number },
  ) {}

  list(options: ListOptions, signal?: AbortSignal): AsyncGenerator<SourceObject> & { stop(): void } {
    const batch = this.options.batch ?? 1000;
    const thread = new ListingThread(this.bucket, {
      settings: this.settings,
      bucket: this.bucket,
      prefix: options.prefix,
      concurrency: this.options.concurrency ?? 8,
      batch,
      credit: Math.max(1, Math.ceil(this.options.bufferObjects / batch)),
    }, signal);
    return Object.assign(thread.read(), { stop: () => thread.stop() });
  }
}

/** One listing's thread and what it has posted that is not read yet. */
class ListingThread {
  private readonly worker: Worker | undefined;
  private readonly inbox: ListWorkerMessage[] = [];
  private failure: { error: unknown } | undefined;
  private exited = false;
  private wake: (() => void) | undefined;
  private readonly onAbort = () => this.fail(this.signal?.reason);

  constructor(
    private readonly bucket: string,
    data: ListWorkerData,
    private readonly signal?: AbortSignal,
  ) {
    if (signal?.aborted) {
      this.failure = { error: signal.reason };
      return;
    }
    this.worker = new Worker(WORKER_URL, { workerData: data, stdout: false, stderr: false });
    this.worker.on('message', (message: ListWorkerMessage) => {
      this.inbox.push(message);
      this.notify();
    });
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', () => {
      this.exited = true;
      this.notify();
    });
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  async *read(): AsyncGenerator<SourceObject> {
    try {
      for (;;) {
        this.throwIfFailed();
        const message = this.inbox.shift();
        if (message === undefined) {
          if (this.exited) throw new SourceError('s3_error', `S3 list of bucket '${this.bucket}' failed: the listing thread ended before the listing did: try again`);
          await new Promise<void>((resolve) => (this.wake = resolve));
          continue;
        }
        if ('done' in message) return;
        if ('error' in message) throw rebuild(message.error);
        this.worker?.postMessage({ more: 1 });
        for (const object of message.objects) {
          // A stop is answered at the next object, not at the end of the batch.
          this.throwIfFailed();
          yield object;
        }
      }
    } finally {
      this.stop();
    }
  }

  /** Ends the thread (also when nothing was read: a generator never started runs no `finally`). */
  stop(): void {
    this.signal?.removeEventListener('abort', this.onAbort);
    void this.worker?.terminate();
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure.error;
  }

  private fail(error: unknown): void {
    this.failure ??= { error };
    this.notify();
  }

  private notify(): void {
    this.wake?.();
    this.wake = undefined;
  }
}

function rebuild(error: Extract<ListWorkerMessage, { error: unknown }>['error']): Error {
  if (error.kind === 'source') return new SourceError(error.code, error.message);
  const rebuilt = new Error(error.message);
  rebuilt.name = error.name;
  return rebuilt;
}
