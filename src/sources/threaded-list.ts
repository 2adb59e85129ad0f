import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { SourceError, TlmError } from '../errors.js';
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
  | { access: true }
  | { objects: SourceObject[] }
  | { done: true }
  | { error: { kind: 'tlm'; name: string; code: string; message: string; exitCode: number } | { kind: 'other'; name: string; message: string; stack?: string | undefined } };

/** The compiled listing thread; absent where the sources run untranspiled (tests under vitest), which then list in-process. */
const WORKER_URL = new URL('./list-worker.js', import.meta.url);

/** Whether a listing can run on a thread of its own here (the compiled CLI, not the sources under vitest). */
export function canListOnThread(): boolean {
  // A bundle of the library may leave the worker's file out: then the listing runs here.
  return import.meta.url.endsWith('.js') && existsSync(fileURLToPath(WORKER_URL));
}

/** A listing thread started before it has a listing (warmListingThread), until one takes it or it ends. */
let warm: { worker: Worker; forget: () => void } | undefined;

/**
 * Starts a listing thread before the command line is read, for the CLI's `plan`: the thread's
 * start-up and its loading of the S3 SDK (~0.3 s of a busy machine's time) then overlap this
 * thread's own start-up instead of delaying the first listing request. The next ThreadedLister
 * takes it; `discardWarmListingThread` ends it when none will. It never keeps the process alive
 * on its own, and a thread that failed or ended is simply not taken.
 */
export function warmListingThread(): void {
  if (warm || !canListOnThread()) return;
  let worker: Worker;
  try {
    worker = new Worker(WORKER_URL, { workerData: { warm: true }, stdout: false, stderr: false });
  } catch {
    // No thread to spare now (a resource limit): the plan starts its own, and says so if that fails too.
    return;
  }
  const forget = () => {
    if (warm?.worker === worker) warm = undefined;
  };
  worker.on('error', forget);
  worker.on('exit', forget);
  worker.unref();
  warm = { worker, forget };
}

/** Ends a warm listing thread no listing will take (an inventory, a key list); whether there was one. */
export function discardWarmListingThread(): boolean {
  const thread = warm;
  warm = undefined;
  if (thread) void thread.worker.terminate();
  return thread !== undefined;
}

/** The warm thread, started with `data`, or a new one. */
function listingWorker(data: ListWorkerData): Worker {
  const thread = warm;
  warm = undefined;
  if (!thread) return new Worker(WORKER_URL, { workerData: data, stdout: false, stderr: false });
  thread.worker.off('error', thread.forget);
  thread.worker.off('exit', thread.forget);
  thread.worker.ref();
  thread.worker.postMessage({ start: data });
  return thread.worker;
}

/**
 * A bucket listing on a worker thread: the same objects, in the same order, as `S3Source.list`
 * (the same `listInParallel` over an S3Source's pages runs there), while this thread reads the index and plans. The listing's HTTP, signing and
 * XML reading are a fifth of a plan's CPU, and a plan is bound by one core: on their own thread
 * they overlap the rest, and this thread never loads the S3 SDK for them. The thread starts at
 * once (or was started before, see warmListingThread) and lists; its first page is the access
 * check (`checkAccess` waits for that answer, a round trip less than a check of its own); at most
 * `bufferObjects` objects wait for the reader (the thread then pauses until it asks for more).
 * Reading to the end, stopping early, `stop()` or the signal end the thread.
 */
export class ThreadedLister implements SourceLister {
  private readonly thread: ListingThread;
  private reading = false;

  constructor(
    settings: S3Settings,
    readonly bucket: string,
    private readonly prefix: string,
    options: { concurrency?: number; bufferObjects: number; batch?: number },
  ) {
    const batch = options.batch ?? 1000;
    this.thread = new ListingThread(bucket, {
      settings,
      bucket,
      prefix,
      concurrency: options.concurrency ?? 8,
      batch,
      credit: Math.max(1, Math.ceil(options.bufferObjects / batch)),
    });
  }

  /** Resolves once S3 answered the thread's first listing request (ListObjectsV2 under the prefix); fails as `S3Source.checkAccess` does. A stop ends the thread. */
  checkAccess(signal?: AbortSignal): Promise<void> {
    return this.thread.accessChecked(signal);
  }

  /** The listing the thread is making (of the prefix it was started with), read once. */
  list(options: ListOptions, signal?: AbortSignal): AsyncGenerator<SourceObject> & { stop(): void } {
    if (options.prefix !== this.prefix || this.reading) throw new Error(`ThreadedLister: lists '${this.prefix}' once`);
    this.reading = true;
    return Object.assign(this.thread.read(signal), { stop: () => this.thread.stop() });
  }

  /** Ends the thread, read or not (a generator never started runs no `finally`). */
  stop(): void {
    this.thread.stop();
  }
}

/** One listing's thread and what it has posted that is not read yet. */
class ListingThread {
  private readonly worker: Worker;
  private readonly inbox: Array<Exclude<ListWorkerMessage, { access: true }>> = [];
  private failure: { error: unknown } | undefined;
  private exited = false;
  private checked = false;
  /** Whoever waits for the thread's next message: the access check and the reader may both. */
  private waiters: Array<() => void> = [];

  constructor(
    private readonly bucket: string,
    data: ListWorkerData,
  ) {
    this.worker = listingWorker(data);
    this.worker.on('message', (message: ListWorkerMessage) => {
      if ('access' in message) this.checked = true;
      else this.inbox.push(message);
      this.notify();
    });
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', () => {
      this.exited = true;
      this.notify();
    });
  }

  async accessChecked(signal?: AbortSignal): Promise<void> {
    const onAbort = () => this.notify();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        if (signal?.aborted) {
          this.stop();
          throw signal.reason;
        }
        if (this.checked) return;
        const first = this.inbox[0];
        if (first && 'error' in first) throw rebuild(first.error);
        await this.next();
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async *read(signal?: AbortSignal): AsyncGenerator<SourceObject> {
    const onAbort = () => this.fail(signal?.reason);
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        this.throwIfFailed();
        const message = this.inbox.shift();
        if (message === undefined) {
          await this.next();
          continue;
        }
        if ('done' in message) return;
        if ('error' in message) throw rebuild(message.error);
        this.worker.postMessage({ more: 1 });
        for (const object of message.objects) {
          // A stop is answered at the next object, not at the end of the batch.
          this.throwIfFailed();
          yield object;
        }
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.stop();
    }
  }

  stop(): void {
    void this.worker.terminate();
  }

  /** Waits for the thread's next message (or its failure, or a stop); an empty inbox after the thread's end is a failure. */
  private async next(): Promise<void> {
    this.throwIfFailed();
    if (this.exited && this.inbox.length === 0) throw new SourceError('s3_error', `S3 list of bucket '${this.bucket}' failed: the listing thread ended before the listing did: try again`);
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure.error;
  }

  private fail(error: unknown): void {
    this.failure ??= { error };
    this.notify();
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

/** The thread's failure on this side: a SourceError as itself, another TlmError as one of its name, a bug with the thread's stack. */
function rebuild(error: Extract<ListWorkerMessage, { error: unknown }>['error']): Error {
  if (error.kind === 'tlm') {
    const rebuilt = error.name === 'SourceError' ? new SourceError(error.code, error.message, { exitCode: error.exitCode }) : new TlmError(error.code, error.message, { exitCode: error.exitCode });
    rebuilt.name = error.name;
    return rebuilt;
  }
  const rebuilt = new Error(error.message);
  rebuilt.name = error.name;
  if (error.stack) rebuilt.stack = error.stack;
  return rebuilt;
}
