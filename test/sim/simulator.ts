import { randomBytes } from 'node:crypto';
import { ManualClock, RealClock } from './clock.js';
import type { SimClock } from './clock.js';
import { FaultInjector } from './faults.js';
import type { FaultConfig } from './faults.js';
import { DEFAULT_TIMINGS, Lifecycle } from './lifecycle.js';
import type { LifecycleTimings } from './lifecycle.js';
import { newId } from './model.js';
import type { IndexModel, SimIndex, SimTask, SimVideo, TaskFailure, TaskStatus, UserMetadata, VideoMeta } from './model.js';
import type { DescribeVideo, ProbeMode } from './probe.js';
import { Recorder } from './recorder.js';
import type { RecordedRequest, SimCounts } from './recorder.js';
import { API_PREFIX } from './routes.js';
import { listen } from './server.js';
import { SimStore } from './store.js';
import { DEFAULT_LIMITS } from './validate.js';
import type { VideoLimits } from './validate.js';
import { VariantSwitch } from './variants.js';
import type { ApiVariants } from './variants.js';

export interface SimulatorOptions {
  /** Default `tlk_` + 32 random hex digits. */
  apiKey?: string;
  /** `real` (default); `manual` (starts now) or `{ startAt }`: time moves only by `advance()`. */
  clock?: 'real' | 'manual' | { startAt: number | string | Date };
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
  port?: number;
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
  tasks(indexId?: string): TaskView[];
  task(taskId: string): TaskView | undefined;
  videos(indexId: string): VideoView[];
  counts(): SimCounts;
  /** Source paths that received more than one task. */
  duplicates(): Map<string, number>;
  clearRequests(): void;
  /** Resolves when the task is `ready` or `failed` (real clock: within `timeoutMs`, default 10 s). */
  waitForTask(taskId: string, timeoutMs?: number): Promise<TaskView>;
  /** Resolves once no video is being fetched or probed. */
  settle(): Promise<void>;
  /** Manual clock only: moves time forward, firing lifecycle steps in order. */
  advance(ms: number): Promise<void>;
  now(): number;
  close(): Promise<void>;
}

interface Waiter {
  done(task: SimTask): void;
  abandon(reason: string): void;
}

/** Starts a Twelve Labs API v1.3 simulator on 127.0.0.1 (port 0). */
export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const clock = makeClock(options.clock);
  const apiKey = options.apiKey ?? `tlk_${randomBytes(16).toString('hex')}`;
  const store = new SimStore();
  const faults = new FaultInjector(options.faults);
  const variants = new VariantSwitch(options.variants);
  const recorder = new Recorder();
  const lifecycle = new Lifecycle(store, clock, { ...DEFAULT_TIMINGS, ...options.lifecycle }, {
    mode: options.probe ?? 'basic',
    fetchVideo: options.fetchVideo ?? true,
    limits: { ...DEFAULT_LIMITS, ...options.limits },
    defaults: { size: 10 * 1024 * 1024, duration: 60, width: 1280, height: 720, fps: 30, ...options.videoDefaults },
    ...(options.describeVideo ? { describeVideo: options.describeVideo } : {}),
    ffprobePath: options.ffprobePath ?? 'ffprobe',
  });
  let origin = '';
  const listening = await listen({
    apiKey,
    recorder,
    ctx: {
      store,
      clock,
      lifecycle,
      faults,
      variants: () => variants.current,
      origin: () => origin,
      onTaskCreated: (task) => recorder.taskCreated(task),
    },
  }, '127.0.0.1', options.port ?? 0);
  origin = listening.origin;

  const waiters = new Map<string, Set<Waiter>>();
  lifecycle.onTransition((task) => {
    if (task.status !== 'ready' && task.status !== 'failed') return;
    for (const waiter of waiters.get(task.id) ?? []) waiter.done(task);
    waiters.delete(task.id);
  });

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
    tasks: (indexId) => [...store.tasks.values()].filter((t) => indexId === undefined || t.indexId === indexId).map(view),
    task: (taskId) => {
      const task = store.tasks.get(taskId);
      return task && view(task);
    },
    videos: (indexId) => store.videosOf(indexId).map((v) => ({ ...v, meta: { ...v.meta }, userMetadata: { ...v.userMetadata } })),
    counts: () => recorder.counts(),
    duplicates: () => recorder.duplicates(),
    clearRequests: () => recorder.clear(),
    waitForTask: (taskId, timeoutMs = 10_000) => new Promise<TaskView>((resolve, reject) => {
      const task = store.tasks.get(taskId);
      if (!task) return reject(new Error(`No task ${taskId} in the simulator`));
      if (task.status === 'ready' || task.status === 'failed') return resolve(view(task));
      const set = waiters.get(taskId) ?? new Set<Waiter>();
      const waiter: Waiter = {
        done: (finished) => {
          clearTimeout(timer);
          resolve(view(finished));
        },
        abandon: (reason) => {
          clearTimeout(timer);
          reject(new Error(`Task ${taskId} still ${task.status}: ${reason}`));
        },
      };
      const timer = setTimeout(() => {
        set.delete(waiter);
        waiter.abandon(`timed out after ${timeoutMs} ms`);
      }, timeoutMs);
      set.add(waiter);
      waiters.set(taskId, set);
    }),
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
      for (const set of waiters.values()) for (const waiter of set) waiter.abandon('the simulator was closed');
      waiters.clear();
      await listening.close();
      await lifecycle.settled();
    },
  };
}

function makeClock(option: SimulatorOptions['clock']): SimClock {
  if (option === undefined || option === 'real') return new RealClock();
  if (option === 'manual') return new ManualClock(Date.now());
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
