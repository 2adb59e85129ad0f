import type { Readable } from 'node:stream';
import type { Clock } from '../clock.js';
import type { LookupTables } from '../planner/lookup.js';
import type { SourceObject } from '../sources/types.js';
import type { ItemStore } from '../state/index.js';
import type { MinuteGate } from '../twelvelabs/minutes.js';
import type { Asset, ChunkReport, CompletedChunk, CreateAssetRequest, CreatedTask, CreateIndexedAssetRequest, CreateTaskRequest, CreateUploadRequest, IncompleteUpload, IndexedAsset, IndexedAssetSummary, IndexedVideo, ListIndexedAssetsQuery, ListTasksQuery, ListVideosQuery, Page, PresignedChunkUrl, Task, UploadSession, UploadStatus, UserMetadata } from '../twelvelabs/types.js';
import type { ChunkPut } from '../twelvelabs/chunk-put.js';
import type { ContentOwners, IdSet } from './compact-sets.js';

/** The API calls of the tasks path; TwelveLabsClient fits, and so does a ten-line fake. */
export interface ExecutorApi {
  createTask(request: CreateTaskRequest, signal?: AbortSignal): Promise<CreatedTask>;
  listTasks(query: ListTasksQuery, signal?: AbortSignal): Promise<Page<Task>>;
  getTask(taskId: string, signal?: AbortSignal): Promise<Task>;
  listVideos(indexId: string, query?: ListVideosQuery, signal?: AbortSignal): Promise<Page<IndexedVideo>>;
  getVideo(indexId: string, videoId: string, signal?: AbortSignal): Promise<IndexedVideo>;
}

/** The API calls of the assets path (POST /assets by URL, then POST /indexes/{id}/indexed-assets). */
export interface AssetsApi {
  createAsset(request: CreateAssetRequest, signal?: AbortSignal): Promise<Asset>;
  getAsset(assetId: string, signal?: AbortSignal): Promise<Asset>;
  listAssets(query: { page?: number; pageLimit?: number; filename?: string; assetIds?: string[] }, signal?: AbortSignal): Promise<Page<Asset>>;
  createIndexedAsset(request: CreateIndexedAssetRequest, signal?: AbortSignal): Promise<{ indexedAssetId: string }>;
  listIndexedAssetsOfAsset(assetId: string, query?: { page?: number; pageLimit?: number }, signal?: AbortSignal): Promise<Page<IndexedAssetSummary>>;
  listIndexedAssets(indexId: string, query?: ListIndexedAssetsQuery, signal?: AbortSignal): Promise<Page<IndexedAsset>>;
  getIndexedAsset(indexId: string, indexedAssetId: string, signal?: AbortSignal): Promise<IndexedAsset>;
}

/** The multipart upload calls (docs/multipart-api.md); TwelveLabsClient fits. */
export interface MultipartApi {
  createUpload(request: CreateUploadRequest, signal?: AbortSignal): Promise<UploadSession>;
  requestChunkUrls(uploadId: string, start: number, count: number, signal?: AbortSignal): Promise<PresignedChunkUrl[]>;
  reportChunks(uploadId: string, chunks: CompletedChunk[], signal?: AbortSignal): Promise<ChunkReport>;
  getUploadStatus(uploadId: string, query?: { page?: number; pageLimit?: number }, signal?: AbortSignal): Promise<UploadStatus>;
  listIncompleteUploads(query?: { page?: number; pageLimit?: number }, signal?: AbortSignal): Promise<Page<IncompleteUpload>>;
}

/** The source calls the executor makes: a fresh HEAD before the first POST, a URL signed just in time, byte ranges to stream. */
export interface ExecutorSource {
  head(key: string, signal?: AbortSignal): Promise<SourceObject | undefined>;
  presignGet(key: string, expiresInSeconds: number): Promise<string>;
  /** Multipart: bytes `start..end` (inclusive) of the object, only while its ETag is `etag`, streamed (the caller destroys the stream). */
  readRange?(key: string, start: number, end: number, etag: string, signal?: AbortSignal): Promise<Readable>;
}

export type Via = 'tasks' | 'assets';

export type ExecutorEvent =
  | { type: 'submitted'; uri: string; taskId: string }
  | { type: 'failed'; uri: string; code: string; message: string }
  | { type: 'reconciled'; uri: string; found: boolean; taskId?: string | undefined }
  | { type: 'retry'; uri: string; reason: string }
  | { type: 'throttled'; uri: string }
  | { type: 'asset'; uri: string; assetId: string; status: string }
  /** Multipart: a chunk stored (bytes moved from the source to the platform). */
  | { type: 'bytes'; uri: string; bytes: number }
  | { type: 'quota'; resetAt?: string | undefined }
  | { type: 'quota_wait'; until: string; reason: string }
  | { type: 'found'; uri: string; how: 'indexed' | 'in_flight' | 'duplicate' | 'gone'; id?: string | undefined }
  | { type: 'census'; holdings: number; checked: number };

/** One window of a run over a state in parts: the work items of a part (or a few), loaded by `load`. */
export interface WorkWindow {
  /** Source URIs to work on, in plan order. */
  uris: string[];
  /** Upload items the state records as created (asked whether the index still holds them). */
  recorded: string[];
  /** Of `uris`: items left `unknown` by an earlier run (what a stop before the window counts as undecided). */
  unknown: number;
  /** Reads the window's parts into memory; the windows' iterator lets them go when asked for the next one. */
  load(): Promise<void>;
}

/** A run over a state in parts (issue 15): the work comes a window at a time, and what must stay global is compact. */
export interface WorkWindows {
  windows(): AsyncIterable<WorkWindow>;
  /** How many items the windows hold to work on. */
  total: number;
  /** Keeps an item readable after its window (set aside, in flight). */
  hold(uri: string): void;
  /** Ends a `hold`: the item is done with for this run. */
  letGo(uri: string): void;
  /** Held items past which the run drains what it holds (assets processing) before the next window. */
  holdLimit: number;
  claimed: IdSet;
  owners: ContentOwners & { endWindow(): void };
  /** Forgets the exact copies of claimed ids that their items now record. */
  prune(): void;
}

export interface ExecuteOptions {
  /** Tasks path API (default path). */
  api: ExecutorApi;
  /** Assets path API; required with `via: 'assets'`. */
  assetsApi?: AssetsApi | undefined;
  /** Multipart API and chunk transport: for plan items of method `multipart` (with `source.getRange`). */
  multipart?: { api: MultipartApi; put: ChunkPut; batchSize?: number | undefined } | undefined;
  via?: Via | undefined;
  source: ExecutorSource;
  store: ItemStore;
  clock: Clock;
  indexId: string;
  bucket: string;
  runId: string;
  /** Source URIs to work on, in plan order. */
  uris: string[];
  /** A state in parts: the work in windows instead of `uris`/`recorded` (left empty then). */
  windows?: WorkWindows | undefined;
  concurrency: number;
  presignExpiresSeconds: number;
  enableVideoStream: boolean;
  userMetadata: UserMetadata;
  /** First wait between searches for a POST whose answer was lost; later waits grow. */
  reconcileLagMs?: number;
  /** No resubmission of a POST whose answer was lost before this long after its intent (default 2 min). */
  reconcileMinAgeMs?: number;
  /** After the rest is done, how long to keep rechecking items whose candidate tasks cannot be read yet (default 30 min). */
  decisionTimeoutMs?: number;
  /** Upload items the state records as created: the index is asked whether they are still there. */
  recorded?: string[];
  /** Attempts per item for POSTs whose outcome turned out "not created". */
  maxAttempts?: number;
  /** `--via assets`: between polls of assets still processing. */
  assetPollMs?: number;
  /** `--via assets`: how long to keep polling while no asset becomes ready or fails (default 30 min); the rest stays for the next run. */
  assetWaitMs?: number;
  random?: () => number;
  /** Aborted on the first SIGINT: no new submissions start. */
  stop?: AbortSignal;
  onEvent?: (event: ExecutorEvent) => void;
  /** `--wait-for-quota`: at a quota refusal or a far reset, wait for the reset instead of stopping. */
  waitForQuota?: boolean | undefined;
  /** Records a quota wait durably before the run sleeps through it. */
  onQuotaWait?: ((wait: QuotaWait) => Promise<void>) | undefined;
  /** What this run may start: it stops cleanly (not interrupted) at the first bound reached. */
  budget?: { maxItems?: number | undefined; maxVideoSeconds?: number | undefined } | undefined;
  /** Epoch ms after which no item starts (--stop-at, --max-run-time). */
  deadline?: number | undefined;
  /** Video seconds per source URI, when the plan knows them (--probe): for video-minute pacing and budgets. */
  durations?: ReadonlyMap<string, number> | undefined;
  /** Paces creates by the video minutes they add (user caps and the server's announced limit). */
  minutes?: MinuteGate | undefined;
  /** Where the census keeps the index's holdings (default: in memory). */
  censusTables?: LookupTables | undefined;
}

/** One wait through a quota window (`--wait-for-quota`), as the state records it. */
export interface QuotaWait {
  at: string;
  until: string;
  /** The refusal's code, e.g. usage_limit_exceeded or too_many_requests (a far reset). */
  reason: string;
  /** False when the server gave no reset time (the run looks again after a fixed wait). */
  resetKnown: boolean;
}

export type BudgetReason = 'max_items' | 'max_video_hours' | 'deadline';

export interface ExecuteResult {
  submitted: number;
  failed: number;
  reconciled: number;
  /** Items the index already held (this object's fingerprint) when the run started: recorded, not sent. */
  foundInIndex: number;
  /** Items whose content the index or the state already holds under another key: skipped. */
  duplicates: number;
  /** Items the state recorded as indexed whose video is no longer in the index: uploaded again. */
  gone: number;
  /** Items still without a task: interrupted, attempts exhausted, or awaiting a decision. */
  pending: number;
  /** Of `pending`: items whose candidate tasks could not be read before the run ended (never resubmitted). */
  undecided: number;
  retries: number;
  throttled: number;
  quota?: { resetAt?: string | undefined } | undefined;
  interrupted: boolean;
  /** The budget that stopped the run, if one did. */
  budget?: { reason: BudgetReason } | undefined;
  /** What this run started under its budget: items and their video seconds (when known). */
  used?: { items: number; videoSeconds: number } | undefined;
  /** Quota windows waited through (`--wait-for-quota`). */
  quotaWaits?: number | undefined;
  /** Multipart: bytes streamed from the source into chunk URLs (chunks stored). */
  bytesStreamed?: number | undefined;
}
