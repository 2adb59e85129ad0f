import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiFailure, invalid, notProvided } from './api-error.js';
import { param } from './api-context.js';
import type { ApiContext, Handler } from './api-context.js';
import { parseJsonObject } from './api-form.js';
import { chunkSizeOf, iso, mimeTypeOf, newId } from './model.js';
import type { SimAsset, SimChunk, SimUpload } from './model.js';
import { pageOf, parsePaging, type Paging } from './query.js';
import { CHUNK_PATH } from './routes.js';
import { userMetadataObject } from './validate.js';

/** How the simulated platform cuts and times multipart uploads. */
export interface MultipartSettings {
  /** Bytes per chunk the server picks (default 5 MiB, the docs' example). */
  chunkSize: number;
  /** Largest `total_size` (default 10 GiB). */
  maxTotalSize: number;
  /** Life of each presigned chunk URL (default 1 h). */
  urlTtlMs: number;
  /** Life of a session (default 24 h): then `expired`, and its reserved asset failed. */
  sessionTtlMs: number;
  /** Where chunk bytes are assembled: one file per session. */
  spoolDir: string;
}

export const DEFAULT_MULTIPART: Omit<MultipartSettings, 'spoolDir'> = {
  chunkSize: 5 * 1024 * 1024,
  maxTotalSize: 10 * 1024 ** 3,
  urlTtlMs: 3600_000,
  sessionTtlMs: 24 * 3600_000,
};

/** The header a session signs its URLs with under the `upload-headers=required` reading. */
export const SIGNED_HEADER = 'x-amz-meta-tl-upload';
const PARTIAL_URLS = 10;
const MAX_URLS_PER_CALL = 50;
const CREATE_FIELDS = new Set(['filename', 'type', 'total_size', 'enable_hls', 'enable_thumbnail', 'user_metadata']);

/** POST /assets/multipart-uploads: reserves an asset (`processing`) and hands out chunk URLs. */
export const createUpload: Handler = async (req, ctx) => {
  const body = parseJsonObject(req.body);
  for (const key of Object.keys(body)) if (!CREATE_FIELDS.has(key)) throw new ApiFailure(400, 'parameter_unknown', `The ${key} parameter is not supported.`);
  const filename = body.filename;
  if (filename === undefined) throw notProvided('filename');
  if (typeof filename !== 'string' || filename.length < 1 || filename.length > 255) throw invalid('The filename parameter must be 1 to 255 characters.');
  if (body.type === undefined) throw notProvided('type');
  if (body.type !== 'video' && body.type !== 'audio') throw invalid('The type parameter must be video or audio.');
  const totalSize = body.total_size;
  if (totalSize === undefined) throw notProvided('total_size');
  const settings = ctx.multipart;
  if (typeof totalSize !== 'number' || !Number.isInteger(totalSize) || totalSize < 1 || totalSize > settings.maxTotalSize) {
    throw invalid(`The total_size parameter must be a whole number of bytes from 1 to ${settings.maxTotalSize}.`);
  }
  const userMetadata = body.user_metadata === undefined ? undefined : userMetadataObject(body.user_metadata);
  const now = ctx.clock.now();
  const upload: SimUpload = {
    id: newId(),
    assetId: newId(),
    filename,
    totalSize,
    chunkSize: settings.chunkSize,
    totalChunks: Math.ceil(totalSize / settings.chunkSize),
    status: 'active',
    createdAt: now,
    updatedAt: now,
    expiresAt: now + settings.sessionTtlMs,
    seq: ctx.store.nextSeq(),
    chunks: new Map(),
    spoolPath: '',
  };
  upload.spoolPath = join(settings.spoolDir, upload.id);
  await writeFile(upload.spoolPath, '');
  for (let i = 1; i <= upload.totalChunks; i++) upload.chunks.set(i, { status: 'pending', puts: 0, putsAfterReport: 0 });
  const asset: SimAsset = {
    id: upload.assetId,
    method: 'multipart',
    status: 'processing',
    createdAt: now,
    updatedAt: now,
    seq: upload.seq,
    filename,
    fileType: mimeTypeOf(filename),
    source: { kind: 'multipart', uploadId: upload.id },
    ...(userMetadata !== undefined ? { userMetadata } : {}),
    enableHls: body.enable_hls === true,
    enableThumbnail: body.enable_thumbnail === true,
  };
  ctx.store.uploads.set(upload.id, upload);
  ctx.store.putAsset(asset);
  ctx.onAssetCreated(asset);
  ctx.lifecycle.expireUploadAt(upload, () => expire(upload, ctx));
  const variants = ctx.variants();
  const count = variants.initialUrls === 'all' ? upload.totalChunks : Math.min(PARTIAL_URLS, upload.totalChunks);
  return {
    status: variants.createUploadStatus,
    json: {
      upload_id: upload.id,
      asset_id: upload.assetId,
      upload_urls: issueUrls(upload, 1, count, ctx),
      ...(variants.uploadHeaders === 'required' ? { upload_headers: { [SIGNED_HEADER]: upload.id } } : {}),
      chunk_size: upload.chunkSize,
      total_chunks: upload.totalChunks,
      expires_at: iso(upload.expiresAt),
    },
  };
};

/** POST /assets/multipart-uploads/{upload_id}/presigned-urls: `{start, count}`, at most 50. */
export const requestUrls: Handler = (req, ctx) => {
  const upload = activeUpload(param(req, 'upload_id'), ctx);
  const body = parseJsonObject(req.body);
  const start = wholeNumber(body.start, 'start');
  let count = wholeNumber(body.count, 'count');
  if (count > MAX_URLS_PER_CALL) {
    if (ctx.variants().presignedCountOver50 === '400') throw invalid(`The count parameter must be between 1 and ${MAX_URLS_PER_CALL}.`);
    count = MAX_URLS_PER_CALL;
  }
  if (start > upload.totalChunks) throw invalid(`The start parameter must be between 1 and ${upload.totalChunks}.`);
  count = Math.min(count, upload.totalChunks - start + 1);
  const now = ctx.clock.now();
  return {
    status: 200,
    json: {
      upload_id: upload.id,
      start_index: start,
      count,
      upload_urls: issueUrls(upload, start, count, ctx),
      generated_at: iso(now),
      expires_at: iso(upload.expiresAt),
    },
  };
};

/** POST /assets/multipart-uploads/{upload_id}: a batch of completed chunks, each proved by its ETag; duplicates ignored. */
export const reportChunks: Handler = (req, ctx) => {
  const upload = ctx.store.requireUpload(param(req, 'upload_id'));
  if (upload.status === 'expired' || upload.status === 'failed') throw invalid(`The upload ${upload.id} is ${upload.status}: create a new upload session.`);
  const body = parseJsonObject(req.body);
  const completed = body.completed_chunks;
  if (completed === undefined) throw notProvided('completed_chunks');
  if (!Array.isArray(completed) || completed.length === 0) throw invalid('The completed_chunks parameter must be a non-empty array.');
  const entries = completed.map((entry) => checkReport(upload, entry, ctx));
  let processed = 0;
  let duplicates = 0;
  const now = ctx.clock.now();
  for (const { chunk } of entries) {
    if (chunk.status === 'completed') {
      duplicates++;
      continue;
    }
    chunk.status = 'completed';
    chunk.reportedAt = now;
    processed++;
  }
  upload.updatedAt = now;
  const totalCompleted = [...upload.chunks.values()].filter((c) => c.status === 'completed').length;
  const done = totalCompleted === upload.totalChunks;
  if (done && upload.status === 'active') complete(upload, ctx);
  const sendUrl = done && ctx.variants().uploadCompletion === 'url';
  return {
    status: 200,
    json: {
      ...(sendUrl ? { url: `${ctx.origin()}/assets/${upload.assetId}/${encodeURIComponent(upload.filename)}` } : {}),
      asset_id: upload.assetId,
      processed_chunks: processed,
      duplicate_chunks: duplicates,
      total_completed: totalCompleted,
    },
  };
};

/** GET /assets/multipart-uploads/{upload_id}: the session and its chunks, paged. */
export const uploadStatus: Handler = (req, ctx) => {
  const upload = ctx.store.requireUpload(param(req, 'upload_id'));
  const paging = parsePaging(req.query);
  const listed = [...upload.chunks].filter(([, c]) => ctx.variants().statusChunks === 'all' || c.status === 'completed');
  const { items, pageInfo } = pagePastEnd(listed, paging, ctx);
  const counts = { completed: 0, failed: 0 };
  let uploadedSize = 0;
  for (const [index, chunk] of upload.chunks) {
    if (chunk.status === 'completed') {
      counts.completed++;
      uploadedSize += chunkSizeOf(upload, index);
    } else if (chunk.status === 'failed') counts.failed++;
  }
  return {
    status: 200,
    json: {
      upload_id: upload.id,
      status: upload.status,
      uploaded_chunks: items.map(([index, chunk]) => chunkToWire(index, chunk, upload)),
      chunks_completed: counts.completed,
      chunks_failed: counts.failed,
      chunks_pending: upload.totalChunks - counts.completed - counts.failed,
      page_info: pageInfo,
      total_size: upload.totalSize,
      uploaded_size: uploadedSize,
      created_at: iso(upload.createdAt),
      updated_at: iso(upload.updatedAt),
    },
  };
};

/** GET /assets/multipart-uploads: sessions not completed (active ones), newest first, paged. */
export const listIncompleteUploads: Handler = (req, ctx) => {
  const paging = parsePaging(req.query);
  const active = [...ctx.store.uploads.values()].filter((u) => u.status === 'active').sort((a, b) => b.createdAt - a.createdAt || b.seq - a.seq);
  const { items, pageInfo } = pagePastEnd(active, paging, ctx);
  const data = items.map((u) => ({
    upload_id: u.id,
    status: u.status,
    total_size: u.totalSize,
    chunk_size: u.chunkSize,
    total_chunks: u.totalChunks,
    created_at: iso(u.createdAt),
    expires_at: iso(u.expiresAt),
  }));
  return { status: 200, json: { data, page_info: pageInfo } };
};

/** The reserved asset of an upload under the `multipart-asset-listed=at-complete` reading is hidden from GET /assets until then. */
export function listedYet(asset: SimAsset, ctx: ApiContext): boolean {
  if (asset.source.kind !== 'multipart' || ctx.variants().multipartAssetListed === 'at-create') return true;
  return ctx.store.uploads.get(asset.source.uploadId)?.status === 'completed';
}

function checkReport(upload: SimUpload, entry: unknown, ctx: ApiContext): { chunk: SimChunk } {
  if (typeof entry !== 'object' || entry === null) throw invalid('Each completed_chunks entry must be an object.');
  const { chunk_index: index, proof, proof_type: proofType, chunk_size: size } = entry as Record<string, unknown>;
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 1 || index > upload.totalChunks) {
    throw invalid(`The chunk_index parameter must be between 1 and ${upload.totalChunks}.`);
  }
  if (proofType !== 'etag') throw invalid('The proof_type parameter must be etag.');
  if (size !== chunkSizeOf(upload, index)) throw invalid(`The chunk_size of chunk ${index} must be ${chunkSizeOf(upload, index)}.`);
  const chunk = upload.chunks.get(index) as SimChunk;
  if (typeof proof !== 'string' || proof === '') throw notProvided('proof');
  const bare = ctx.variants().proofForm === 'bare' ? proof : proof.replace(/"/g, '');
  if (chunk.etag === undefined) throw invalid(`Chunk ${index} has not been uploaded.`);
  if (bare !== chunk.etag) throw invalid(`The proof of chunk ${index} does not match the uploaded chunk.`);
  return { chunk };
}

function issueUrls(upload: SimUpload, start: number, count: number, ctx: ApiContext): Array<{ chunk_index: number; url: string; expires_at: string }> {
  const expiresAt = Math.min(ctx.clock.now() + ctx.multipart.urlTtlMs, upload.expiresAt);
  const urls = [];
  for (let index = start; index < start + count; index++) {
    const token = randomBytes(16).toString('hex');
    ctx.store.chunkUrls.set(token, { uploadId: upload.id, chunkIndex: index, expiresAt, uses: 0 });
    const url = `${ctx.origin()}${CHUNK_PATH}${upload.id}/${index}?X-Amz-Expires=${Math.round((expiresAt - ctx.clock.now()) / 1000)}&X-Amz-Signature=${token}`;
    urls.push({ chunk_index: index, url, expires_at: iso(expiresAt) });
  }
  return urls;
}

function activeUpload(id: string, ctx: ApiContext): SimUpload {
  const upload = ctx.store.requireUpload(id);
  if (upload.status !== 'active') throw invalid(`The upload ${upload.id} is ${upload.status}.`);
  return upload;
}

function complete(upload: SimUpload, ctx: ApiContext): void {
  upload.status = 'completed';
  const asset = ctx.store.assets.get(upload.assetId);
  ctx.store.touch();
  if (asset) ctx.lifecycle.startMultipartAsset(asset, upload);
}

function expire(upload: SimUpload, ctx: ApiContext): void {
  if (upload.status !== 'active') return;
  upload.status = 'expired';
  upload.updatedAt = ctx.clock.now();
  const asset = ctx.store.assets.get(upload.assetId);
  if (asset && asset.status === 'processing') ctx.lifecycle.failAsset(asset, { code: 'upload_expired', message: 'The multipart upload session expired before it was completed.' });
  ctx.store.touch();
}

/** Expires a session now (for tests): as if its 24 h had passed. */
export function expireUpload(upload: SimUpload, ctx: ApiContext): void {
  expire(upload, ctx);
}

function chunkToWire(index: number, chunk: SimChunk, upload: SimUpload): Record<string, unknown> {
  return {
    index,
    status: chunk.status,
    uploaded_at: chunk.status === 'completed' && chunk.reportedAt !== undefined ? iso(chunk.reportedAt) : null,
    updated_at: iso(chunk.reportedAt ?? chunk.putAt ?? upload.createdAt),
    ...(chunk.status === 'failed' ? { error: 'the chunk failed' } : {}),
  };
}

function pagePastEnd<T>(items: readonly T[], paging: Paging, ctx: ApiContext): ReturnType<typeof pageOf<T>> {
  const page = pageOf(items, paging);
  if (page.items.length === 0 && paging.page > 1 && ctx.variants().pagingPastEnd === '400') {
    throw new ApiFailure(400, 'parameter_invalid', `The page parameter must be between 1 and ${Math.max(1, page.pageInfo.total_page)}.`);
  }
  return page;
}

function wholeNumber(value: unknown, name: string): number {
  if (value === undefined) throw notProvided(name);
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw invalid(`The ${name} parameter must be a positive whole number.`);
  return value;
}
