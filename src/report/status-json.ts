// The `status --json` and `logs --json` shapes (the deprecated import-status and import-logs), built from a state file.
import { failureStage, type FailureStage, type ItemState, type StateFile } from '../state/index.js';

type Entry = { video_id: string; filename: string; created_at: string };

/** The deprecated import-status shape, from a state file. */
export interface ImportStatus {
  not_imported: string[];
  validating: Entry[];
  pending: Entry[];
  queued: Entry[];
  indexing: Entry[];
  ready: Entry[];
  /** `stage` (added to the old shape): `preflight` = the plan found it unfit, never sent; `platform` = sent, or tried, and failed. */
  failed: Array<{ filename: string; created_at: string; error_message: string; stage: FailureStage }>;
}

export function importStatus(state: StateFile): ImportStatus {
  const out: ImportStatus = { not_imported: [], validating: [], pending: [], queued: [], indexing: [], ready: [], failed: [] };
  for (const item of Object.values(state.items)) {
    const created = item.submittedAt ?? item.updatedAt;
    switch (item.status) {
      case 'planned':
      case 'intent':
      case 'unknown':
        out.not_imported.push(item.key);
        break;
      case 'asset_uploading':
      case 'asset_processing':
      case 'asset_ready':
      case 'submitted':
      case 'uploading':
      case 'validating':
        out.validating.push({ video_id: item.videoId ?? '', filename: item.key, created_at: created });
        break;
      case 'pending':
      case 'queued':
      case 'indexing':
      case 'ready':
        out[item.status].push({ video_id: item.videoId ?? '', filename: item.key, created_at: created });
        break;
      case 'failed':
        out.failed.push({ filename: item.key, created_at: item.lastError?.at ?? item.updatedAt, error_message: errorMessage(item), stage: failureStage(item) });
        break;
      default:
        break;
    }
  }
  return out;
}

/** The deprecated import-logs shape: one entry per run, oldest first. */
export interface ImportLogs {
  /** Added to the old shape: items the plan found unfit, recorded by apply but never sent (no run's failures). */
  failed_in_preflight: Array<{ filename: string; error_message: string }>;
  data: Array<{
    index_id: string;
    index_name: string;
    created_at: string;
    ended_at: string | null;
    video_status: { ready: number; validating: number; queued: number; pending: number; indexing: number; failed: number };
    failed_files: Array<{ filename: string; error_message: string }>;
    /** Quota windows the run waited through (`--wait-for-quota`); absent when none. */
    quota_waits?: Array<{ at: string; until: string; reason: string }>;
    /** The budget that stopped the run and what it left; absent when none did. */
    budget?: { reason: string; left_items: number; left_video_seconds?: number };
  }>;
}

export function importLogs(state: StateFile): ImportLogs {
  const runs = [...state.runs].sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  return {
    data: runs.map((run) => {
      const video_status = { ready: 0, validating: 0, queued: 0, pending: 0, indexing: 0, failed: 0 };
      const failed_files: Array<{ filename: string; error_message: string }> = [];
      for (const item of Object.values(state.items)) {
        if (item.runId !== run.runId) continue;
        const s = ['submitted', 'uploading', 'asset_uploading', 'asset_processing', 'asset_ready'].includes(item.status) ? 'validating' : item.status;
        if (s in video_status) video_status[s as keyof typeof video_status] += 1;
        if (s === 'failed') failed_files.push({ filename: item.key, error_message: errorMessage(item) });
      }
      return {
        index_id: state.indexId,
        index_name: state.indexName ?? '',
        created_at: run.startedAt,
        ended_at: run.endedAt ?? null,
        video_status,
        failed_files,
        ...(run.waits?.length ? { quota_waits: run.waits.map((w) => ({ at: w.at, until: w.until, reason: w.reason })) } : {}),
        ...(run.budget ? { budget: { reason: run.budget.reason, left_items: run.budget.left.items, ...(run.budget.left.videoSeconds === undefined ? {} : { left_video_seconds: run.budget.left.videoSeconds }) } } : {}),
      };
    }),
    failed_in_preflight: Object.values(state.items)
      .filter((item) => item.status === 'failed' && failureStage(item) === 'preflight')
      .map((item) => ({ filename: item.key, error_message: errorMessage(item) })),
  };
}

function errorMessage(item: ItemState): string {
  return item.lastError ? `${item.lastError.code}: ${item.lastError.message}` : 'failed';
}
