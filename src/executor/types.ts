import type { Clock } from '../clock.js';
import type { SourceObject } from '../sources/types.js';
import type { StateStore } from '../state/index.js';
import type { CreateTaskRequest, CreatedTask, IndexedVideo, ListTasksQuery, Page, Task, UserMetadata } from '../twelvelabs/types.js';

/** The API calls the executor makes; TwelveLabsClient fits, and so does a ten-line fake. */
export interface ExecutorApi {
  createTask(request: CreateTaskRequest, signal?: AbortSignal): Promise<CreatedTask>;
  listTasks(query: ListTasksQuery, signal?: AbortSignal): Promise<Page<Task>>;
  getVideo(indexId: string, videoId: string, signal?: AbortSignal): Promise<IndexedVideo>;
}

/** The source calls the executor makes: a fresh HEAD before each POST, a URL signed just in time. */
export interface ExecutorSource {
  head(key: string, signal?: AbortSignal): Promise<SourceObject | undefined>;
  presignGet(key: string, expiresInSeconds: number): Promise<string>;
}

export type ExecutorEvent =
  | { type: 'submitted'; uri: string; taskId: string }
  | { type: 'failed'; uri: string; code: string; message: string }
  | { type: 'reconciled'; uri: string; found: boolean; taskId?: string | undefined }
  | { type: 'retry'; uri: string; reason: string }
  | { type: 'throttled'; uri: string }
  | { type: 'quota'; resetAt?: string | undefined };

export interface ExecuteOptions {
  api: ExecutorApi;
  source: ExecutorSource;
  store: StateStore;
  clock: Clock;
  indexId: string;
  bucket: string;
  runId: string;
  /** Source URIs to work on, in plan order. */
  uris: string[];
  concurrency: number;
  presignExpiresSeconds: number;
  enableVideoStream: boolean;
  userMetadata: UserMetadata;
  /** Wait before a second search for a task that may not be listed yet. */
  reconcileLagMs?: number;
  /** Attempts per item for POSTs whose outcome turned out "not created". */
  maxAttempts?: number;
  random?: () => number;
  /** Aborted on the first SIGINT: no new submissions start. */
  stop?: AbortSignal;
  onEvent?: (event: ExecutorEvent) => void;
}

export interface ExecuteResult {
  submitted: number;
  failed: number;
  reconciled: number;
  /** Items still without a task: interrupted, attempts exhausted, or left ambiguous. */
  pending: number;
  retries: number;
  throttled: number;
  quota?: { resetAt?: string | undefined } | undefined;
  interrupted: boolean;
}
