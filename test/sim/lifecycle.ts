import type { SimClock } from './clock.js';
import type { SimTask, TaskFailure, TaskStatus } from './model.js';
import { probeSource } from './probe.js';
import type { ProbeOptions, ProbeOutcome } from './probe.js';
import type { SimStore } from './store.js';
import { fileBroken } from './validate.js';

/** How long a task stays in each state; 0 moves on at once. */
export interface LifecycleTimings {
  validatingMs: number;
  pendingMs: number;
  queuedMs: number;
  indexingMs: number;
}

export const DEFAULT_TIMINGS: LifecycleTimings = { validatingMs: 50, pendingMs: 50, queuedMs: 50, indexingMs: 100 };

/**
 * Moves tasks validating -> pending -> queued -> indexing -> ready | failed. The video is read
 * (fetched, sniffed or ffprobed) while the task validates; it leaves validating when both the
 * validating time has passed and the read is done.
 */
export class Lifecycle {
  readonly #probing = new Set<Promise<void>>();
  readonly #listeners = new Set<(task: SimTask) => void>();
  readonly #abort = new AbortController();

  constructor(
    private readonly store: SimStore,
    private readonly clock: SimClock,
    private readonly timings: LifecycleTimings,
    private readonly probe: Omit<ProbeOptions, 'signal'>,
  ) {}

  /** Starts a freshly created task (status `validating`) on its way. */
  start(task: SimTask): void {
    let outcome: ProbeOutcome | undefined;
    let validated = false;
    const probing = probeSource(task.source, task.filename, { ...this.probe, signal: this.#abort.signal })
      .catch((error: unknown): ProbeOutcome => ({ ok: false, failure: fileBroken(String(error)) }))
      .then((result) => {
        outcome = result;
        // Uploaded bytes matter only while validating; dropping them keeps long benchmarks' memory flat.
        if (task.source.kind === 'file') task.source = { ...task.source, bytes: Buffer.alloc(0) };
        if (validated) this.#afterValidation(task, result);
      })
      .finally(() => this.#probing.delete(probing));
    this.#probing.add(probing);
    this.#after(this.timings.validatingMs, () => {
      validated = true;
      if (outcome) this.#afterValidation(task, outcome);
    });
  }

  onTransition(listener: (task: SimTask) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Resolves once no video is being read. */
  async settled(): Promise<void> {
    while (this.#probing.size > 0) await Promise.all(this.#probing);
  }

  close(): void {
    this.#abort.abort();
  }

  #afterValidation(task: SimTask, outcome: ProbeOutcome): void {
    if (this.#abort.signal.aborted) return;
    if (!outcome.ok) {
      this.#fail(task, outcome.failure);
      return;
    }
    task.meta = outcome.meta;
    this.#move(task, 'pending');
    this.#after(this.timings.pendingMs, () => {
      this.#move(task, 'queued');
      this.#after(this.timings.queuedMs, () => {
        this.#move(task, 'indexing');
        this.#after(this.timings.indexingMs, () => this.#ready(task));
      });
    });
  }

  #ready(task: SimTask): void {
    const now = this.clock.now();
    if (task.meta) {
      this.store.putVideo({
        id: task.videoId,
        indexId: task.indexId,
        taskId: task.id,
        createdAt: task.createdAt,
        updatedAt: now,
        indexedAt: now,
        seq: task.seq,
        meta: task.meta,
        userMetadata: { ...task.userMetadata },
        streaming: task.enableVideoStream,
      });
    }
    this.#move(task, 'ready');
  }

  #fail(task: SimTask, failure: TaskFailure): void {
    task.failure = failure;
    this.#move(task, 'failed');
  }

  #move(task: SimTask, status: TaskStatus): void {
    task.status = status;
    task.updatedAt = this.clock.now();
    this.store.touch();
    for (const listener of this.#listeners) listener(task);
  }

  #after(ms: number, step: () => void): void {
    if (ms <= 0) step();
    else this.clock.setTimer(ms, step);
  }
}
