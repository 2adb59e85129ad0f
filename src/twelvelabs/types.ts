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
