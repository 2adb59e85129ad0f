import { invalid } from './api-error.js';
import type { UserMetadata } from './model.js';
import type { ApiVariants } from './variants.js';

export const MAX_PAGE_LIMIT = 50;
const DEFAULT_PAGE_LIMIT = 10;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
/** The documented form, `YYYY-MM-DDTHH:mm:ssZ`: what a strict server accepts. */
const WHOLE_SECONDS_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

export interface Paging {
  page: number;
  limit: number;
}

export interface Sorting {
  by: 'created_at' | 'updated_at';
  desc: boolean;
}

export interface Sortable {
  createdAt: number;
  updatedAt: number;
  seq: number;
}

export interface PageInfo {
  limit_per_page: number;
  page: number;
  total_page: number;
  total_results: number;
}

/** `page` (default 1) and `page_limit` (default 10, at most 50). */
export function parsePaging(query: URLSearchParams): Paging {
  const page = positiveInt(query, 'page') ?? 1;
  const limit = positiveInt(query, 'page_limit') ?? DEFAULT_PAGE_LIMIT;
  if (limit > MAX_PAGE_LIMIT) throw invalid(`The page_limit parameter must be between 1 and ${MAX_PAGE_LIMIT}.`);
  return { page, limit };
}

/** `sort_by` (created_at | updated_at) and `sort_option` (desc by default). */
export function parseSorting(query: URLSearchParams): Sorting {
  const by = query.get('sort_by') ?? 'created_at';
  if (by !== 'created_at' && by !== 'updated_at') throw invalid('The sort_by parameter must be created_at or updated_at.');
  const option = query.get('sort_option') ?? 'desc';
  if (option !== 'asc' && option !== 'desc') throw invalid('The sort_option parameter must be asc or desc.');
  return { by, desc: option === 'desc' };
}

/** Sorts by the requested timestamp, ties in creation order. */
export function sortItems<T extends Sortable>(items: readonly T[], sorting: Sorting): T[] {
  const key = sorting.by === 'created_at' ? 'createdAt' : 'updatedAt';
  const sign = sorting.desc ? -1 : 1;
  return [...items].sort((a, b) => sign * (a[key] - b[key] || a.seq - b.seq));
}

/** Slices one page of sorted items and describes the paging; past the end gives no items. */
export function pageOf<T>(sorted: readonly T[], paging: Paging): { items: T[]; pageInfo: PageInfo } {
  const start = (paging.page - 1) * paging.limit;
  return {
    items: sorted.slice(start, start + paging.limit),
    pageInfo: {
      limit_per_page: paging.limit,
      page: paging.page,
      total_page: Math.ceil(sorted.length / paging.limit),
      total_results: sorted.length,
    },
  };
}

/** The query minus paging, in a stable order: the cache key of a listing. */
export function listingKey(query: URLSearchParams): string {
  return [...query].filter(([key]) => key !== 'page' && key !== 'page_limit').map(([k, v]) => `${k}=${v}`).sort().join('&');
}

/** Parses an RFC 3339 instant query parameter to epoch ms; `strict` takes only the documented `YYYY-MM-DDTHH:mm:ssZ`. */
export function parseInstant(query: URLSearchParams, name: string, timestamps: ApiVariants['timestamps'] = 'lenient'): number | undefined {
  const raw = query.get(name);
  if (raw === null) return undefined;
  const ms = Date.parse(raw);
  if (!RFC3339.test(raw) || Number.isNaN(ms)) throw invalid(`The ${name} parameter must be a date and time in the RFC 3339 format.`);
  if (timestamps === 'strict' && !WHOLE_SECONDS_UTC.test(raw)) throw invalid(`The ${name} parameter must be a date and time in the format YYYY-MM-DDTHH:mm:ssZ.`);
  return ms;
}

export interface RangeFilter {
  eq?: number;
  gte?: number;
  lte?: number;
}

/** Accepts `name=N` (exact), `name[gte]=N` and `name[lte]=N`. */
export function parseRange(query: URLSearchParams, name: string): RangeFilter | undefined {
  const filter: RangeFilter = {};
  const eq = number(query, name);
  const gte = number(query, `${name}[gte]`);
  const lte = number(query, `${name}[lte]`);
  if (eq !== undefined) filter.eq = eq;
  if (gte !== undefined) filter.gte = gte;
  if (lte !== undefined) filter.lte = lte;
  return Object.keys(filter).length > 0 ? filter : undefined;
}

/** True when `value` satisfies every bound of the filter (no filter: always). */
export function inRange(value: number | undefined, filter: RangeFilter | undefined): boolean {
  if (!filter) return true;
  if (value === undefined) return false;
  return (filter.eq === undefined || value === filter.eq)
    && (filter.gte === undefined || value >= filter.gte)
    && (filter.lte === undefined || value <= filter.lte);
}

/** An instant range: bare `name` means "at or after", as the API reference says; brackets give bounds. */
export function parseInstantRange(query: URLSearchParams, name: string, timestamps: ApiVariants['timestamps'] = 'lenient'): RangeFilter | undefined {
  const filter: RangeFilter = {};
  const after = parseInstant(query, name, timestamps);
  const gte = parseInstant(query, `${name}[gte]`, timestamps);
  const lte = parseInstant(query, `${name}[lte]`, timestamps);
  if (after !== undefined || gte !== undefined) filter.gte = Math.max(after ?? -Infinity, gte ?? -Infinity);
  if (lte !== undefined) filter.lte = lte;
  return Object.keys(filter).length > 0 ? filter : undefined;
}

/**
 * User-metadata filters in the three encodings seen in the wild: bare keys (`?category=x`, the spec),
 * `user_metadata[category]=x` (the Python SDK) and `user_metadata=<JSON>` (the generated JS client),
 * as far as the variants honour them (see `unhonouredMetadataFilter` for the others).
 * Values are compared as strings, the way they arrive in a query string.
 */
export function parseMetadataFilters(
  query: URLSearchParams,
  reserved: ReadonlySet<string>,
  variants: Pick<ApiVariants, 'metadataFilterEncodings' | 'unhonouredMetadataFilter'>,
): Record<string, string> {
  const encodings = variants.metadataFilterEncodings;
  // A bare-key server that does not know the other encodings reads their parameters as keys.
  const literal = encodings.includes('bare') && variants.unhonouredMetadataFilter === 'literal';
  const filters: Record<string, string> = {};
  for (const [key, value] of query) {
    const bracket = /^user_metadata\[(.+)\]$/.exec(key);
    if (bracket?.[1] !== undefined) {
      if (encodings.includes('bracket')) filters[bracket[1]] = value;
      else if (literal) filters[key] = value;
    } else if (key === 'user_metadata') {
      if (encodings.includes('json')) Object.assign(filters, parseJsonFilter(value));
      else if (literal) filters[key] = value;
    } else if (!reserved.has(key.replace(/\[(gte|lte)\]$/, '')) && encodings.includes('bare')) {
      filters[key] = value;
    }
  }
  return filters;
}

/** True when every filter key is in the metadata with that value, compared as a string. */
export function metadataMatches(metadata: UserMetadata, filters: Record<string, string>): boolean {
  return Object.entries(filters).every(([key, want]) => key in metadata && String(metadata[key]) === want);
}

function parseJsonFilter(raw: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw invalid('The user_metadata parameter must be a JSON object.');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw invalid('The user_metadata parameter must be a JSON object.');
  }
  const filters: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed)) filters[key] = String(value);
  return filters;
}

function positiveInt(query: URLSearchParams, name: string): number | undefined {
  const raw = query.get(name);
  if (raw === null) return undefined;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < 1) {
    throw invalid(`The ${name} parameter must be a positive integer.`);
  }
  return value;
}

function number(query: URLSearchParams, name: string): number | undefined {
  const raw = query.get(name);
  if (raw === null) return undefined;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value)) throw invalid(`The ${name} parameter must be a number.`);
  return value;
}
