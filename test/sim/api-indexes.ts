import { invalid } from './api-error.js';
import { param } from './api-context.js';
import { parseJsonObject } from './api-form.js';
import type { Handler, Reply } from './api-context.js';
import type { UserMetadata } from './model.js';
import {
  inRange, listingKey, metadataMatches, pageOf, parseInstantRange, parseMetadataFilters, parsePaging, parseRange, parseSorting, sortItems,
} from './query.js';
import { isMetadataValue } from './validate.js';
import { filterVariantsKey } from './variants.js';
import { indexToWire, videoToWire } from './wire.js';

export const RANGE_FIELDS = ['duration', 'fps', 'width', 'height', 'size'] as const;
const LIST_VIDEO_PARAMS = new Set([
  'page', 'page_limit', 'sort_by', 'sort_option', 'filename', ...RANGE_FIELDS, 'created_at', 'updated_at', 'user_metadata',
]);

/** GET /indexes/{index_id} */
export const retrieveIndex: Handler = (req, ctx) => {
  const index = ctx.store.requireIndex(param(req, 'index_id'), ctx.variants().notFoundStatus);
  return { status: 200, json: indexToWire(index, ctx.store.videosOf(index.id)) };
};

/** GET /indexes/{index_id}/videos: filters, sorting, paging; no user_metadata unless the variant says so. */
export const listVideos: Handler = (req, ctx) => {
  const variants = ctx.variants();
  const index = ctx.store.requireIndex(param(req, 'index_id'), variants.notFoundStatus);
  const q = req.query;
  const paging = parsePaging(q);
  const sorting = parseSorting(q);
  const filename = q.get('filename');
  const ranges = RANGE_FIELDS.map((field) => [field, parseRange(q, field)] as const);
  const created = parseInstantRange(q, 'created_at', variants.timestamps);
  const updated = parseInstantRange(q, 'updated_at', variants.timestamps);
  const metadata = parseMetadataFilters(q, LIST_VIDEO_PARAMS, variants);

  const key = `videos/${index.id}?${listingKey(q)}:${filterVariantsKey(variants)}`;
  const matching = ctx.store.memo(key, () => sortItems(ctx.store.videosOf(index.id), sorting).filter((video) =>
    (filename === null || video.meta.filename === filename)
    && ranges.every(([field, range]) => inRange(video.meta[field], range))
    && inRange(video.createdAt, created)
    && inRange(video.updatedAt, updated)
    && metadataMatches(video.userMetadata, metadata)));
  const { items, pageInfo } = pageOf(matching, paging);
  const data = items.map((v) => videoToWire(v, { userMetadata: variants.listVideosIncludesUserMetadata }));
  return { status: 200, json: { data, page_info: pageInfo } };
};

/** GET /indexes/{index_id}/videos/{video_id}: includes user_metadata, and hls when streaming. */
export const retrieveVideo: Handler = (req, ctx) => {
  const video = ctx.store.requireVideo(param(req, 'index_id'), param(req, 'video_id'), ctx.variants().notFoundStatus);
  return { status: 200, json: videoToWire(video, { userMetadata: true, baseOrigin: ctx.origin() }) };
};

/** PATCH /indexes/{index_id}/videos/{video_id}: merges user_metadata; a null value deletes the key. */
export const updateVideo: Handler = (req, ctx): Reply => {
  const variants = ctx.variants();
  const video = ctx.store.requireVideo(param(req, 'index_id'), param(req, 'video_id'), variants.notFoundStatus);
  video.userMetadata = patchUserMetadata(video.userMetadata, req.body);
  video.updatedAt = ctx.clock.now();
  // An indexed asset's video is the indexed asset: keep the two views equal.
  const indexed = ctx.store.indexedAssets.get(video.id);
  if (indexed) {
    indexed.userMetadata = { ...video.userMetadata };
    indexed.updatedAt = video.updatedAt;
    indexed.putAt = video.updatedAt;
  }
  ctx.store.touch();
  return variants.updateVideoStatus === 200
    ? { status: 200, json: videoToWire(video, { userMetadata: true, baseOrigin: ctx.origin() }) }
    : { status: 204 };
};

/** DELETE /indexes/{index_id}/videos/{video_id}: afterwards its task may be deleted; an indexed asset's video takes the indexed asset with it. */
export const deleteVideo: Handler = (req, ctx): Reply => {
  const variants = ctx.variants();
  const video = ctx.store.requireVideo(param(req, 'index_id'), param(req, 'video_id'), variants.notFoundStatus);
  ctx.store.removeVideo(video.id);
  if (ctx.store.indexedAssets.has(video.id)) ctx.store.removeIndexedAsset(video.id);
  const task = video.taskId === undefined ? undefined : ctx.store.tasks.get(video.taskId);
  if (task) {
    task.videoDeleted = true;
    ctx.store.touch();
  }
  return { status: variants.deleteStatus };
};

/** Applies a `{"user_metadata": {...}}` PATCH body: merges keys, a null value deletes one. */
export function patchUserMetadata(current: UserMetadata, body: Buffer): UserMetadata {
  const metadata = parseJsonObject(body).user_metadata;
  if (metadata === undefined || metadata === null) return current;
  if (typeof metadata !== 'object' || Array.isArray(metadata)) throw invalid('The user_metadata parameter must be an object.');
  const next: UserMetadata = { ...current };
  for (const [key, value] of Object.entries(metadata)) {
    if (value === null) delete next[key];
    else if (isMetadataValue(value)) next[key] = value;
    else throw invalid(`The value of user_metadata.${key} must be a string, an integer, a float, a boolean or null.`);
  }
  return next;
}
