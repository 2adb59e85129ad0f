import type { HeldItems, LookupTables } from '../planner/index.js';
import type { SourceObject } from '../sources/types.js';

/** A video of the index, as a listing gives it; `userMetadata` only when the listing carried it. */
export interface VideoRef {
  videoId: string;
  filename: string;
  size?: number | undefined;
  createdAt?: string | undefined;
  userMetadata?: Record<string, unknown> | undefined;
}

/** A task of the index, as GET /tasks lists it. */
export interface TaskRef {
  taskId: string;
  videoId?: string | undefined;
  filename: string;
  status: string;
  createdAt?: string | undefined;
  /** A failure reason, when the server sent one. */
  error?: { code: string; message: string } | undefined;
}

/** What the state file recorded for one source URI (only a hint: verify does not trust it for presence). */
export interface KnownItem {
  status: string;
  taskId?: string | undefined;
  videoId?: string | undefined;
  /** `--via assets`: indexing happens without a task, so the state is the only progress record. */
  indexedAssetId?: string | undefined;
  lastError?: { code: string; message: string } | null | undefined;
}

/** Reads one video's user_metadata (GET video); undefined when the video is gone. */
export interface MetadataReader {
  videoMetadata(videoId: string): Promise<Record<string, unknown> | undefined>;
}

export interface VerifyInput {
  bucket: string;
  /** The verified scope, `s3://bucket[/prefix]`: fingerprints outside it are not this source's. */
  sourceUri: string;
  objects: AsyncIterable<SourceObject>;
  /** The planner's filter: an object is expected in the index unless this excludes it. */
  excluded(object: SourceObject): boolean;
  /** Why an object can never be indexed (the planner's listing preflight), if it cannot. */
  unindexable(object: SourceObject): { code: string; detail: string } | undefined;
  /** Every video of the index, in listing order: read once, streamed (a listing spilled to disk, or an array). */
  videos: Iterable<VideoRef> | AsyncIterable<VideoRef>;
  /** Tasks not ready: in progress or failed; read once, streamed (a listing spilled to disk, or an array). */
  tasks: Iterable<TaskRef> | AsyncIterable<TaskRef>;
  /** What the state file recorded per source URI, streamed once (only the items of objects without a video are kept). */
  known: Iterable<[string, KnownItem]> | AsyncIterable<[string, KnownItem]>;
  edges: MetadataReader;
  concurrency?: number;
  /** Where the objects and the lookups over them are kept: in memory by default (`workInMemory`); the CLI's are temporary files. */
  work?: VerifyWork | undefined;
}

/** Lines kept in order and multimaps appended to: the planner's kinds (`HeldItems`, `LookupTables`), in memory or on disk. */
export interface VerifyWork {
  tables: LookupTables;
  lines(name: string): HeldItems;
}

export type UnmatchedReason = 'no_object' | 'source_changed' | 'outside_source' | 'ambiguous';

export interface VerifyResult {
  source: string;
  objects: number;
  excluded: number;
  /** Objects with exactly one video of their own. */
  indexed: number;
  /** Objects whose content another key carries (same size and ETag): uploaded once, by design. */
  coveredByDuplicate: Array<{ key: string; duplicateOf: string }>;
  missing: Array<{ key: string; size: number; etag: string; detail?: string | undefined }>;
  inProgress: Array<{ key: string; taskId: string; status: string }>;
  failed: Array<{ key: string; code: string; message: string; taskId?: string | undefined }>;
  duplicated: Array<{ key: string; videos: Array<{ videoId: string; createdAt?: string | undefined; by: 'fingerprint' | 'filename_size' }> }>;
  unmatched: Array<{ videoId: string; filename: string; size?: number | undefined; reason: UnmatchedReason; tlmSource?: string | undefined; candidates?: string[] | undefined }>;
  /** GET video calls made to confirm matches. */
  metadataFetches: number;
}
