import { invalid } from './api-error.js';
import { param } from './api-context.js';
import type { Handler, Reply } from './api-context.js';
import type { UserMetadata } from './model.js';
import {
  inRange, listingKey, metadataMatches, pageOf, parseInstantRange, parseMetadataFilters, parsePaging, parseRange, parseSorting, sortItems,
} from './query.js';
import { isMetadataValue } from './validate.js';
import { indexToWire, videoToWire } from './wire.js';

const RANGE_FIELDS = ['duration', 'fps', 'width', 'height', 'size'] as const;
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
  const created = parseInstantRange(q, 'created_at');
  const updated = parseInstantRange(q, 'updated_at');
  const metadata = parseMetadataFilters(q, LIST_VIDEO_PARAMS, variants.metadataFilterEncodings);

  const key = `videos/${index.id}?${listingKey(q)}:${variants.metadataFilterEncodings.join(',')}`;
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
  const patch = parseJsonObject(req.body);
  const metadata = patch.user_metadata;
  if (metadata !== undefined && metadata !== null) {
    if (typeof metadata !== 'object' || Array.isArray(metadata)) throw invalid('The user_metadata parameter must be an object.');
    const next: UserMetadata = { ...video.userMetadata };
    for (const [key, value] of Object.entries(metadata)) {
      if (value === null) delete next[key];
      else if (isMetadataValue(value)) next[key] = value;
      else throw invalid(`The value of user_metadata.${key} must be a string, an integer, a float, a boolean or null.`);
    }
    video.userMetadata = next;
  }
  video.updatedAt = ctx.clock.now();
  ctx.store.touch();
  return variants.updateVideoStatus === 200
    ? { status: 200, json: videoToWire(video, { userMetadata: true, baseOrigin: ctx.origin() }) }
    : { status: 204 };
};

/** DELETE /indexes/{index_id}/videos/{video_id}: afterwards its task may be deleted. */
export const deleteVideo: Handler = (req, ctx): Reply => {
  const variants = ctx.variants();
  const video = ctx.store.requireVideo(param(req, 'index_id'), param(req, 'video_id'), variants.notFoundStatus);
  ctx.store.removeVideo(video.id);
  const task = ctx.store.tasks.get(video.taskId);
  if (task) {
    task.videoDeleted = true;
    ctx.store.touch();
  }
  return { status: variants.deleteStatus };
};

function parseJsonObject(body: Buffer): Record<string, unknown> {
  if (body.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw invalid('The request body must be a JSON object.');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw invalid('The request body must be a JSON object.');
  return parsed as Record<string, unknown>;
}
