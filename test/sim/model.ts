import { randomBytes } from 'node:crypto';

export const TASK_STATUSES = ['uploading', 'validating', 'pending', 'queued', 'indexing', 'ready', 'failed'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export type MetadataValue = string | number | boolean;
export type UserMetadata = Record<string, MetadataValue>;

/** What the platform learns about a video file while validating it. */
export interface VideoMeta {
  filename: string;
  size: number;
  duration: number;
  width: number;
  height: number;
  fps: number;
}

/** Why a task failed: the platform's error code and message. */
export interface TaskFailure {
  code: string;
  message: string;
}

export interface IndexModel {
  name: string;
  options: string[];
}

export interface SimIndex {
  id: string;
  name: string;
  models: IndexModel[];
  createdAt: number;
  updatedAt: number;
  expiresAt?: number;
}

export type TaskSource =
  | { kind: 'url'; url: string; path: string }
  | { kind: 'file'; filename: string; bytes: Buffer }
  | { kind: 'seed' };

export interface SimTask {
  id: string;
  videoId: string;
  indexId: string;
  status: TaskStatus;
  createdAt: number;
  updatedAt: number;
  /** Creation order, the tie-breaker for equal timestamps. */
  seq: number;
  filename: string;
  source: TaskSource;
  enableVideoStream: boolean;
  userMetadata: UserMetadata;
  /** Filled in once validation has read the file. */
  meta?: VideoMeta;
  failure?: TaskFailure;
  videoDeleted: boolean;
}

export interface SimVideo {
  id: string;
  indexId: string;
  /** The task that made it (POST /tasks); absent for an indexed asset's video, whose id is the indexed asset's. */
  taskId?: string;
  assetId?: string;
  createdAt: number;
  updatedAt: number;
  indexedAt: number;
  seq: number;
  meta: VideoMeta;
  userMetadata: UserMetadata;
  streaming: boolean;
}

export const ASSET_STATUSES = ['processing', 'ready', 'failed'] as const;
export type AssetStatus = (typeof ASSET_STATUSES)[number];
export type AssetMethod = 'url' | 'direct' | 'multipart';
export const ASSET_TYPES = ['image', 'video', 'audio', 'document'] as const;
export type AssetType = (typeof ASSET_TYPES)[number];

/** An uploaded file (POST /assets), reusable by indexed assets. */
export interface SimAsset {
  id: string;
  method: AssetMethod;
  status: AssetStatus;
  createdAt: number;
  updatedAt: number;
  seq: number;
  filename: string;
  /** MIME type, from the filename's extension. */
  fileType: string;
  source: Exclude<TaskSource, { kind: 'seed' }> | { kind: 'multipart'; uploadId: string };
  /** sha256 (hex) of the bytes a multipart upload assembled, once complete. */
  sha256?: string;
  /** Absent when the request set none (the API then omits the field). */
  userMetadata?: UserMetadata;
  enableHls: boolean;
  enableThumbnail: boolean;
  /** Size, duration, resolution: filled in once the file was read. */
  meta?: VideoMeta;
  failure?: TaskFailure;
}

export const INDEXED_ASSET_STATUSES = ['pending', 'queued', 'indexing', 'ready', 'failed'] as const;
export type IndexedAssetStatus = (typeof INDEXED_ASSET_STATUSES)[number];

/** An asset being (or done being) indexed into an index; once ready, a video with the same id. */
export interface SimIndexedAsset {
  id: string;
  assetId: string;
  indexId: string;
  status: IndexedAssetStatus;
  createdAt: number;
  updatedAt: number;
  indexedAt?: number;
  /** When its metadata was last updated (PATCH): what `updated_at` filters see under the `put-only` reading. */
  putAt?: number;
  seq: number;
  /** The asset's metadata when indexing was requested (the asset was ready, so it is known). */
  meta: VideoMeta;
  enableVideoStream: boolean;
  userMetadata: UserMetadata;
  failure?: TaskFailure;
}

/** A 24-hex id, the shape of every Twelve Labs id. */
export function newId(): string {
  return randomBytes(12).toString('hex');
}

/** RFC 3339 with milliseconds, UTC. */
export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

const MIME_TYPES: Record<string, string> = {
  mp4: 'video/mp4', m4v: 'video/x-m4v', mov: 'video/quicktime', mkv: 'video/x-matroska', webm: 'video/webm',
  avi: 'video/x-msvideo', wmv: 'video/x-ms-wmv', flv: 'video/x-flv', mpg: 'video/mpeg', mpeg: 'video/mpeg',
  ts: 'video/mp2t', mts: 'video/mp2t', '3gp': 'video/3gpp', ogv: 'video/ogg',
  mp3: 'audio/mpeg', wav: 'audio/wav', m4a: 'audio/mp4', flac: 'audio/flac', ogg: 'audio/ogg',
  jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', gif: 'image/gif', webp: 'image/webp',
  pdf: 'application/pdf', txt: 'text/plain', md: 'text/markdown',
};

/** The MIME type of a file by its extension (case-insensitive); unknown extensions read as video/mp4. */
export function mimeTypeOf(filename: string): string {
  const extension = /\.([^./]+)$/.exec(filename)?.[1]?.toLowerCase() ?? '';
  return MIME_TYPES[extension] ?? 'video/mp4';
}

/** The asset type GET /assets filters on (`asset_types`), from the MIME type. */
export function assetTypeOf(mimeType: string): AssetType {
  if (mimeType.startsWith('image/')) return 'image';
  if (mimeType.startsWith('audio/')) return 'audio';
  if (mimeType.startsWith('video/')) return 'video';
  return 'document';
}

export const UPLOAD_STATUSES = ['active', 'completed', 'failed', 'expired'] as const;
/** A multipart upload session's status (MultipartUploadStatusType). */
export type UploadStatus = (typeof UPLOAD_STATUSES)[number];

/** One chunk of a multipart upload: PUT (with its ETag) and reported, or not yet. */
export interface SimChunk {
  /** `pending` until reported (it may already be PUT), then `completed`. */
  status: 'pending' | 'completed' | 'failed';
  etag?: string;
  putAt?: number;
  reportedAt?: number;
  /** Successful PUTs of this chunk. */
  puts: number;
  /** Successful PUTs that came after the chunk was reported: work a resumer should not redo. */
  putsAfterReport: number;
}

/** A presigned chunk URL the simulator handed out: its token is the "signature". */
export interface SimChunkUrl {
  uploadId: string;
  chunkIndex: number;
  expiresAt: number;
  uses: number;
}

/** A multipart upload session (POST /assets/multipart-uploads): it reserved an asset at once. */
export interface SimUpload {
  id: string;
  assetId: string;
  filename: string;
  totalSize: number;
  chunkSize: number;
  totalChunks: number;
  status: UploadStatus;
  createdAt: number;
  updatedAt: number;
  expiresAt: number;
  seq: number;
  /** 1-based chunk index -> chunk. */
  chunks: Map<number, SimChunk>;
  /** Where the chunks' bytes are assembled (a file of `totalSize` bytes). */
  spoolPath: string;
}

/** The size chunk `index` (1-based) must have. */
export function chunkSizeOf(upload: Pick<SimUpload, 'totalSize' | 'chunkSize' | 'totalChunks'>, index: number): number {
  return index < upload.totalChunks ? upload.chunkSize : upload.totalSize - (upload.totalChunks - 1) * upload.chunkSize;
}
