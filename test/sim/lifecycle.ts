import type { SimClock } from './clock.js';
import type { AssetStatus, IndexedAssetStatus, SimAsset, SimIndexedAsset, SimTask, SimUpload, TaskFailure, TaskStatus } from './model.js';
import { readSpool } from './spool.js';
import { probeSource, readSource } from './probe.js';
import type { ProbeOptions, ProbeOutcome } from './probe.js';
import type { SimStore } from './store.js';
import { assetTooLarge, checkVideo, fileBroken } from './validate.js';

/**
 * How long a task stays in each state; 0 moves on at once. Indexed assets use `pendingMs`,
 * `queuedMs` and `indexingMs` too; assets stay `processing` for `assetProcessingMs` (and until read).
 */
export interface LifecycleTimings {
  validatingMs: number;
  pendingMs: number;
  queuedMs: number;
  indexingMs: number;
  assetProcessingMs: number;
}

export const DEFAULT_TIMINGS: LifecycleTimings = { validatingMs: 50, pendingMs: 50, queuedMs: 50, indexingMs: 100, assetProcessingMs: 20 };

/**
 * Moves tasks validating -> pending -> queued -> indexing -> ready | failed. The video is read
 * (fetched, sniffed or ffprobed) while the task validates; it leaves validating when both the
 * validating time has passed and the read is done.
 *
 * Assets: processing -> ready | failed, the file read the same way (with the asset size limits,
 * without the video requirements). Indexed assets: pending -> queued -> indexing -> ready | failed,
 * judged against the video requirements (not the /tasks size limit) when they leave pending.
 */
export class Lifecycle {
  readonly #probing = new Set<Promise<void>>();
  readonly #listeners = new Set<(task: SimTask) => void>();
  readonly #assetListeners = new Set<(asset: SimAsset) => void>();
  readonly #indexedListeners = new Set<(indexed: SimIndexedAsset) => void>();
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

  /** Starts a freshly created asset (status `processing`) on its way. */
  startAsset(asset: SimAsset): void {
    const source = asset.source;
    if (source.kind === 'multipart') return;
    let outcome: ProbeOutcome | undefined;
    let processed = false;
    const method = source.kind;
    const limit = method === 'url' ? this.probe.limits.maxAssetUrlSize : this.probe.limits.maxAssetDirectSize;
    const finish = (result: ProbeOutcome): void => {
      if (this.#abort.signal.aborted) return;
      if (result.ok) asset.meta = result.meta;
      else asset.failure = result.failure;
      this.#moveAsset(asset, result.ok ? 'ready' : 'failed');
    };
    const probing = readSource(source, asset.filename, { ...this.probe, signal: this.#abort.signal }, (size) => assetTooLarge(size, limit, method === 'url' ? 'url' : 'direct'))
      .catch((error: unknown): ProbeOutcome => ({ ok: false, failure: fileBroken(String(error)) }))
      .then((result) => {
        outcome = result;
        if (asset.source.kind === 'file') asset.source = { ...asset.source, bytes: Buffer.alloc(0) };
        if (processed) finish(result);
      })
      .finally(() => this.#probing.delete(probing));
    this.#probing.add(probing);
    this.#after(this.timings.assetProcessingMs, () => {
      processed = true;
      if (outcome) finish(outcome);
    });
  }

  /**
   * A multipart upload just completed: its asset hashes the assembled bytes (sha256, for tests to
   * compare with the source), is read like a direct upload (from the spool file), then after
   * `assetProcessingMs` becomes ready or failed.
   */
  startMultipartAsset(asset: SimAsset, upload: SimUpload): void {
    let outcome: ProbeOutcome | undefined;
    let processed = false;
    const finish = (result: ProbeOutcome): void => {
      if (this.#abort.signal.aborted) return;
      if (result.ok) asset.meta = result.meta;
      else asset.failure = result.failure;
      this.#moveAsset(asset, result.ok ? 'ready' : 'failed');
    };
    const probing = readSpool(upload, asset.filename, { ...this.probe, signal: this.#abort.signal })
      .then(({ sha256, outcome: read }) => {
        asset.sha256 = sha256;
        return read;
      })
      .catch((error: unknown): ProbeOutcome => ({ ok: false, failure: fileBroken(String(error)) }))
      .then((result) => {
        outcome = result;
        if (processed) finish(result);
      })
      .finally(() => this.#probing.delete(probing));
    this.#probing.add(probing);
    this.#after(this.timings.assetProcessingMs, () => {
      processed = true;
      if (outcome) finish(outcome);
    });
  }

  /** Fails an asset now (an expired upload session's reserved asset). */
  failAsset(asset: SimAsset, failure: TaskFailure): void {
    asset.failure = failure;
    this.#moveAsset(asset, 'failed');
  }

  /** Runs `expire` when the session's life ends (on the simulator's clock). */
  expireUploadAt(upload: SimUpload, expire: () => void): void {
    this.clock.setTimer(Math.max(0, upload.expiresAt - this.clock.now()), expire);
  }

  /** Starts a freshly created indexed asset (status `pending`, its asset ready) on its way. */
  startIndexedAsset(indexed: SimIndexedAsset): void {
    this.#after(this.timings.pendingMs, () => {
      const failure = checkVideo(indexed.meta, this.probe.limits);
      if (failure) {
        indexed.failure = failure;
        this.#moveIndexed(indexed, 'failed');
        return;
      }
      this.#moveIndexed(indexed, 'queued');
      this.#after(this.timings.queuedMs, () => {
        this.#moveIndexed(indexed, 'indexing');
        this.#after(this.timings.indexingMs, () => this.#indexedReady(indexed));
      });
    });
  }

  onTransition(listener: (task: SimTask) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  onAssetTransition(listener: (asset: SimAsset) => void): () => void {
    this.#assetListeners.add(listener);
    return () => this.#assetListeners.delete(listener);
  }

  onIndexedAssetTransition(listener: (indexed: SimIndexedAsset) => void): () => void {
    this.#indexedListeners.add(listener);
    return () => this.#indexedListeners.delete(listener);
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

  #indexedReady(indexed: SimIndexedAsset): void {
    const now = this.clock.now();
    indexed.indexedAt = now;
    // Deleted while indexing: it stays gone, no video appears.
    if (this.store.indexedAssets.get(indexed.id) === indexed) {
      this.store.putVideo({
        id: indexed.id,
        indexId: indexed.indexId,
        assetId: indexed.assetId,
        createdAt: indexed.createdAt,
        updatedAt: now,
        indexedAt: now,
        seq: indexed.seq,
        meta: indexed.meta,
        userMetadata: { ...indexed.userMetadata },
        streaming: indexed.enableVideoStream,
      });
    }
    this.#moveIndexed(indexed, 'ready');
  }

  #moveAsset(asset: SimAsset, status: AssetStatus): void {
    asset.status = status;
    asset.updatedAt = this.clock.now();
    this.store.touch();
    for (const listener of this.#assetListeners) listener(asset);
  }

  #moveIndexed(indexed: SimIndexedAsset, status: IndexedAssetStatus): void {
    if (this.#abort.signal.aborted) return;
    indexed.status = status;
    indexed.updatedAt = this.clock.now();
    this.store.touch();
    for (const listener of this.#indexedListeners) listener(indexed);
  }

  #after(ms: number, step: () => void): void {
    if (ms <= 0) step();
    else this.clock.setTimer(ms, step);
  }
}
