import type { Clock } from '../clock.js';
import type { SourceObject } from '../sources/types.js';
import type { StateStore } from '../state/index.js';
import type {
  Asset,
  CreateAssetRequest,
  CreateIndexedAssetRequest,
  CreateTaskRequest,
  CreatedTask,
  IndexedAssetSummary,
  IndexedVideo,
  ListTasksQuery,
  Page,
  Task,
  UserMetadata,
} from '../twelvelabs/types.js';

/** The API calls of the tasks path; TwelveLabsClient fits, and so does a ten-line fake. */
export interface ExecutorApi {
  createTask(request: CreateTaskRequest, signal?: AbortSignal): Promise<CreatedTask>;
  listTasks(query: ListTasksQuery, signal?: AbortSignal): Promise<Page<Task>>;
  getVideo(indexId: string, videoId: string, signal?: AbortSignal): Promise<IndexedVideo>;
}

/** The API calls of the assets path (POST /assets by URL, then POST /indexes/{id}/indexed-assets). */
export interface AssetsApi {
  createAsset(request: CreateAssetRequest, signal?: AbortSignal): Promise<Asset>;
  getAsset(assetId: string, signal?: AbortSignal): Promise<Asset>;
  listAssets(query: { page?: number; pageLimit?: number; filename?: string; assetIds?: string[] }, signal?: AbortSignal): Promise<Page<Asset>>;
  createIndexedAsset(request: CreateIndexedAssetRequest, signal?: AbortSignal): Promise<{ indexedAssetId: string }>;
  listIndexedAssetsOfAsset(assetId: string, query?: { page?: number; pageLimit?: number }, signal?: AbortSignal): Promise<Page<IndexedAssetSummary>>;
}

/** The source calls the executor makes: a fresh HEAD before the first POST, a URL signed just in time. */
export interface ExecutorSource {
  head(key: string, signal?: AbortSignal): Promise<SourceObject | undefined>;
  presignGet(key: string, expiresInSeconds: number): Promise<string>;
}

export type Via = 'tasks' | 'assets';

export type ExecutorEvent =
  | { type: 'submitted'; uri: string; taskId: string }
  | { type: 'failed'; uri: string; code: string; message: string }
  | { type: 'reconciled'; uri: string; found: boolean; taskId?: string | undefined }
  | { type: 'retry'; uri: string; reason: string }
  | { type: 'throttled'; uri: string }
  | { type: 'asset'; uri: string; assetId: string; status: string }
  | { type: 'quota'; resetAt?: string | undefined };

export interface ExecuteOptions {
  /** Tasks path API (default path). */
  api: ExecutorApi;
  /** Assets path API; required with `via: 'assets'`. */
  assetsApi?: AssetsApi | undefined;
  via?: Via | undefined;
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
  /** Wait before a second search for a resource that may not be listed yet. */
  reconcileLagMs?: number;
  /** Attempts per item for POSTs whose outcome turned out "not created". */
  maxAttempts?: number;
  /** `--via assets`: between polls of assets still processing. */
  assetPollMs?: number;
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
