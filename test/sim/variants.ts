import type { ErrorShape } from './api-error.js';

export type MetadataFilterEncoding = 'bare' | 'bracket' | 'json';
/** Quota statuses seen or plausible for `usage_limit_exceeded` (undocumented). */
export type QuotaStatus = 429 | 400 | 402 | 403;

/**
 * Where the API's documentation, spec and SDKs disagree or are unconfirmed, the simulator plays
 * each reading; the default is the contract's primary reading.
 */
export interface ApiVariants {
  /** Status for an unknown index, task, video, asset or indexed asset (code `resource_not_exist` either way). */
  notFoundStatus: 404 | 400;
  /** `flat`: `{code, message}`; `nested`: `{error: {code, message, details}}`. */
  errorShape: ErrorShape;
  /** Adds `docs_url` to flat error bodies. */
  errorDocsUrl: boolean;
  /** The list-videos schema has no `user_metadata`; some deployments may send it anyway. */
  listVideosIncludesUserMetadata: boolean;
  /** How GET /tasks/{id} exposes why a task failed: not at all (contract), `error: {code, message}`, or `error_message`. */
  taskErrorField: 'none' | 'error' | 'error_message';
  createTaskStatus: 200 | 201;
  /** POST /assets: 201 (the SDK docs), or 200. */
  createAssetStatus: 201 | 200;
  /** POST /indexes/{id}/indexed-assets: 202 (the spec), or 200/201. */
  createIndexedAssetStatus: 202 | 200 | 201;
  /**
   * How GET /indexes/{id}/indexed-assets/{id} exposes why indexing failed: not at all (the SDK's
   * IndexedAssetDetailed has no such field), `error: {code, message}`, or `error_message`.
   */
  indexedAssetErrorField: 'none' | 'error' | 'error_message';
  deleteStatus: 204 | 200;
  updateVideoStatus: 204 | 200;
  /** User-metadata filter encodings the list endpoints honour (videos, indexed assets). */
  metadataFilterEncodings: readonly MetadataFilterEncoding[];
  /**
   * What a server that honours bare keys does with `user_metadata[k]=v` or `user_metadata=<JSON>`
   * when it does not honour that encoding: `dropped` (ignored: the filter is not applied, every
   * video is listed), or `literal` (read as a metadata key of that literal name, which no video
   * has: nothing is listed). Servers that do not read bare keys always drop what they do not honour.
   */
  unhonouredMetadataFilter: 'dropped' | 'literal';
  /**
   * The `updated_at` filter of GET /indexes/{id}/indexed-assets: every change counts (the field's
   * description), or only metadata updates (the SDK: "applies only to indexed assets updated using
   * the PUT method"): an indexed asset never updated so matches no `updated_at` filter.
   */
  indexedAssetUpdatedAt: 'any-change' | 'put-only';
  /** The file name a task (or an asset without `filename`) gets from a URL: its last path segment, decoded or as sent. */
  urlFilename: 'decoded' | 'encoded';
  /** Status of a `usage_limit_exceeded` refusal (the daily quota fault): undocumented. */
  quotaStatus: QuotaStatus;
  /** `strict`: date filters must be `YYYY-MM-DDTHH:mm:ssZ` (fractional seconds: 400 `parameter_invalid`). */
  timestamps: 'lenient' | 'strict';
  /** Multipart (docs/multipart-api.md, open points): POST /assets/multipart-uploads answers 201 (OpenAPI) or 200. */
  createUploadStatus: 201 | 200;
  /** Whether the asset a session reserved is listed by GET /assets before the upload completes (undocumented). */
  multipartAssetListed: 'at-create' | 'at-complete';
  /** Point 5: a chunk URL takes any number of PUTs until it expires, or one ("can only be used once"). */
  chunkUrlReuse: 'allowed' | 'once';
  /** Point 6: `upload_headers` absent, or returned and required on every chunk PUT (signed in). */
  uploadHeaders: 'none' | 'required';
  /** Point 9: the proof may be the ETag bare or quoted, or bare only. */
  proofForm: 'either' | 'bare';
  /** Point 7: the report that completes the upload carries `url`, or nothing tells but `total_completed` and GET status. */
  uploadCompletion: 'url' | 'no-url';
  /** Point 8: GET status's `uploaded_chunks` lists every chunk, or only the reported ones. */
  statusChunks: 'all' | 'reported';
  /** Point 10: a page past the last one of the multipart listings is empty, or 400. */
  pagingPastEnd: 'empty' | '400';
  /** Point 11: `count` over 50 on presigned-urls is refused (400), or clamped to 50. */
  presignedCountOver50: '400' | 'clamp';
  /** Create returns URLs for every chunk, or for the first 10 only ("may not include URLs for all chunks"). */
  initialUrls: 'all' | 'partial';
}

export const DEFAULT_VARIANTS: ApiVariants = {
  notFoundStatus: 404,
  errorShape: 'flat',
  errorDocsUrl: false,
  listVideosIncludesUserMetadata: false,
  taskErrorField: 'none',
  createTaskStatus: 200,
  createAssetStatus: 201,
  createIndexedAssetStatus: 202,
  indexedAssetErrorField: 'none',
  deleteStatus: 204,
  updateVideoStatus: 204,
  metadataFilterEncodings: ['bare', 'bracket', 'json'],
  unhonouredMetadataFilter: 'dropped',
  indexedAssetUpdatedAt: 'any-change',
  urlFilename: 'decoded',
  quotaStatus: 429,
  timestamps: 'lenient',
  createUploadStatus: 201,
  multipartAssetListed: 'at-create',
  chunkUrlReuse: 'allowed',
  uploadHeaders: 'none',
  proofForm: 'either',
  uploadCompletion: 'url',
  statusChunks: 'all',
  pagingPastEnd: 'empty',
  presignedCountOver50: '400',
  initialUrls: 'all',
};

/**
 * The readings of the points where the official sources disagree (shared/twelvelabs-api.md,
 * "Points where the official sources disagree"), by name: what `sim.variants.set` takes to play one.
 * The default variants honour every metadata encoding, which no single real server need do.
 */
export const API_READINGS = {
  'metadata-filter=brackets': { metadataFilterEncodings: ['bracket'] },
  'metadata-filter=json': { metadataFilterEncodings: ['json'] },
  'metadata-filter=bare': { metadataFilterEncodings: ['bare'], unhonouredMetadataFilter: 'literal' },
  'metadata-filter=bare/dropped': { metadataFilterEncodings: ['bare'] },
  'metadata-filter=ignored': { metadataFilterEncodings: [] },
  'indexed-asset-updated-at=put-only': { indexedAssetUpdatedAt: 'put-only' },
  'url-filename=encoded': { urlFilename: 'encoded' },
  'quota-status=400': { quotaStatus: 400 },
  'quota-status=402': { quotaStatus: 402 },
  'quota-status=403': { quotaStatus: 403 },
  'timestamps=strict': { timestamps: 'strict' },
  'create-upload-status=200': { createUploadStatus: 200 },
  'multipart-asset-listed=at-complete': { multipartAssetListed: 'at-complete' },
  'chunk-url=once': { chunkUrlReuse: 'once' },
  'upload-headers=required': { uploadHeaders: 'required' },
  'proof=bare': { proofForm: 'bare' },
  'upload-completion=no-url': { uploadCompletion: 'no-url' },
  'status-chunks=reported': { statusChunks: 'reported' },
  'paging-past-end=400': { pagingPastEnd: '400' },
  'presigned-count=clamp': { presignedCountOver50: 'clamp' },
  'initial-urls=partial': { initialUrls: 'partial' },
} as const satisfies Record<string, Partial<ApiVariants>>;

export type ApiReading = keyof typeof API_READINGS;

/** The readings of the multipart upload's open points (docs/multipart-api.md): a client must be right under each. */
export const MULTIPART_READINGS = [
  'create-upload-status=200', 'multipart-asset-listed=at-complete', 'chunk-url=once', 'upload-headers=required', 'proof=bare',
  'upload-completion=no-url', 'status-chunks=reported', 'paging-past-end=400', 'presigned-count=clamp', 'initial-urls=partial',
] as const satisfies readonly ApiReading[];

/** The variants of several readings at once (later ones win on a shared field). */
export function readings(...names: readonly ApiReading[]): Partial<ApiVariants> {
  return Object.assign({}, ...names.map((name) => API_READINGS[name])) as Partial<ApiVariants>;
}

/** A stable text of the variants a listing's answer depends on: part of its cache key. */
export function filterVariantsKey(v: Readonly<ApiVariants>): string {
  return `${v.metadataFilterEncodings.join(',')}/${v.unhonouredMetadataFilter}/${v.indexedAssetUpdatedAt}`;
}

/** Switchable API variants: `set` merges (an `undefined` value restores the default), `reset` restores all. */
export class VariantSwitch {
  #current: ApiVariants;

  constructor(initial: Partial<ApiVariants> = {}) {
    this.#current = merge(DEFAULT_VARIANTS, initial);
  }

  get current(): Readonly<ApiVariants> {
    return this.#current;
  }

  set(patch: Partial<ApiVariants>): void {
    this.#current = merge(this.#current, patch);
  }

  reset(): void {
    this.#current = { ...DEFAULT_VARIANTS };
  }
}

function merge(base: ApiVariants, patch: Partial<ApiVariants>): ApiVariants {
  const next: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    next[key] = value === undefined ? DEFAULT_VARIANTS[key as keyof ApiVariants] : value;
  }
  return next as unknown as ApiVariants;
}
