/** Wire types of the Twelve Labs v1.3 endpoints tlmigrate uses (see shared/twelvelabs-api.md). */

export type TaskStatus = 'uploading' | 'validating' | 'pending' | 'queued' | 'indexing' | 'ready' | 'failed';

export const TASK_STATUSES: readonly TaskStatus[] = ['uploading', 'validating', 'pending', 'queued', 'indexing', 'ready', 'failed'];

/** Values the platform accepts in user_metadata: scalars only. */
export type MetadataValue = string | number | boolean;
export type UserMetadata = Record<string, MetadataValue>;

export interface PageInfo {
  limit_per_page: number;
  page: number;
  total_page: number;
  total_results: number;
}

export interface Page<T> {
  data: T[];
  page_info: PageInfo;
}

export interface IndexInfo {
  _id: string;
  index_name: string;
  models?: Array<{ model_name: string; model_options?: string[] }>;
  video_count?: number;
  total_duration?: number;
  created_at?: string;
}

export interface VideoSystemMetadata {
  filename?: string;
  duration?: number;
  fps?: number;
  width?: number;
  height?: number;
  size?: number;
}

export interface IndexedVideo {
  _id: string;
  asset_id?: string;
  created_at?: string;
  updated_at?: string;
  indexed_at?: string;
  system_metadata?: VideoSystemMetadata;
  /** Absent from list answers in the documented schema; present on GET of one video. */
  user_metadata?: Record<string, unknown> | null;
}

export interface Task {
  _id: string;
  video_id?: string;
  index_id?: string;
  status: TaskStatus;
  created_at?: string;
  updated_at?: string;
  system_metadata?: { filename?: string; duration?: number; width?: number; height?: number };
  /** Not in the documented schema; read when a server sends it. */
  error?: { code?: string; message?: string } | string | null;
}

export interface CreateTaskRequest {
  indexId: string;
  videoUrl: string;
  enableVideoStream: boolean;
  userMetadata: UserMetadata;
}

export interface CreatedTask {
  taskId: string;
  videoId: string | undefined;
}

export interface ListVideosQuery {
  page?: number;
  pageLimit?: number;
  sortBy?: 'created_at' | 'updated_at';
  sortOption?: 'asc' | 'desc';
  filename?: string;
  userMetadata?: Record<string, MetadataValue>;
}

export interface ListTasksQuery {
  page?: number;
  pageLimit?: number;
  sortBy?: 'created_at' | 'updated_at';
  sortOption?: 'asc' | 'desc';
  indexId?: string;
  status?: TaskStatus[];
  filename?: string;
  createdAt?: string;
  updatedAt?: string;
}

export type AssetStatus = 'processing' | 'ready' | 'failed';

/** POST /assets and GET /assets/{id}: a file the platform fetched (method=url) or received. */
export interface Asset {
  _id: string;
  method?: string;
  status?: AssetStatus;
  filename?: string;
  file_type?: string;
  created_at?: string;
  user_metadata?: Record<string, unknown> | null;
  error?: { message?: string } | null;
}

export type IndexedAssetStatus = 'pending' | 'queued' | 'indexing' | 'ready' | 'failed';

export interface IndexedAsset {
  _id: string;
  asset_id?: string;
  status?: IndexedAssetStatus;
  created_at?: string;
  updated_at?: string;
  indexed_at?: string;
  system_metadata?: VideoSystemMetadata;
  user_metadata?: Record<string, unknown> | null;
  error?: { code?: string; message?: string } | string | null;
}

/** GET /assets/{asset_id}/indexed-assets: where an asset is indexed. */
export interface IndexedAssetSummary {
  _id: string;
  index?: { _id?: string; name?: string };
}

export interface CreateAssetRequest {
  url: string;
  filename: string;
  userMetadata: UserMetadata;
}

export interface CreateIndexedAssetRequest {
  indexId: string;
  assetId: string;
  enableVideoStream: boolean;
  userMetadata: UserMetadata;
}

export interface ListIndexedAssetsQuery {
  page?: number;
  pageLimit?: number;
  sortBy?: 'created_at' | 'updated_at';
  sortOption?: 'asc' | 'desc';
  status?: IndexedAssetStatus[];
  filename?: string;
  createdAt?: string;
  updatedAt?: string;
}

/** POST /assets/multipart-uploads (docs/multipart-api.md). */
export interface CreateUploadRequest {
  filename: string;
  totalSize: number;
  userMetadata: UserMetadata;
}

/** A presigned chunk URL: used without x-api-key, valid about an hour. */
export interface PresignedChunkUrl {
  chunk_index: number;
  url: string;
  expires_at?: string;
}

/** A multipart upload session: it reserved `asset_id`; the server chose `chunk_size`. */
export interface UploadSession {
  upload_id: string;
  asset_id?: string | undefined;
  upload_urls?: PresignedChunkUrl[];
  /** Headers to send with every chunk PUT, when the server gives any. */
  upload_headers?: Record<string, string>;
  chunk_size: number;
  total_chunks: number;
  expires_at?: string | undefined;
}

export interface CompletedChunk {
  chunk_index: number;
  /** The chunk PUT's ETag, without quotes. */
  proof: string;
  proof_type: 'etag';
  chunk_size: number;
}

export interface ChunkReport {
  /** Only once every chunk is reported (not sent at all under some readings). */
  url?: string;
  asset_id?: string;
  processed_chunks?: number;
  duplicate_chunks?: number;
  total_completed?: number;
}

export type UploadSessionStatus = 'active' | 'completed' | 'failed' | 'expired';

export interface UploadStatus {
  upload_id?: string;
  status?: UploadSessionStatus;
  uploaded_chunks?: Array<{ index: number; status?: 'completed' | 'pending' | 'failed' }>;
  chunks_completed?: number;
  page_info?: { page?: number; total_page?: number };
}

/** An entry of GET /assets/multipart-uploads: no asset id, no file name. */
export interface IncompleteUpload {
  upload_id: string;
  status?: UploadSessionStatus;
  total_size: number;
  chunk_size: number;
  total_chunks: number;
  created_at?: string;
  expires_at?: string;
}
