import { setMaxListeners } from 'node:events';
import type { Clock } from '../clock.js';
import { ApiError, TransportError, redactUrls } from '../errors.js';
import type { RequestGate, ResponseSignal } from './pacer.js';
import { isGateRouter, type GateRouter } from './pacers.js';
import { retrying } from './retry.js';
import type { Asset, ChunkReport, CompletedChunk, CreateAssetRequest, CreatedTask, CreateIndexedAssetRequest, CreateTaskRequest, CreateUploadRequest, IncompleteUpload, IndexedAsset, IndexedAssetSummary, IndexedVideo, IndexInfo, ListIndexedAssetsQuery, ListTasksQuery, ListVideosQuery, Page, PresignedChunkUrl, Task, UploadSession, UploadStatus } from './types.js';

export const DEFAULT_BASE_URL = 'https://api.twelvelabs.io/v1.3';

export interface TwelveLabsClientOptions {
  baseUrl: string;
  apiKey: string;
  clock: Clock;
  /** Per-request timeout. A POST that times out has an unknown outcome. */
  timeoutMs?: number;
  /** One gate for every request, or a router that picks one per limit category. */
  gate?: RequestGate | GateRouter;
  /** Attempts for idempotent requests (GET, DELETE); POST /tasks is never retried here. */
  maxAttempts?: number;
  random?: () => number;
  fetch?: typeof globalThis.fetch;
}

type Query = Record<string, string | number | boolean | string[] | undefined>;

interface RequestSpec {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  query?: Query;
  body?: FormData | string;
  idempotent: boolean;
  signal?: AbortSignal | undefined;
}

/**
 * A small typed client for the endpoints tlmigrate uses. Error bodies in both shapes become
 * ApiError with the platform's code; no answer becomes TransportError. Messages carry the path,
 * never a query string.
 */
export class TwelveLabsClient {
  private readonly baseUrl: string;
  private readonly apiKey: string;
  private readonly clock: Clock;
  private readonly timeoutMs: number;
  private readonly gates: RequestGate | GateRouter | undefined;
  private readonly maxAttempts: number;
  private readonly random: () => number;
  private readonly fetchImpl: typeof globalThis.fetch;

  constructor(options: TwelveLabsClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.apiKey = options.apiKey;
    this.clock = options.clock;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.gates = options.gate;
    this.maxAttempts = options.maxAttempts ?? 6;
    this.random = options.random ?? Math.random;
    this.fetchImpl = options.fetch ?? globalThis.fetch;
  }

  getIndex(indexId: string, signal?: AbortSignal): Promise<IndexInfo> {
    return this.json({ method: 'GET', path: `/indexes/${enc(indexId)}`, idempotent: true, signal });
  }

  listVideos(indexId: string, query: ListVideosQuery = {}, signal?: AbortSignal): Promise<Page<IndexedVideo>> {
    const q: Query = {
      page: query.page,
      page_limit: query.pageLimit,
      sort_by: query.sortBy,
      sort_option: query.sortOption,
      filename: query.filename,
    };
    // The encoding of metadata filters is unconfirmed (see the contract); the Python SDK's form is kept here alone.
    for (const [key, value] of Object.entries(query.userMetadata ?? {})) q[`user_metadata[${key}]`] = String(value);
    return this.json({ method: 'GET', path: `/indexes/${enc(indexId)}/videos`, query: q, idempotent: true, signal });
  }

  getVideo(indexId: string, videoId: string, signal?: AbortSignal): Promise<IndexedVideo> {
    return this.json({ method: 'GET', path: `/indexes/${enc(indexId)}/videos/${enc(videoId)}`, idempotent: true, signal });
  }

  async deleteVideo(indexId: string, videoId: string, signal?: AbortSignal): Promise<void> {
    await this.send({ method: 'DELETE', path: `/indexes/${enc(indexId)}/videos/${enc(videoId)}`, idempotent: true, signal });
  }

  listTasks(query: ListTasksQuery = {}, signal?: AbortSignal): Promise<Page<Task>> {
    return this.json({
      method: 'GET',
      path: '/tasks',
      query: { ...listingQuery(query), index_id: query.indexId },
      idempotent: true,
      signal,
    });
  }

  getTask(taskId: string, signal?: AbortSignal): Promise<Task> {
    return this.json({ method: 'GET', path: `/tasks/${enc(taskId)}`, idempotent: true, signal });
  }

  async deleteTask(taskId: string, signal?: AbortSignal): Promise<void> {
    await this.send({ method: 'DELETE', path: `/tasks/${enc(taskId)}`, idempotent: true, signal });
  }

  /**
   * Sends exactly one POST /tasks. Never retried here: a TransportError or a 5xx means the task may
   * exist, and only the caller can reconcile that.
   */
  async createTask(request: CreateTaskRequest, signal?: AbortSignal): Promise<CreatedTask> {
    const form = new FormData();
    form.set('index_id', request.indexId);
    form.set('video_url', request.videoUrl);
    form.set('enable_video_stream', String(request.enableVideoStream));
    form.set('user_metadata', JSON.stringify(request.userMetadata));
    const body = await this.json<{ _id?: string; id?: string; video_id?: string }>({
      method: 'POST',
      path: '/tasks',
      body: form,
      idempotent: false,
      signal,
    });
    const taskId = body._id ?? body.id;
    if (!taskId) throw new ApiError({ status: 200, code: 'invalid_response', message: 'the answer has no _id', method: 'POST', path: '/tasks' });
    return { taskId, videoId: body.video_id };
  }

  /** POST /assets with method=url. Never retried here: like POST /tasks, an unknown outcome needs reconciling. */
  async createAsset(request: CreateAssetRequest, signal?: AbortSignal): Promise<Asset> {
    const form = new FormData();
    form.set('method', 'url');
    form.set('url', request.url);
    form.set('filename', request.filename);
    form.set('user_metadata', JSON.stringify(request.userMetadata));
    const asset = await this.json<Asset & { id?: string }>({ method: 'POST', path: '/assets', body: form, idempotent: false, signal });
    const id = asset._id ?? asset.id;
    if (!id) throw new ApiError({ status: 200, code: 'invalid_response', message: 'the answer has no _id', method: 'POST', path: '/assets' });
    return { ...asset, _id: id };
  }

  getAsset(assetId: string, signal?: AbortSignal): Promise<Asset> {
    return this.json({ method: 'GET', path: `/assets/${enc(assetId)}`, idempotent: true, signal });
  }

  listAssets(query: { page?: number; pageLimit?: number; filename?: string; assetIds?: string[] }, signal?: AbortSignal): Promise<Page<Asset>> {
    return this.json({
      method: 'GET',
      path: '/assets',
      query: { page: query.page, page_limit: query.pageLimit, filename: query.filename, asset_ids: query.assetIds },
      idempotent: true,
      signal,
    });
  }

  /** POST /indexes/{id}/indexed-assets. Never retried here. */
  async createIndexedAsset(request: CreateIndexedAssetRequest, signal?: AbortSignal): Promise<{ indexedAssetId: string }> {
    const path = `/indexes/${enc(request.indexId)}/indexed-assets`;
    const body = await this.json<{ _id?: string; id?: string }>({
      method: 'POST',
      path,
      body: JSON.stringify({ asset_id: request.assetId, enable_video_stream: request.enableVideoStream, user_metadata: request.userMetadata }),
      idempotent: false,
      signal,
    });
    const id = body._id ?? body.id;
    if (!id) throw new ApiError({ status: 200, code: 'invalid_response', message: 'the answer has no _id', method: 'POST', path });
    return { indexedAssetId: id };
  }

  listIndexedAssets(indexId: string, query: ListIndexedAssetsQuery = {}, signal?: AbortSignal): Promise<Page<IndexedAsset>> {
    return this.json({
      method: 'GET',
      path: `/indexes/${enc(indexId)}/indexed-assets`,
      query: listingQuery(query),
      idempotent: true,
      signal,
    });
  }

  getIndexedAsset(indexId: string, indexedAssetId: string, signal?: AbortSignal): Promise<IndexedAsset> {
    return this.json({ method: 'GET', path: `/indexes/${enc(indexId)}/indexed-assets/${enc(indexedAssetId)}`, idempotent: true, signal });
  }

  /** POST /assets/multipart-uploads: a session, which reserves an asset. Never retried here: a lost answer is reconciled. */
  async createUpload(request: CreateUploadRequest, signal?: AbortSignal): Promise<UploadSession> {
    const path = '/assets/multipart-uploads';
    const body = JSON.stringify({ filename: request.filename, type: 'video', total_size: request.totalSize, user_metadata: request.userMetadata });
    const session = await this.json<Partial<UploadSession>>({ method: 'POST', path, body, idempotent: false, signal });
    const { upload_id: uploadId, chunk_size: chunkSize, total_chunks: totalChunks } = session;
    if (!uploadId || !chunkSize || chunkSize < 1) throw new ApiError({ status: 200, code: 'invalid_response', message: 'the answer has no upload_id or chunk_size', method: 'POST', path });
    return { ...session, upload_id: uploadId, chunk_size: chunkSize, total_chunks: totalChunks ?? Math.ceil(request.totalSize / chunkSize) };
  }

  /** Fresh chunk URLs (`count` at most 50). Creates nothing, so it is retried like a GET. */
  async requestChunkUrls(uploadId: string, start: number, count: number, signal?: AbortSignal): Promise<PresignedChunkUrl[]> {
    const body = JSON.stringify({ start, count });
    const answer = await this.json<{ upload_urls?: PresignedChunkUrl[] }>({ method: 'POST', path: `/assets/multipart-uploads/${enc(uploadId)}/presigned-urls`, body, idempotent: true, signal });
    return answer.upload_urls ?? [];
  }

  /** Reports completed chunks. Duplicates are ignored by the server, so a resend is safe: retried like a GET. */
  reportChunks(uploadId: string, chunks: CompletedChunk[], signal?: AbortSignal): Promise<ChunkReport> {
    return this.json({ method: 'POST', path: `/assets/multipart-uploads/${enc(uploadId)}`, body: JSON.stringify({ completed_chunks: chunks }), idempotent: true, signal });
  }

  getUploadStatus(uploadId: string, query: { page?: number; pageLimit?: number } = {}, signal?: AbortSignal): Promise<UploadStatus> {
    return this.json({ method: 'GET', path: `/assets/multipart-uploads/${enc(uploadId)}`, query: { page: query.page, page_limit: query.pageLimit }, idempotent: true, signal });
  }

  listIncompleteUploads(query: { page?: number; pageLimit?: number } = {}, signal?: AbortSignal): Promise<Page<IncompleteUpload>> {
    return this.json({ method: 'GET', path: '/assets/multipart-uploads', query: { page: query.page, page_limit: query.pageLimit }, idempotent: true, signal });
  }

  listIndexedAssetsOfAsset(assetId: string, query: { page?: number; pageLimit?: number } = {}, signal?: AbortSignal): Promise<Page<IndexedAssetSummary>> {
    return this.json({ method: 'GET', path: `/assets/${enc(assetId)}/indexed-assets`, query: { page: query.page, page_limit: query.pageLimit }, idempotent: true, signal });
  }

  private async json<T>(spec: RequestSpec): Promise<T> {
    const { status, text } = await this.send(spec);
    try {
      return (text === '' ? {} : JSON.parse(text)) as T;
    } catch (cause) {
      throw new ApiError({ status, code: 'invalid_response', message: 'the answer is not JSON', method: spec.method, path: spec.path, cause });
    }
  }

  /**
   * Idempotent requests (GETs, DELETEs, and the POSTs that only read or renew) are retried by
   * `retrying` (retry.ts, on p-retry). Any other POST is sent once: whether to send it again is the
   * exactly-once step runner's decision (src/executor/exactly-once.ts), taken only after searching
   * for what a lost one created. That is the protocol, not a retry policy, so it has no second layer here.
   */
  private send(spec: RequestSpec): Promise<{ status: number; text: string }> {
    if (!spec.idempotent) return this.sendOnce(spec);
    // The gate already pauses the whole run after a 429; without one, the retry backs off itself.
    return retrying(() => this.sendOnce(spec), { attempts: this.maxAttempts, clock: this.clock, random: this.random, paced: this.gates !== undefined, signal: spec.signal });
  }

  /** One request, body included: a body cut short is as much "no answer" as a refused connection. */
  private async sendOnce(spec: RequestSpec): Promise<{ status: number; text: string }> {
    const gate = this.gates === undefined || !isGateRouter(this.gates) ? this.gates : this.gates.gateFor(spec.method, spec.path);
    await gate?.acquire(spec.signal);
    const url = this.baseUrl + spec.path + queryString(spec.query);
    const timeout = AbortSignal.timeout(this.timeoutMs);
    // One run-wide stop signal joins every request's timeout; it legitimately has many listeners.
    if (spec.signal) setMaxListeners(0, spec.signal);
    const signal = spec.signal ? AbortSignal.any([spec.signal, timeout]) : timeout;
    let response: Response;
    try {
      response = await this.fetchImpl(url, {
        method: spec.method,
        headers: { 'x-api-key': this.apiKey, accept: 'application/json', ...(typeof spec.body === 'string' ? { 'content-type': 'application/json' } : {}) },
        ...(spec.body === undefined ? {} : { body: spec.body }),
        // A redirect would carry x-api-key to wherever Location points: never followed.
        redirect: 'manual',
        signal,
      });
    } catch (cause) {
      gate?.release({ status: 0 });
      throw this.noAnswer(spec, timeout, 'connection failed', cause);
    }
    const signalOut = readRateLimit(response, this.clock.now());
    if (response.status >= 300 && response.status < 400) {
      gate?.release(signalOut);
      await response.body?.cancel().catch(() => undefined);
      throw redirectError(spec, response, url);
    }
    let text = '';
    try {
      text = await response.text();
    } catch (cause) {
      // A success whose body never arrived has an unknown outcome (a POST may have created a task).
      if (response.ok) {
        gate?.release(signalOut);
        throw this.noAnswer(spec, timeout, `the ${response.status} answer was cut off`, cause);
      }
      // A failure's body cut short still leaves the status, which is what classifies the failure.
    }
    if (response.ok) {
      gate?.release(signalOut);
      return { status: response.status, text };
    }
    const { code, message } = parseErrorBody(text, response.status);
    // A rate-limit refusal sent with another status than 429 slows the run down all the same.
    gate?.release(code === 'too_many_requests' ? { ...signalOut, status: 429 } : signalOut);
    throw new ApiError({
      status: response.status,
      code,
      message,
      method: spec.method,
      path: spec.path,
      retryAfterMs: signalOut.retryAfterMs,
      rateLimitResetMs: signalOut.resetAtMs ?? (signalOut.status === 429 ? signalOut.videoMinutes?.resetAtMs : undefined),
    });
  }

  private noAnswer(spec: RequestSpec, timeout: AbortSignal, what: string, cause: unknown): unknown {
    if (spec.signal?.aborted) return spec.signal.reason;
    const timedOut = timeout.aborted;
    return new TransportError({
      method: spec.method,
      path: spec.path,
      reason: timedOut ? 'timeout' : 'network',
      detail: timedOut ? `no answer within ${this.timeoutMs} ms` : `${what} (${redactUrls(describeCause(cause))})`,
      cause,
    });
  }
}

/** A 3xx: one line naming where it pointed (the origin only: a Location may carry a token). */
function redirectError(spec: RequestSpec, response: Response, url: string): ApiError {
  const location = response.headers.get('location');
  let target = 'nowhere (no Location)';
  if (location !== null) {
    try {
      const origin = new URL(location, url).origin;
      target = `${origin} (${origin === new URL(url).origin ? 'the same origin' : 'another origin'})`;
    } catch {
      target = 'an unreadable Location';
    }
  }
  const message = `answered ${response.status}, a redirect to ${target}; tlmigrate follows no redirect, so the API key was not sent there: set --api-url / TWELVELABS_BASE_URL to the API's own URL`;
  return new ApiError({ status: response.status, code: 'api_redirect', message, method: spec.method, path: spec.path });
}

/**
 * A date filter in the documented form, `YYYY-MM-DDTHH:mm:ssZ`: a server may refuse fractional
 * seconds. Rounded down, so an "at or after" filter still includes the instant asked for.
 */
/** The paging, sorting and filter parameters GET /tasks and GET indexed-assets share, in the API's names. */
function listingQuery(query: ListTasksQuery | ListIndexedAssetsQuery): Query {
  return {
    page: query.page,
    page_limit: query.pageLimit,
    sort_by: query.sortBy,
    sort_option: query.sortOption,
    status: query.status,
    filename: query.filename,
    created_at: wholeSeconds(query.createdAt),
    updated_at: wholeSeconds(query.updatedAt),
  };
}

export function wholeSeconds(instant: string | undefined): string | undefined {
  if (instant === undefined) return undefined;
  const ms = Date.parse(instant);
  if (Number.isNaN(ms)) return instant;
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

function enc(segment: string): string {
  return encodeURIComponent(segment);
}

function queryString(query: Query | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) params.append(key, v);
    else params.append(key, String(value));
  }
  const s = params.toString();
  return s ? `?${s}` : '';
}

/** Parses both error shapes: `{code, message}` and `{error: {code, message}}`. */
export function parseErrorBody(text: string, status: number): { code: string; message: string } {
  let code = `http_${status}`;
  let message = text.slice(0, 200) || `HTTP ${status}`;
  try {
    const body = JSON.parse(text) as { code?: unknown; message?: unknown; error?: { code?: unknown; message?: unknown } | string };
    const inner = typeof body.error === 'object' && body.error !== null ? body.error : undefined;
    const c = body.code ?? inner?.code;
    const m = body.message ?? inner?.message ?? (typeof body.error === 'string' ? body.error : undefined);
    if (typeof c === 'string' && c) code = c;
    if (typeof m === 'string' && m) message = m;
  } catch {
    // Not JSON (a proxy's HTML page, say): keep the status-derived code.
  }
  return { code, message: redactUrls(message.replace(/\s+/g, ' ').trim()) };
}

/** Reads Retry-After and X-Ratelimit-* headers. */
export function readRateLimit(response: { status: number; headers: Headers }, nowMs: number): ResponseSignal {
  const h = response.headers;
  const num = (name: string): number | undefined => {
    const v = h.get(name);
    if (v === null || v.trim() === '') return undefined;
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  };
  let retryAfterMs: number | undefined;
  const retryAfter = h.get('retry-after');
  if (retryAfter !== null) {
    const seconds = Number(retryAfter);
    if (Number.isFinite(seconds)) retryAfterMs = Math.max(0, seconds * 1000);
    else {
      const date = Date.parse(retryAfter);
      if (Number.isFinite(date)) retryAfterMs = Math.max(0, date - nowMs);
    }
  }
  const reset = num('x-ratelimit-reset');
  // Epoch seconds per v1.2; a small number is read as seconds from now, which some servers send.
  const resetAtMs = reset === undefined ? undefined : reset > 1e9 ? reset * 1000 : nowMs + reset * 1000;
  const minutesReset = num('x-ratelimit-video-minutes-reset');
  const videoMinutes = {
    limit: num('x-ratelimit-video-minutes-limit'),
    remaining: num('x-ratelimit-video-minutes-remaining'),
    resetAtMs: minutesReset === undefined ? undefined : minutesReset > 1e9 ? minutesReset * 1000 : nowMs + minutesReset * 1000,
  };
  const announced = videoMinutes.limit !== undefined || videoMinutes.remaining !== undefined;
  return { status: response.status, retryAfterMs, resetAtMs, limit: num('x-ratelimit-limit'), remaining: num('x-ratelimit-remaining'), ...(announced ? { videoMinutes } : {}) };
}

function describeCause(cause: unknown): string {
  if (cause instanceof Error) {
    const inner = (cause as { cause?: unknown }).cause;
    const code = inner && typeof inner === 'object' && 'code' in inner ? String((inner as { code: unknown }).code) : undefined;
    return code ?? cause.message;
  }
  return String(cause);
}
