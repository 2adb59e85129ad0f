import { ApiFailure, invalid, notProvided } from './api-error.js';
import { param } from './api-context.js';
import type { Handler, Reply } from './api-context.js';
import { parseJsonObject } from './api-form.js';
import { RANGE_FIELDS, patchUserMetadata } from './api-indexes.js';
import { INDEXED_ASSET_STATUSES, newId } from './model.js';
import type { IndexedAssetStatus, SimIndexedAsset } from './model.js';
import {
  inRange, listingKey, metadataMatches, pageOf, parseInstantRange, parseMetadataFilters, parsePaging, parseRange, parseSorting, sortItems,
} from './query.js';
import { userMetadataObject } from './validate.js';
import { filterVariantsKey } from './variants.js';
import { indexedAssetToWire } from './wire.js';

const CREATE_FIELDS = new Set(['asset_id', 'enable_video_stream', 'user_metadata']);
const LIST_PARAMS = new Set([
  'page', 'page_limit', 'sort_by', 'sort_option', 'status', 'filename', ...RANGE_FIELDS, 'created_at', 'updated_at', 'user_metadata',
]);

/** POST /indexes/{index_id}/indexed-assets: JSON `{asset_id, enable_video_stream?, user_metadata?}`; the asset must be ready. */
export const createIndexedAsset: Handler = (req, ctx) => {
  const variants = ctx.variants();
  const index = ctx.store.requireIndex(param(req, 'index_id'), variants.notFoundStatus);
  const body = parseJsonObject(req.body);
  for (const key of Object.keys(body)) {
    if (!CREATE_FIELDS.has(key)) throw new ApiFailure(400, 'parameter_unknown', `The ${key} parameter is not supported.`);
  }
  const assetId = body.asset_id;
  if (assetId === undefined || assetId === null || assetId === '') throw notProvided('asset_id');
  if (typeof assetId !== 'string') throw invalid('The asset_id parameter must be a string.');
  const stream = body.enable_video_stream ?? true;
  if (typeof stream !== 'boolean') throw invalid('The enable_video_stream parameter must be a boolean.');
  const userMetadata = body.user_metadata === undefined || body.user_metadata === null ? {} : userMetadataObject(body.user_metadata);

  const asset = ctx.store.requireAsset(assetId, variants.notFoundStatus);
  if (asset.status !== 'ready' || !asset.meta) {
    throw new ApiFailure(400, 'asset_not_ready', `The asset ${asset.id} has the status ${asset.status}. Only assets with the status ready can be indexed.`);
  }

  const now = ctx.clock.now();
  const indexed: SimIndexedAsset = {
    id: newId(),
    assetId: asset.id,
    indexId: index.id,
    status: 'pending',
    createdAt: now,
    updatedAt: now,
    seq: ctx.store.nextSeq(),
    meta: { ...asset.meta, filename: asset.filename },
    enableVideoStream: stream,
    userMetadata,
  };
  ctx.store.putIndexedAsset(indexed);
  ctx.onIndexedAssetCreated(indexed);
  ctx.lifecycle.startIndexedAsset(indexed);
  return { status: variants.createIndexedAssetStatus, json: { _id: indexed.id, asset_id: asset.id } };
};

/** GET /indexes/{index_id}/indexed-assets: filters like the video list, plus repeatable `status`. */
export const listIndexedAssets: Handler = (req, ctx) => {
  const variants = ctx.variants();
  const index = ctx.store.requireIndex(param(req, 'index_id'), variants.notFoundStatus);
  const q = req.query;
  const paging = parsePaging(q);
  const sorting = parseSorting(q);
  const statuses = q.getAll('status');
  for (const status of statuses) {
    if (!(INDEXED_ASSET_STATUSES as readonly string[]).includes(status)) {
      throw invalid(`The status parameter must be one of ${INDEXED_ASSET_STATUSES.join(', ')}.`);
    }
  }
  const filename = q.get('filename');
  const ranges = RANGE_FIELDS.map((field) => [field, parseRange(q, field)] as const);
  const created = parseInstantRange(q, 'created_at', variants.timestamps);
  const updated = parseInstantRange(q, 'updated_at', variants.timestamps);
  const metadata = parseMetadataFilters(q, LIST_PARAMS, variants);
  const now = ctx.clock.now();
  const lag = ctx.faults.indexedAssetVisibilityLagMs;
  // The SDK's reading: the filter sees only metadata updates (PUT), not status changes.
  const updatedAtOf = (ia: SimIndexedAsset) => (variants.indexedAssetUpdatedAt === 'put-only' ? ia.putAt : ia.updatedAt);

  const key = `indexed-assets/${index.id}?${listingKey(q)}:${filterVariantsKey(variants)}${lag > 0 ? `@${now}` : ''}`;
  const matching = ctx.store.memo(key, () => sortItems([...ctx.store.indexedAssets.values()], sorting).filter((ia) =>
    ia.indexId === index.id
    && ia.createdAt + lag <= now
    && (statuses.length === 0 || statuses.includes(ia.status as IndexedAssetStatus))
    && (filename === null || ia.meta.filename === filename)
    && ranges.every(([field, range]) => inRange(ia.meta[field], range))
    && inRange(ia.createdAt, created)
    && inRange(updatedAtOf(ia), updated)
    && metadataMatches(ia.userMetadata, metadata)));
  const { items, pageInfo } = pageOf(matching, paging);
  return { status: 200, json: { data: items.map((ia) => indexedAssetToWire(ia)), page_info: pageInfo } };
};

/** GET /indexes/{index_id}/indexed-assets/{indexed_asset_id}: with user_metadata, hls, and the failure per variant. */
export const retrieveIndexedAsset: Handler = (req, ctx) => {
  const variants = ctx.variants();
  const indexed = ctx.store.requireIndexedAsset(param(req, 'index_id'), param(req, 'indexed_asset_id'), variants.notFoundStatus);
  return { status: 200, json: indexedAssetToWire(indexed, { baseOrigin: ctx.origin(), errorField: variants.indexedAssetErrorField }) };
};

/** PATCH /indexes/{index_id}/indexed-assets/{indexed_asset_id}: merges user_metadata (null deletes a key), video included. */
export const updateIndexedAsset: Handler = (req, ctx): Reply => {
  const variants = ctx.variants();
  const indexed = ctx.store.requireIndexedAsset(param(req, 'index_id'), param(req, 'indexed_asset_id'), variants.notFoundStatus);
  indexed.userMetadata = patchUserMetadata(indexed.userMetadata, req.body);
  indexed.updatedAt = ctx.clock.now();
  indexed.putAt = indexed.updatedAt;
  const video = ctx.store.videos.get(indexed.id);
  if (video) {
    video.userMetadata = { ...indexed.userMetadata };
    video.updatedAt = indexed.updatedAt;
  }
  ctx.store.touch();
  return variants.updateVideoStatus === 200
    ? { status: 200, json: indexedAssetToWire(indexed, { baseOrigin: ctx.origin(), errorField: variants.indexedAssetErrorField }) }
    : { status: 204 };
};

/** DELETE /indexes/{index_id}/indexed-assets/{indexed_asset_id}: in any status; its video goes with it. */
export const deleteIndexedAsset: Handler = (req, ctx): Reply => {
  const variants = ctx.variants();
  const indexed = ctx.store.requireIndexedAsset(param(req, 'index_id'), param(req, 'indexed_asset_id'), variants.notFoundStatus);
  ctx.store.removeIndexedAsset(indexed.id);
  return { status: variants.deleteStatus };
};
