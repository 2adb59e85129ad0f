import { ApiFailure, invalid, notProvided } from './api-error.js';
import { param } from './api-context.js';
import type { Handler, Reply } from './api-context.js';
import { booleanField, formFields, text, urlField } from './api-form.js';
import { ASSET_TYPES, assetTypeOf, mimeTypeOf, newId } from './model.js';
import type { AssetType, SimAsset } from './model.js';
import { listingKey, pageOf, parsePaging, sortItems } from './query.js';
import { parseUserMetadata } from './validate.js';
import { listedYet } from './api-multipart.js';
import { assetToWire, indexedAssetSummaryToWire } from './wire.js';

const ASSET_FIELDS = new Set(['method', 'file', 'url', 'filename', 'enable_hls', 'enable_thumbnail', 'user_metadata']);
const NEWEST_FIRST = { by: 'created_at', desc: true } as const;

/** POST /assets: a multipart upload by URL (`method=url`) or by file (`method=direct`); the asset starts `processing`. */
export const createAsset: Handler = async (req, ctx) => {
  const fields = await formFields(req, ASSET_FIELDS);
  const method = text(fields, 'method');
  if (method === undefined || method === '') throw notProvided('method');
  if (method !== 'url' && method !== 'direct') throw invalid('The method parameter must be direct or url.');
  const urlPart = fields.get('url');
  const filePart = fields.get('file');

  let source: SimAsset['source'];
  let derivedName: string;
  if (method === 'url') {
    if (!urlPart) throw notProvided('url');
    if (filePart) throw invalid('The file parameter cannot be used with the url method.');
    const { url, path, lastSegment, rawLastSegment } = urlField(urlPart, 'url');
    source = { kind: 'url', url, path };
    derivedName = ctx.variants().urlFilename === 'encoded' ? rawLastSegment : lastSegment;
  } else {
    if (!filePart) throw notProvided('file');
    if (urlPart) throw invalid('The url parameter cannot be used with the direct method.');
    if (filePart.kind !== 'file') throw invalid('The file parameter must be a file.');
    source = { kind: 'file', filename: filePart.filename, bytes: filePart.bytes };
    derivedName = filePart.filename;
  }
  const given = text(fields, 'filename');
  const filename = given !== undefined && given !== '' ? given : derivedName || 'asset';
  const enableHls = booleanField(fields, 'enable_hls', false);
  const enableThumbnail = booleanField(fields, 'enable_thumbnail', false);
  const metadataField = text(fields, 'user_metadata');
  const userMetadata = metadataField === undefined ? undefined : parseUserMetadata(metadataField);

  const now = ctx.clock.now();
  const asset: SimAsset = {
    id: newId(),
    method,
    status: 'processing',
    createdAt: now,
    updatedAt: now,
    seq: ctx.store.nextSeq(),
    filename,
    fileType: mimeTypeOf(filename),
    source,
    ...(userMetadata !== undefined ? { userMetadata } : {}),
    enableHls,
    enableThumbnail,
  };
  ctx.store.putAsset(asset);
  ctx.onAssetCreated(asset);
  const json = assetToWire(asset);
  ctx.lifecycle.startAsset(asset);
  return { status: ctx.variants().createAssetStatus, json };
};

/** GET /assets: newest first; `asset_ids` and `asset_types` repeatable, `filename` a case-insensitive substring. */
export const listAssets: Handler = (req, ctx) => {
  const q = req.query;
  const paging = parsePaging(q);
  const ids = new Set(q.getAll('asset_ids').flatMap((v) => v.split(',')).filter((v) => v !== ''));
  const types = q.getAll('asset_types').flatMap((v) => v.split(',')).filter((v) => v !== '');
  for (const type of types) {
    if (!(ASSET_TYPES as readonly string[]).includes(type)) throw invalid(`The asset_types parameter must be one of ${ASSET_TYPES.join(', ')}.`);
  }
  const filename = q.get('filename')?.toLowerCase();
  const now = ctx.clock.now();
  const lag = ctx.faults.assetVisibilityLagMs;

  const key = `assets?${listingKey(q)}${lag > 0 ? `@${now}` : ''}/${ctx.variants().multipartAssetListed}`;
  const matching = ctx.store.memo(key, () => sortItems([...ctx.store.assets.values()], NEWEST_FIRST).filter((asset) =>
    asset.createdAt + lag <= now
    && listedYet(asset, ctx)
    && (ids.size === 0 || ids.has(asset.id))
    && (types.length === 0 || types.includes(assetTypeOf(asset.fileType) as AssetType))
    && (filename === undefined || asset.filename.toLowerCase().includes(filename))));
  const { items, pageInfo } = pageOf(matching, paging);
  return { status: 200, json: { data: items.map((a) => assetToWire(a, { baseOrigin: ctx.origin() })), page_info: pageInfo } };
};

/** GET /assets/{asset_id}: status, size and duration once ready, `error` once failed. */
export const retrieveAsset: Handler = (req, ctx) => {
  const asset = ctx.store.requireAsset(param(req, 'asset_id'), ctx.variants().notFoundStatus);
  return { status: 200, json: assetToWire(asset, { baseOrigin: ctx.origin() }) };
};

/** DELETE /assets/{asset_id}: 409 while indexed assets reference it, unless `force=true`. */
export const deleteAsset: Handler = (req, ctx): Reply => {
  const variants = ctx.variants();
  const asset = ctx.store.requireAsset(param(req, 'asset_id'), variants.notFoundStatus);
  const force = req.query.get('force');
  if (force !== null && force !== 'true' && force !== 'false') throw invalid('The force parameter must be true or false.');
  const references = ctx.store.indexedAssetsOf(asset.id);
  if (references.length > 0 && force !== 'true') {
    throw new ApiFailure(409, 'asset_in_use', `The asset ${asset.id} is referenced by ${references.length} indexed asset(s): ${references.map((r) => r.id).join(', ')}. Delete them first, or set force=true.`);
  }
  ctx.store.removeAsset(asset.id);
  return { status: variants.deleteStatus };
};

/** GET /assets/{asset_id}/indexed-assets: the indexed assets referencing the asset, in every index, newest first. */
export const listIndexedAssetsByAsset: Handler = (req, ctx) => {
  const asset = ctx.store.requireAsset(param(req, 'asset_id'), ctx.variants().notFoundStatus);
  const paging = parsePaging(req.query);
  const now = ctx.clock.now();
  const lag = ctx.faults.indexedAssetVisibilityLagMs;
  const matching = sortItems(ctx.store.indexedAssetsOf(asset.id), NEWEST_FIRST).filter((ia) => ia.createdAt + lag <= now);
  const { items, pageInfo } = pageOf(matching, paging);
  const data = items.map((ia) => indexedAssetSummaryToWire(ia, ctx.store.indexes.get(ia.indexId)));
  return { status: 200, json: { data, page_info: pageInfo } };
};
