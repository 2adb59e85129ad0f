import type { SourceObject } from '../sources/types.js';
import type { LookupTables } from './lookup.js';

export const PLAN_VERSION = 1;

export type PlanAction = 'upload' | 'skip' | 'fail';
export type SkipReason = 'indexed' | 'duplicate' | 'excluded' | 'in_progress';

/** How an object was found to be already indexed, or which object it duplicates. */
export interface PlanMatch {
  by: 'ledger' | 'fingerprint' | 'filename_size' | 'task' | 'source_content';
  videoId?: string | undefined;
  taskId?: string | undefined;
  /** For skip/duplicate: the key that will carry (or carries) this content. */
  duplicateOf?: string | undefined;
}

export interface ProbeResult {
  durationSeconds?: number | undefined;
  width?: number | undefined;
  height?: number | undefined;
  /** Set when the probe could not read the file at all. */
  error?: string | undefined;
}

export interface PlanItem {
  key: string;
  size: number;
  etag: string;
  lastModified: string;
  action: PlanAction;
  /** A SkipReason for skips, the platform's error code (or ours) for fails. */
  reason?: string | undefined;
  /** One human sentence for fails and notable uploads. */
  detail?: string | undefined;
  match?: PlanMatch | undefined;
  sha256?: string | undefined;
  storageClass?: string | undefined;
  probe?: ProbeResult | undefined;
  /** Other keys with the same file name whose match to a legacy video is ambiguous. */
  collision?: string[] | undefined;
  /** `multipart`: uploaded in parts, streamed from the source (`--via assets`, over the threshold); absent = by URL. */
  method?: 'multipart' | undefined;
}

/** Limits a video must meet; defaults follow shared/twelvelabs-api.md, users can override. */
export interface RequirementsProfile {
  maxFileSizeBytes: number;
  minDurationSeconds: number;
  maxDurationSeconds: number;
  minWidth: number;
  minHeight: number;
  maxLongSide: number;
  maxShortSide: number;
  maxAspectRatio: number;
}

export interface PlanOptions {
  include: string[];
  exclude: string[];
  minSize?: number | undefined;
  maxSize?: number | undefined;
  incremental: boolean;
  match: 'filename' | 'fingerprint';
  probe: boolean;
  allFiles: boolean;
  extensions: string[];
  requirements: RequirementsProfile;
  /** The upload path the plan was made for: it sets the size limit and what "indexed" means. Absent = tasks. */
  via?: 'tasks' | 'assets' | undefined;
  /** `--via assets`: objects larger than this are uploaded in parts (default 4 GiB, the URL path's limit). */
  multipartThresholdBytes?: number | undefined;
}

export interface PlanSummary {
  total: number;
  counts: Record<PlanAction, number>;
  bytes: { upload: number; total: number };
  /** Count per reason over skips and fails. */
  reasons: Record<string, number>;
  indexedBy: Partial<Record<PlanMatch['by'], number>>;
  collisions: number;
  /** Uploads sent in parts (`method: multipart`); absent when none. */
  multipart?: number | undefined;
  /** Folder markers and `/`-ending keys: not objects to migrate, not in `items`. */
  ignored: number;
}

export interface PlanSource {
  uri: string;
  bucket: string;
  prefix: string;
  inventory?: string | undefined;
}

export interface PlanHeader {
  version: typeof PLAN_VERSION;
  /** Names this plan in the state (`lastPlan`), so an older plan applied after it is refused. Absent in plans of older versions. */
  planId?: string | undefined;
  createdAt: string;
  tool: string;
  source: PlanSource;
  indexId: string;
  indexName?: string | undefined;
  options: PlanOptions;
}

export interface Plan extends PlanHeader {
  items: PlanItem[];
  summary: PlanSummary;
}

/** A video already in the index, reduced to what matching needs. */
export interface IndexedVideoRef {
  videoId: string;
  filename: string;
  size: number | undefined;
  createdAt?: string | undefined;
  /** Known when the list carried it or it was fetched; undefined = not fetched yet. */
  userMetadata?: Record<string, unknown> | undefined;
}

/** A task of the index that is not ready or failed yet. */
export interface InFlightTask {
  taskId: string;
  videoId?: string | undefined;
  filename: string;
  status: string;
}

/** What earlier tlmigrate runs recorded, keyed by source URI. */
export interface LedgerEntry {
  uri: string;
  size: number;
  etag: string;
  status: string;
  taskId?: string | undefined;
  videoId?: string | undefined;
  errorCode?: string | undefined;
}

/** The edges the planner calls, injected so it does no I/O itself. */
export interface PlannerEdges {
  /** Fetches one video's user_metadata (GET /indexes/{id}/videos/{vid}). */
  videoMetadata(videoId: string): Promise<Record<string, unknown> | undefined>;
  /** Probes an object (ffprobe on a presigned URL). Only called with `options.probe`. */
  probe?(object: SourceObject): Promise<ProbeResult>;
}

/**
 * Where the planner keeps the items it can only decide at the end (legacy file-name matches), as
 * lines of JSON in the order given: in memory by default, in a temporary file for the CLI, so a
 * large archive's held-back items do not stay in memory.
 */
export interface HeldItems {
  append(line: string): void;
  /** Every line appended, in order; may be read more than once. */
  lines(): AsyncIterable<string>;
}

export interface PlanInput {
  source: PlanSource;
  objects: AsyncIterable<SourceObject>;
  /** Read once, before the first object. */
  videos: Iterable<IndexedVideoRef> | AsyncIterable<IndexedVideoRef>;
  /** Whether a video id is in the index, when the caller can already tell (the listing's own lookup); else the planner keeps a table of `videos`' ids. */
  videoIds?: { has(videoId: string): boolean } | undefined;
  /** Read once, before the first object. */
  inFlight: Iterable<InFlightTask> | AsyncIterable<InFlightTask>;
  /** Read once, before the first object. */
  ledger: Iterable<LedgerEntry> | AsyncIterable<LedgerEntry>;
  options: PlanOptions;
  edges: PlannerEdges;
  /** Parallel metadata fetches and probes. */
  concurrency?: number;
  held?: HeldItems | undefined;
  /** Where the lookups over the index, the ledger and the listing are kept; in memory by default. */
  tables?: LookupTables | undefined;
}
