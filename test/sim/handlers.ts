import type { Handler } from './api-context.js';
import { createAsset, deleteAsset, listAssets, listIndexedAssetsByAsset, retrieveAsset } from './api-assets.js';
import { createIndexedAsset, deleteIndexedAsset, listIndexedAssets, retrieveIndexedAsset, updateIndexedAsset } from './api-indexed-assets.js';
import { deleteVideo, listVideos, retrieveIndex, retrieveVideo, updateVideo } from './api-indexes.js';
import { createUpload, listIncompleteUploads, reportChunks, requestUrls, uploadStatus } from './api-multipart.js';
import { createTask, deleteTask, listTasks, retrieveTask } from './api-tasks.js';
import type { RouteId } from './routes.js';

export const HANDLERS: Record<RouteId, Handler> = {
  'GET /indexes/{index_id}': retrieveIndex,
  'GET /indexes/{index_id}/videos': listVideos,
  'GET /indexes/{index_id}/videos/{video_id}': retrieveVideo,
  'PATCH /indexes/{index_id}/videos/{video_id}': updateVideo,
  'DELETE /indexes/{index_id}/videos/{video_id}': deleteVideo,
  'POST /tasks': createTask,
  'GET /tasks': listTasks,
  'GET /tasks/{task_id}': retrieveTask,
  'DELETE /tasks/{task_id}': deleteTask,
  'POST /assets/multipart-uploads': createUpload,
  'GET /assets/multipart-uploads': listIncompleteUploads,
  'GET /assets/multipart-uploads/{upload_id}': uploadStatus,
  'POST /assets/multipart-uploads/{upload_id}': reportChunks,
  'POST /assets/multipart-uploads/{upload_id}/presigned-urls': requestUrls,
  'POST /assets': createAsset,
  'GET /assets': listAssets,
  'GET /assets/{asset_id}': retrieveAsset,
  'DELETE /assets/{asset_id}': deleteAsset,
  'GET /assets/{asset_id}/indexed-assets': listIndexedAssetsByAsset,
  'POST /indexes/{index_id}/indexed-assets': createIndexedAsset,
  'GET /indexes/{index_id}/indexed-assets': listIndexedAssets,
  'GET /indexes/{index_id}/indexed-assets/{indexed_asset_id}': retrieveIndexedAsset,
  'PATCH /indexes/{index_id}/indexed-assets/{indexed_asset_id}': updateIndexedAsset,
  'DELETE /indexes/{index_id}/indexed-assets/{indexed_asset_id}': deleteIndexedAsset,
};
