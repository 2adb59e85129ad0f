import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ApiContext } from './api-context.js';
import { DEFAULT_MULTIPART, expireUpload } from './api-multipart.js';
import type { MultipartSettings } from './api-multipart.js';
import { ManualClock, RealClock } from './clock.js';
import type { SimClock } from './clock.js';
import { FaultInjector } from './faults.js';
import type { FaultConfig } from './faults.js';
import { DEFAULT_TIMINGS, Lifecycle } from './lifecycle.js';
import type { LifecycleTimings } from './lifecycle.js';
import { mimeTypeOf, newId } from './model.js';
import type {
  AssetMethod, AssetStatus, IndexedAssetStatus, IndexModel, SimAsset, SimIndex, SimIndexedAsset, SimTask, SimUpload, SimVideo, TaskFailure, TaskStatus,
  UploadStatus, UserMetadata, VideoMeta,
} from './model.js';
import type { DescribeVideo, ProbeMode } from './probe.js';
import { Recorder, assetSourcePath } from './recorder.js';
import type { AssetDuplicates, RecordedRequest, SimCounts } from './recorder.js';
import { API_PREFIX } from './routes.js';
import { listen } from './server.js';
import { SimStore } from './store.js';
import { DEFAULT_LIMITS, fileBroken } from './validate.js';
import type { VideoLimits } from './validate.js';
import { VariantSwitch } from './variants.js';
import type { ApiVariants } from './variants.js';

export interface SimulatorOptions {
  /** Default `tlk_` + 32 random hex digits. */
  apiKey?: string;
  /** `real` (default); `manual` (starts now) or `{ startAt }`: time moves only by `advance()`. */
  /** `{ offsetMs }`: real time and timers, shifted (an API whose clock is ahead or behind ours). */
  clock?: 'real' | 'manual' | { startAt: number | string | Date } | { offsetMs: number };
  lifecycle?: Partial<LifecycleTimings>;
  /** `basic` (default): size and container signature; `ffprobe`: duration, resolution, aspect from ffprobe. */
  probe?: ProbeMode;
  /** Fetch `video_url` during validation (default true); false trusts the URL and uses `videoDefaults`. */
  fetchVideo?: boolean;
  limits?: Partial<VideoLimits>;
  /** Metadata of a video the simulator did not measure (basic mode, or without fetching). */
  videoDefaults?: Partial<Omit<VideoMeta, 'filename'>>;
  /** Declares a video's metadata in basic mode, so tests reach every failure code without real videos. */
  describeVideo?: DescribeVideo;
  ffprobePath?: string;
  faults?: FaultConfig;
  variants?: Partial<ApiVariants>;
  /** Multipart uploads: chunk size, largest total size, URL and session lives (spooled to a temp dir removed at close). */
  multipart?: Partial<Omit<MultipartSettings, 'spoolDir'>>;
  port?: number;
}

/** A multipart upload session as the simulator sees it, with what each chunk went through. */
export interface UploadView {
  id: string;
  assetId: string;
  filename: string;
  status: UploadStatus;
  totalSize: number;
  chunkSize: number;
  totalChunks: number;
  createdAt: number;
  /** Successful PUTs per chunk (1-based index -> count). */
  puts: Map<number, number>;
  /** Chunk PUTs that came after that chunk was reported (a resumer redoing finished work). */
  putsAfterReport: number;
  /** Chunks reported so far. */
  reported: number;
}

/** A video that was "already imported" before the test starts. */
export interface SeedVideoInput {
  filename: string;
  size: number;
  duration?: number;
  width?: number;
  height?: number;
  fps?: number;
  userMetadata?: UserMetadata;
  createdAt?: number | string | Date;
  /** `failed` seeds a failed task and no video. */
  status?: 'ready' | 'failed';
  failure?: TaskFailure;
  assetId?: string;
  enableVideoStream?: boolean;
}

/** An asset that "already exists" before the test starts (not counted as created). */
export interface SeedAssetInput {
  filename: string;
  size: number;
  duration?: number;
  width?: number;
  height?: number;
  fps?: number;
  /** Makes a `url` asset with this source; without it, a `direct` one. */
  sourceUrl?: string;
  userMetadata?: UserMetadata;
  createdAt?: number | string | Date;
  /** Default `ready`. */
  status?: 'ready' | 'failed' | 'processing';
  failure?: TaskFailure;
}

/** A task as the simulator sees it, failure reason included. */
export interface TaskView {
  id: string;
  videoId: string;
  indexId: string;
  status: TaskStatus;
  createdAt: number;
  updatedAt: number;
  filename: string;
  sourceUrl?: string;
  sourcePath?: string;
  enableVideoStream: boolean;
  userMetadata: UserMetadata;
  meta?: VideoMeta;
  failure?: TaskFailure;
  videoDeleted: boolean;
}

export type VideoView = Readonly<SimVideo>;

/** An asset as the simulator sees it: how it was read, and why it failed. */
export interface AssetView {
  id: string;
  method: AssetMethod;
  status: AssetStatus;
  createdAt: number;
  updatedAt: number;
  filename: string;
  fileType: string;
  sourceUrl?: string;
  /** Decoded URL pathname, `file:<name>` for a direct upload, `multipart:<name>` for a multipart one. */
  sourcePath: string;
  /** Multipart: the session, and once complete the sha256 of the assembled bytes. */
  uploadId?: string;
  sha256?: string;
  userMetadata?: UserMetadata;
  enableHls: boolean;
  enableThumbnail: boolean;
  /** Size (and, as measured or described, duration and resolution) once the file was read. */
  meta?: VideoMeta;
  failure?: TaskFailure;
}

/** An indexed asset as the simulator sees it, failure reason included. */
export interface IndexedAssetView {
  id: string;
  assetId: string;
  indexId: string;
  status: IndexedAssetStatus;
  createdAt: number;
  updatedAt: number;
  indexedAt?: number;
  meta: VideoMeta;
  enableVideoStream: boolean;
  userMetadata: UserMetadata;
  failure?: TaskFailure;
}

export interface Simulator {
  /** Base URL clients use, like `https://api.twelvelabs.io/v1.3`. */
  readonly url: string;
  /** `http://127.0.0.1:PORT` */
  readonly origin: string;
  readonly apiKey: string;
  readonly faults: { set(patch: FaultConfig): void; reset(): void; readonly current: Readonly<FaultConfig> };
  readonly variants: { set(patch: Partial<ApiVariants>): void; reset(): void; readonly current: Readonly<ApiVariants> };
  /** Every request, in arrival-completion order. */
  readonly requests: readonly RecordedRequest[];
  createIndex(input?: { id?: string; name?: string; models?: IndexModel[]; expiresAt?: number }): SimIndex;
  seedVideo(indexId: string, input: SeedVideoInput): { videoId: string; taskId: string };
  /** Adds an asset without a request (a `processing` one stays so: nothing reads it). */
  seedAsset(input: SeedAssetInput): AssetView;
  tasks(indexId?: string): TaskView[];
  task(taskId: string): TaskView | undefined;
  videos(indexId: string): VideoView[];
  assets(): AssetView[];
  asset(assetId: string): AssetView | undefined;
  /** Indexed assets of one index, or of every index. */
  indexedAssets(indexId?: string): IndexedAssetView[];
  indexedAsset(indexedAssetId: string): IndexedAssetView | undefined;
  counts(): SimCounts;
  /**
   * Source paths that received more than one task (keyed by the path), more than one asset
   * (`asset:<path>`), and assets indexed more than once into one index (`indexed:<index>/<asset>`).
   */
  duplicates(): Map<string, number>;
  /** The newer upload path's part of `duplicates()`, unprefixed. */
  assetDuplicates(): AssetDuplicates;
  clearRequests(): void;
  /** Multipart upload sessions, oldest first. */
  uploads(): UploadView[];
  /** Expires a session now, as if its 24 h had passed (its reserved asset fails). */
  expireUpload(uploadId: string): void;
  /** Resolves when the task is `ready` or `failed` (real clock: within `timeoutMs`, default 10 s). */
  waitForTask(taskId: string, timeoutMs?: number): Promise<TaskView>;
  /** Resolves when the asset is `ready` or `failed` (real clock: within `timeoutMs`, default 10 s). */
  waitForAsset(assetId: string, timeoutMs?: number): Promise<AssetView>;
  /** Resolves when the indexed asset is `ready` or `failed` (real clock: within `timeoutMs`, default 10 s). */
  waitForIndexedAsset(indexedAssetId: string, timeoutMs?: number): Promise<IndexedAssetView>;
  /** Resolves once no video is being fetched or probed. */
  settle(): Promise<void>;
  /** Manual clock only: moves time forward, firing lifecycle steps in order. */
  advance(ms: number): Promise<void>;
  now(): number;
  close(): Promise<void>;
}

interface Waiter<T> {
  done(item: T): void;
  abandon(reason: string): void;
}

/** Callers waiting for tasks, assets or indexed assets to finish (`ready` or `failed`). */
class WaitList<T extends { id: string; status: string }, V> {
  readonly #waiters = new Map<string, Set<Waiter<T>>>();

  constructor(
    private readonly noun: string,
    private readonly lookup: (id: string) => T | undefined,
    private readonly view: (item: T) => V,
  ) {}

  notify(item: T): void {
    if (!finished(item)) return;
    for (const waiter of this.#waiters.get(item.id) ?? []) waiter.done(item);
    this.#waiters.delete(item.id);
  }

  wait(id: string, timeoutMs: number): Promise<V> {
    return new Promise<V>((resolve, reject) => {
      const item = this.lookup(id);
      if (!item) return reject(new Error(`No ${this.noun} ${id} in the simulator`));
      if (finished(item)) return resolve(this.view(item));
      const set = this.#waiters.get(id) ?? new Set<Waiter<T>>();
      const waiter: Waiter<T> = {
        done: (done) => {
          clearTimeout(timer);
          resolve(this.view(done));
        },
        abandon: (reason) => {
          clearTimeout(timer);
          reject(new Error(`${this.noun[0]?.toUpperCase()}${this.noun.slice(1)} ${id} still ${item.status}: ${reason}`));
        },
      };
      const timer = setTimeout(() => {
        set.delete(waiter);
        waiter.abandon(`timed out after ${timeoutMs} ms`);
      }, timeoutMs);
      set.add(waiter);
      this.#waiters.set(id, set);
    });
  }

  abandonAll(reason: string): void {
    for (const set of this.#waiters.values()) for (const waiter of set) waiter.abandon(reason);
    this.#waiters.clear();
  }
}

function finished(item: { status: string }): boolean {
  return item.status === 'ready' || item.status === 'failed';
}

/** Starts a Twelve Labs API v1.3 simulator on 127.0.0.1 (port 0). */
export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const clock = makeClock(options.clock);
  const apiKey = options.apiKey ?? `tlk_${randomBytes(16).toString('hex')}`;
  const store = new SimStore();
  const faults = new FaultInjector(options.faults);
  const variants = new VariantSwitch(options.variants);
  const recorder = new Recorder();
  const multipart: MultipartSettings = { ...DEFAULT_MULTIPART, ...options.multipart, spoolDir: await mkdtemp(join(tmpdir(), 'tlsim-multipart-')) };
  const lifecycle = new Lifecycle(store, clock, { ...DEFAULT_TIMINGS, ...options.lifecycle }, {
    mode: options.probe ?? 'basic',
    fetchVideo: options.fetchVideo ?? true,
    limits: { ...DEFAULT_LIMITS, ...options.limits },
    defaults: { size: 10 * 1024 * 1024, duration: 60, width: 1280, height: 720, fps: 30, ...options.videoDefaults },
    ...(options.describeVideo ? { describeVideo: options.describeVideo } : {}),
    ffprobePath: options.ffprobePath ?? 'ffprobe',
  });
  let origin = '';
  const ctx: ApiContext = {
      store,
      clock,
      lifecycle,
      faults,
      variants: () => variants.current,
      multipart,
      origin: () => origin,
      onTaskCreated: (task) => recorder.taskCreated(task),
      onAssetCreated: (asset) => recorder.assetCreated(asset),
      onIndexedAssetCreated: (indexed) => recorder.indexedAssetCreated(indexed),
  };
  const listening = await listen({ apiKey, recorder, ctx }, '127.0.0.1', options.port ?? 0);
  origin = listening.origin;

  const taskWaiters = new WaitList('task', (id) => store.tasks.get(id), view);
  const assetWaiters = new WaitList('asset', (id) => store.assets.get(id), assetView);
  const indexedWaiters = new WaitList('indexed asset', (id) => store.indexedAssets.get(id), indexedAssetView);
  lifecycle.onTransition((task) => taskWaiters.notify(task));
  lifecycle.onAssetTransition((asset) => assetWaiters.notify(asset));
  lifecycle.onIndexedAssetTransition((indexed) => indexedWaiters.notify(indexed));

  let closed = false;
  return {
    url: `${origin}${API_PREFIX}`,
    origin,
    apiKey,
    faults,
    variants,
    requests: recorder.requests,
    createIndex: (input = {}) => ({ ...store.addIndex(input, clock.now()) }),
    seedVideo: (indexId, input) => seed(store, indexId, input, clock.now()),
    seedAsset: (input) => assetView(seedAsset(store, input, clock.now())),
    tasks: (indexId) => [...store.tasks.values()].filter((t) => indexId === undefined || t.indexId === indexId).map(view),
    task: (taskId) => {
      const task = store.tasks.get(taskId);
      return task && view(task);
    },
    videos: (indexId) => store.videosOf(indexId).map((v) => ({ ...v, meta: { ...v.meta }, userMetadata: { ...v.userMetadata } })),
    assets: () => [...store.assets.values()].map(assetView),
    asset: (assetId) => {
      const asset = store.assets.get(assetId);
      return asset && assetView(asset);
    },
    indexedAssets: (indexId) => [...store.indexedAssets.values()].filter((ia) => indexId === undefined || ia.indexId === indexId).map(indexedAssetView),
    indexedAsset: (indexedAssetId) => {
      const indexed = store.indexedAssets.get(indexedAssetId);
      return indexed && indexedAssetView(indexed);
    },
    counts: () => recorder.counts(),
    duplicates: () => recorder.duplicates(),
    assetDuplicates: () => recorder.assetDuplicates(),
    clearRequests: () => recorder.clear(),
    uploads: () => [...store.uploads.values()].sort((a, b) => a.seq - b.seq).map(uploadView),
    expireUpload: (uploadId) => {
      const upload = store.uploads.get(uploadId);
      if (!upload) throw new Error(`No upload ${uploadId} in the simulator`);
      expireUpload(upload, ctx);
    },
    waitForTask: (taskId, timeoutMs = 10_000) => taskWaiters.wait(taskId, timeoutMs),
    waitForAsset: (assetId, timeoutMs = 10_000) => assetWaiters.wait(assetId, timeoutMs),
    waitForIndexedAsset: (indexedAssetId, timeoutMs = 10_000) => indexedWaiters.wait(indexedAssetId, timeoutMs),
    settle: () => lifecycle.settled(),
    advance: async (ms) => {
      if (!(clock instanceof ManualClock)) throw new Error('advance() needs startSimulator({ clock: "manual" })');
      const target = clock.now() + ms;
      for (;;) {
        await lifecycle.settled();
        if (!clock.fireNext(target)) break;
      }
      clock.moveTo(target);
    },
    now: () => clock.now(),
    close: async () => {
      if (closed) return;
      closed = true;
      clock.cancelAll();
      lifecycle.close();
      for (const waiters of [taskWaiters, assetWaiters, indexedWaiters]) waiters.abandonAll('the simulator was closed');
      await listening.close();
      await lifecycle.settled();
      await rm(multipart.spoolDir, { recursive: true, force: true });
    },
  };
}

function makeClock(option: SimulatorOptions['clock']): SimClock {
  if (option === undefined || option === 'real') return new RealClock();
  if (option === 'manual') return new ManualClock(Date.now());
  if ('offsetMs' in option) return new RealClock(option.offsetMs);
  return new ManualClock(new Date(option.startAt).getTime());
}

function seed(store: SimStore, indexId: string, input: SeedVideoInput, now: number): { videoId: string; taskId: string } {
  if (!store.indexes.has(indexId)) throw new Error(`seedVideo: no index ${indexId} in the simulator`);
  const createdAt = input.createdAt === undefined ? now : new Date(input.createdAt).getTime();
  const meta: VideoMeta = {
    filename: input.filename,
    size: input.size,
    duration: input.duration ?? 60,
    width: input.width ?? 1280,
    height: input.height ?? 720,
    fps: input.fps ?? 30,
  };
  const seq = store.nextSeq();
  const streaming = input.enableVideoStream ?? true;
  const failed = input.status === 'failed';
  const task: SimTask = {
    id: newId(),
    videoId: newId(),
    indexId,
    status: failed ? 'failed' : 'ready',
    createdAt,
    updatedAt: createdAt,
    seq,
    filename: input.filename,
    source: { kind: 'seed' },
    enableVideoStream: streaming,
    userMetadata: { ...input.userMetadata },
    meta,
    videoDeleted: false,
    ...(failed ? { failure: input.failure ?? { code: 'video_file_broken', message: 'Cannot read video file. Please check the video file is valid and try again.' } } : {}),
  };
  store.putTask(task);
  if (!failed) {
    store.putVideo({
      id: task.videoId,
      indexId,
      taskId: task.id,
      ...(input.assetId !== undefined ? { assetId: input.assetId } : {}),
      createdAt,
      updatedAt: createdAt,
      indexedAt: createdAt,
      seq,
      meta,
      userMetadata: { ...input.userMetadata },
      streaming,
    });
  }
  return { videoId: task.videoId, taskId: task.id };
}

function seedAsset(store: SimStore, input: SeedAssetInput, now: number): SimAsset {
  const createdAt = input.createdAt === undefined ? now : new Date(input.createdAt).getTime();
  const status = input.status ?? 'ready';
  let source: SimAsset['source'] = { kind: 'file', filename: input.filename, bytes: Buffer.alloc(0) };
  if (input.sourceUrl !== undefined) {
    let path: string;
    try {
      path = decodeURIComponent(new URL(input.sourceUrl).pathname);
    } catch {
      throw new Error(`seedAsset: ${input.sourceUrl} is not a URL with a decodable path`);
    }
    source = { kind: 'url', url: input.sourceUrl, path };
  }
  const asset: SimAsset = {
    id: newId(),
    method: source.kind === 'url' ? 'url' : 'direct',
    status,
    createdAt,
    updatedAt: createdAt,
    seq: store.nextSeq(),
    filename: input.filename,
    fileType: mimeTypeOf(input.filename),
    source,
    ...(input.userMetadata ? { userMetadata: { ...input.userMetadata } } : {}),
    enableHls: false,
    enableThumbnail: false,
    ...(status === 'ready' ? {
      meta: {
        filename: input.filename,
        size: input.size,
        duration: input.duration ?? 60,
        width: input.width ?? 1280,
        height: input.height ?? 720,
        fps: input.fps ?? 30,
      },
    } : {}),
    ...(status === 'failed' ? { failure: input.failure ?? fileBroken() } : {}),
  };
  store.putAsset(asset);
  return asset;
}

function view(task: SimTask): TaskView {
  const { source, meta, failure, userMetadata, ...rest } = task;
  return {
    ...rest,
    ...(source.kind === 'url' ? { sourceUrl: source.url, sourcePath: source.path } : {}),
    userMetadata: { ...userMetadata },
    ...(meta ? { meta: { ...meta } } : {}),
    ...(failure ? { failure: { ...failure } } : {}),
  };
}

function assetView(asset: SimAsset): AssetView {
  const { source, meta, failure, userMetadata, seq: _seq, ...rest } = asset;
  return {
    ...rest,
    ...(source.kind === 'url' ? { sourceUrl: source.url } : {}),
    ...(source.kind === 'multipart' ? { uploadId: source.uploadId } : {}),
    sourcePath: assetSourcePath(asset),
    ...(userMetadata ? { userMetadata: { ...userMetadata } } : {}),
    ...(meta ? { meta: { ...meta } } : {}),
    ...(failure ? { failure: { ...failure } } : {}),
  };
}

function indexedAssetView(indexed: SimIndexedAsset): IndexedAssetView {
  const { meta, failure, userMetadata, seq: _seq, ...rest } = indexed;
  return { ...rest, meta: { ...meta }, userMetadata: { ...userMetadata }, ...(failure ? { failure: { ...failure } } : {}) };
}

function uploadView(upload: SimUpload): UploadView {
  const puts = new Map<number, number>();
  let putsAfterReport = 0;
  let reported = 0;
  for (const [index, chunk] of upload.chunks) {
    puts.set(index, chunk.puts);
    putsAfterReport += chunk.putsAfterReport;
    if (chunk.status === 'completed') reported++;
  }
  const { id, assetId, filename, status, totalSize, chunkSize, totalChunks, createdAt } = upload;
  return { id, assetId, filename, status, totalSize, chunkSize, totalChunks, createdAt, puts, putsAfterReport, reported };
}
