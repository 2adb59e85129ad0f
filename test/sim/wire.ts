import { iso } from './model.js';
import type { SimAsset, SimIndex, SimIndexedAsset, SimTask, SimVideo } from './model.js';
import type { ApiVariants } from './variants.js';

// JSON shapes of the v1.3 wire format, as the official SDK's serializers read them.

/** An index as GET /indexes/{id} returns it. */
export function indexToWire(index: SimIndex, videos: readonly SimVideo[]): Record<string, unknown> {
  return {
    _id: index.id,
    index_name: index.name,
    models: index.models.map((m) => ({ model_name: m.name, model_options: m.options })),
    video_count: videos.length,
    total_duration: videos.reduce((sum, v) => sum + v.meta.duration, 0),
    created_at: iso(index.createdAt),
    updated_at: iso(index.updatedAt),
    ...(index.expiresAt !== undefined ? { expires_at: iso(index.expiresAt) } : {}),
  };
}

/** A task as GET /tasks lists it; with `detail`, as GET /tasks/{id} returns it (hls, error field variant). */
export function taskToWire(
  task: SimTask,
  detail?: { baseOrigin: string; errorField: ApiVariants['taskErrorField'] },
): Record<string, unknown> {
  const wire: Record<string, unknown> = {
    _id: task.id,
    video_id: task.videoId,
    created_at: iso(task.createdAt),
    updated_at: iso(task.updatedAt),
    status: task.status,
    index_id: task.indexId,
    system_metadata: {
      filename: task.filename,
      ...(task.meta ? { duration: task.meta.duration, height: task.meta.height, width: task.meta.width } : {}),
    },
  };
  if (!detail) return wire;
  if (task.enableVideoStream) {
    wire.hls = hls(detail.baseOrigin, task.videoId, task.status === 'ready' ? 'COMPLETE' : task.status === 'failed' ? 'ERROR' : 'PROCESSING', task.updatedAt);
  }
  if (task.failure && detail.errorField === 'error') wire.error = { code: task.failure.code, message: task.failure.message };
  if (task.failure && detail.errorField === 'error_message') wire.error_message = task.failure.message;
  return wire;
}

/** A video as listed; `userMetadata` and `baseOrigin` (hls) for the single-video shape. */
export function videoToWire(
  video: SimVideo,
  detail: { userMetadata: boolean; baseOrigin?: string },
): Record<string, unknown> {
  const wire: Record<string, unknown> = {
    _id: video.id,
    ...(video.assetId !== undefined ? { asset_id: video.assetId } : {}),
    created_at: iso(video.createdAt),
    updated_at: iso(video.updatedAt),
    indexed_at: iso(video.indexedAt),
    system_metadata: {
      filename: video.meta.filename,
      duration: video.meta.duration,
      fps: video.meta.fps,
      width: video.meta.width,
      height: video.meta.height,
      size: video.meta.size,
    },
  };
  if (detail.userMetadata) wire.user_metadata = { ...video.userMetadata };
  if (detail.baseOrigin !== undefined && video.streaming) wire.hls = hls(detail.baseOrigin, video.id, 'COMPLETE', video.indexedAt);
  return wire;
}

/** An asset as POST /assets returns it; with `detail`, as GET /assets and GET /assets/{id} do (AssetDetail). */
export function assetToWire(asset: SimAsset, detail?: { baseOrigin: string }): Record<string, unknown> {
  const wire: Record<string, unknown> = {
    _id: asset.id,
    method: asset.method,
    status: asset.status,
    filename: asset.filename,
    file_type: asset.fileType,
    created_at: iso(asset.createdAt),
    ...(asset.userMetadata !== undefined ? { user_metadata: { ...asset.userMetadata } } : {}),
  };
  if (!detail) return wire;
  const ready = asset.status === 'ready';
  const progress = ready ? 'ready' : asset.status === 'failed' ? 'error' : 'processing';
  if (asset.enableHls) {
    wire.hls = { status: progress, ...(ready ? { manifest_url: `${detail.baseOrigin}/hls/${asset.id}/stream.m3u8` } : {}) };
  }
  if (asset.enableThumbnail) {
    wire.thumbnail = { status: progress, ...(ready ? { representative_url: `${detail.baseOrigin}/thumbnails/${asset.id}.jpg` } : {}) };
  }
  if (ready && asset.meta) {
    const meta = asset.meta;
    wire.size = meta.size;
    wire.duration = meta.duration;
    wire.technical_metadata = {
      file_size_bytes: meta.size,
      file_mime_type: asset.fileType,
      video_width: meta.width,
      video_height: meta.height,
      video_fps: meta.fps,
      video_duration_seconds: meta.duration,
      total_video_streams: 1,
    };
  }
  if (asset.failure) wire.error = { message: asset.failure.message };
  return wire;
}

/**
 * An indexed asset as GET /indexes/{id}/indexed-assets lists it; with `detail`, as GET
 * /indexes/{id}/indexed-assets/{id} returns it (user_metadata, hls, the error field variant).
 */
export function indexedAssetToWire(
  indexed: SimIndexedAsset,
  detail?: { baseOrigin: string; errorField: ApiVariants['indexedAssetErrorField'] },
): Record<string, unknown> {
  const wire: Record<string, unknown> = {
    _id: indexed.id,
    asset_id: indexed.assetId,
    created_at: iso(indexed.createdAt),
    updated_at: iso(indexed.updatedAt),
    ...(indexed.indexedAt !== undefined ? { indexed_at: iso(indexed.indexedAt) } : {}),
    status: indexed.status,
    system_metadata: {
      filename: indexed.meta.filename,
      duration: indexed.meta.duration,
      fps: indexed.meta.fps,
      width: indexed.meta.width,
      height: indexed.meta.height,
      size: indexed.meta.size,
    },
  };
  if (!detail) return wire;
  wire.user_metadata = { ...indexed.userMetadata };
  if (indexed.enableVideoStream) {
    const status = indexed.status === 'ready' ? 'COMPLETE' : indexed.status === 'failed' ? 'ERROR' : 'PROCESSING';
    wire.hls = hls(detail.baseOrigin, indexed.id, status, indexed.updatedAt);
  }
  if (indexed.failure && detail.errorField === 'error') wire.error = { code: indexed.failure.code, message: indexed.failure.message };
  if (indexed.failure && detail.errorField === 'error_message') wire.error_message = indexed.failure.message;
  return wire;
}

/** An entry of GET /assets/{id}/indexed-assets (IndexedAssetSummary). */
export function indexedAssetSummaryToWire(indexed: SimIndexedAsset, index: SimIndex | undefined): Record<string, unknown> {
  return { _id: indexed.id, index: { _id: indexed.indexId, ...(index ? { name: index.name } : {}) } };
}

function hls(baseOrigin: string, videoId: string, status: string, updatedAt: number): Record<string, unknown> {
  return {
    video_url: `${baseOrigin}/hls/${videoId}/stream.m3u8`,
    thumbnail_urls: [`${baseOrigin}/hls/${videoId}/thumbnail.jpg`],
    status,
    updated_at: iso(updatedAt),
  };
}
