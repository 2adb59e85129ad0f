import type { ErrorShape } from './api-error.js';

export type MetadataFilterEncoding = 'bare' | 'bracket' | 'json';

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
  /** User-metadata filter encodings the list-videos endpoint honours; the others are silently ignored. */
  metadataFilterEncodings: readonly MetadataFilterEncoding[];
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
};

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
