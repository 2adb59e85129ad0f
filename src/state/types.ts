import type { TaskStatus } from '../twelvelabs/types.js';

export const STATE_VERSION = 1;

/**
 * Where one object stands. `intent` = a POST may be on the wire (recorded before it leaves);
 * `unknown` = a POST's outcome was lost; both are reconciled before any new POST.
 */
export type ItemStatus = 'planned' | 'intent' | 'unknown' | 'asset_uploading' | 'asset_processing' | 'asset_ready' | 'submitted' | TaskStatus | 'skipped';

/** Which POST an `intent`/`unknown` refers to: the task, the asset, the multipart upload session, or the indexed asset. */
export type SubmitStep = 'task' | 'asset' | 'session' | 'index';

/**
 * A multipart upload in progress (`asset_uploading`): its session, and the chunks the platform
 * has acknowledged, so a resume sends only the others.
 */
export interface UploadProgress {
  uploadId: string;
  /** The asset the session reserved; learnt from a chunk report when the session was found by a search. */
  assetId?: string | undefined;
  chunkSize: number;
  totalChunks: number;
  /** 1-based indices of the reported chunks, as ranges: `1-40,43`. */
  reported: string;
  /** When the session itself expires (the server's `expires_at`). */
  expiresAt?: string | undefined;
  /** `upload_headers` the session asked every chunk PUT to carry. */
  headers?: Record<string, string> | undefined;
}

export interface ItemError {
  code: string;
  message: string;
  at: string;
}

export interface ItemState {
  key: string;
  size: number;
  etag: string;
  sha256?: string | undefined;
  status: ItemStatus;
  taskId?: string | undefined;
  videoId?: string | undefined;
  /** `--via assets`: the asset, reused on resume, never created twice. */
  assetId?: string | undefined;
  /** `--via assets`: the indexed asset (also recorded as videoId, as the old import-status showed). */
  indexedAssetId?: string | undefined;
  step?: SubmitStep | undefined;
  /** `multipart`: uploaded in parts, streamed from the source (the plan's method); absent = by URL. */
  method?: 'multipart' | undefined;
  /** `--via assets`, multipart: the session and the chunks reported so far. */
  upload?: UploadProgress | undefined;
  attempts: number;
  /** When the last intent was recorded: the lower bound for reconciliation searches. */
  intentAt?: string | undefined;
  submittedAt?: string | undefined;
  updatedAt: string;
  /** The run that created the task (`tlm_run`). */
  runId?: string | undefined;
  lastError?: ItemError | null | undefined;
  reason?: string | undefined;
  /** `skipped` as `duplicate`: the source URI that carries (or will carry) the same content. */
  duplicateOf?: string | undefined;
}

export interface RunRecord {
  runId: string;
  command: string;
  pid: number;
  startedAt: string;
  endedAt?: string | null | undefined;
  planId?: string | undefined;
  /** The plan file this run applied (absolute), so printed commands can name it. */
  plan?: string | undefined;
  outcome?: 'completed' | 'failed_items' | 'interrupted' | 'quota' | 'budget' | 'error' | undefined;
  counters: { submitted: number; failed: number; reconciled: number; retries: number; throttled: number };
  /** Multipart: bytes this run streamed from the source into chunk URLs. */
  bytesStreamed?: number | undefined;
  /** Quota windows waited through (`--wait-for-quota`), each recorded before the run slept. */
  waits?: Array<{ at: string; until: string; reason: string; resetKnown: boolean }> | undefined;
  /** The budget that ended the run, what it used, and what it left for the next run. */
  budget?: { reason: string; used: { items: number; videoSeconds: number }; left: { items: number; videoSeconds?: number | undefined } } | undefined;
}

/** One destructive action tlmigrate took on the index (dedupe), for the record. */
export interface HistoryEntry {
  at: string;
  action: 'delete_video' | 'delete_task';
  videoId?: string | undefined;
  taskId?: string | undefined;
  /** Why, in words: e.g. "duplicate of 65f0... (same tlm_source and tlm_etag)". */
  reason: string;
  /** The source URI the copy was of, when known. */
  uri?: string | undefined;
}

export interface StateFile {
  version: typeof STATE_VERSION;
  tool: string;
  source: { uri: string; bucket: string; prefix: string };
  indexId: string;
  indexName?: string | undefined;
  createdAt: string;
  updatedAt: string;
  lastPlan?: { planId: string; createdAt: string } | undefined;
  /** Keyed by source URI. */
  items: Record<string, ItemState>;
  runs: RunRecord[];
  /** Absent in files written before dedupe existed: read as empty. */
  history?: HistoryEntry[] | undefined;
}
