// The `status --json` and `logs --json` shapes (the deprecated import-status and import-logs), built from a state file.
import { NOT_CREATED, failureStage, type FailureStage, type ItemState, type StateFile } from '../state/index.js';
import { withSpools, type JsonSpool } from './spool.js';
import type { TextSink } from './text-sink.js';

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

export type StatusGroup = keyof ImportStatus;
type FailedEntry = ImportStatus['failed'][number];
/** The groups in the shape's order. */
export const STATUS_GROUPS: readonly StatusGroup[] = ['not_imported', 'validating', 'pending', 'queued', 'indexing', 'ready', 'failed'];

/** Where an item stands in the import-status shape, with its entry there; undefined for the items the shape leaves out (skipped). */
export function statusEntry(item: ItemState): [StatusGroup, string | Entry | FailedEntry] | undefined {
  const created = item.submittedAt ?? item.updatedAt;
  switch (item.status) {
    case 'planned':
    case 'intent':
    case 'unknown':
      return ['not_imported', item.key];
    case 'asset_uploading':
    case 'asset_processing':
    case 'asset_ready':
    case 'submitted':
    case 'uploading':
    case 'validating':
      return ['validating', { video_id: item.videoId ?? '', filename: item.key, created_at: created }];
    case 'pending':
    case 'queued':
    case 'indexing':
    case 'ready':
      return [item.status, { video_id: item.videoId ?? '', filename: item.key, created_at: created }];
    case 'failed':
      return ['failed', { filename: item.key, created_at: item.lastError?.at ?? item.updatedAt, error_message: errorMessage(item), stage: failureStage(item) }];
    default:
      return undefined;
  }
}

export function importStatus(state: Pick<StateFile, 'items'>): ImportStatus {
  const out = emptyStatus();
  for (const item of Object.values(state.items)) place(out, item);
  return out;
}

/** The import-status shape of items read as a stream (the library's `status`: the caller asked for every entry). */
export async function collectImportStatus(items: AsyncIterable<[string, ItemState]>): Promise<ImportStatus> {
  const out = emptyStatus();
  for await (const [, item] of items) place(out, item);
  return out;
}

function emptyStatus(): ImportStatus {
  return { not_imported: [], validating: [], pending: [], queued: [], indexing: [], ready: [], failed: [] };
}

function place(out: ImportStatus, item: ItemState): void {
  const placed = statusEntry(item);
  if (placed) (out[placed[0]] as unknown[]).push(placed[1]);
}

/**
 * `status --json` for a state of any size: one pass over the items, each group's entries spooled
 * to a temporary file, then the JSON text in the shape's order (the same text as
 * `JSON.stringify(importStatus(state))`). Nothing is written before the pass has read every item,
 * so a damaged state prints nothing.
 */
export async function writeImportStatus(items: AsyncIterable<[string, ItemState]>, out: TextSink): Promise<void> {
  await withSpools('status', async (spool) => {
    const groups = new Map(STATUS_GROUPS.map((group) => [group, spool(`${group}.jsonl`)]));
    for await (const [, item] of items) {
      const placed = statusEntry(item);
      if (placed) await groups.get(placed[0])?.add(placed[1]);
    }
    for (const [n, group] of STATUS_GROUPS.entries()) {
      await out.write(`${n === 0 ? '{' : ','}${JSON.stringify(group)}:[`);
      for await (const text of groups.get(group)?.arrayText() ?? []) await out.write(text);
      await out.write(']');
    }
    await out.write('}\n');
  });
}

/** What plain `status` prints: the count of each group, the first failures, and what the ETA needs. */
export interface StatusTally {
  counts: Record<StatusGroup, number>;
  /** The first `keep` failures, in the state's order. */
  failures: FailedEntry[];
  preflightFailures: number;
  /** Items not created yet. */
  remaining: number;
  /** Items the last run created. */
  createdInLastRun: number;
}

export async function tallyStatus(items: AsyncIterable<[string, ItemState]>, lastRunId: string | undefined, keep: number): Promise<StatusTally> {
  const counts = Object.fromEntries(STATUS_GROUPS.map((group) => [group, 0])) as Record<StatusGroup, number>;
  const tally: StatusTally = { counts, failures: [], preflightFailures: 0, remaining: 0, createdInLastRun: 0 };
  for await (const [, item] of items) {
    const notCreated = NOT_CREATED.has(item.status);
    if (notCreated) tally.remaining += 1;
    else if (lastRunId !== undefined && item.runId === lastRunId) tally.createdInLastRun += 1;
    const placed = statusEntry(item);
    if (!placed) continue;
    counts[placed[0]] += 1;
    if (placed[0] !== 'failed') continue;
    const failure = placed[1] as FailedEntry;
    if (failure.stage === 'preflight') tally.preflightFailures += 1;
    if (tally.failures.length < keep) tally.failures.push(failure);
  }
  return tally;
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

type LogEntry = ImportLogs['data'][number];
type VideoStatus = LogEntry['video_status'];
type FailedFile = LogEntry['failed_files'][number];

export function importLogs(state: StateFile): ImportLogs {
  const entries = logEntries(state);
  const byRun = new Map(entries.map((e) => [e.runId, e.entry]));
  const failed_in_preflight: FailedFile[] = [];
  for (const item of Object.values(state.items)) {
    const entry = item.runId === undefined ? undefined : byRun.get(item.runId);
    const file = entry && countInRun(entry, item);
    if (entry && file) entry.failed_files.push(file);
    if (isPreflightFailure(item)) failed_in_preflight.push(failedFile(item));
  }
  return { data: entries.map((e) => e.entry), failed_in_preflight };
}

/** The runs' entries, oldest first, counts at zero and no failed files yet. */
function logEntries(state: Pick<StateFile, 'runs' | 'indexId' | 'indexName'>): Array<{ runId: string; entry: LogEntry }> {
  const runs = [...state.runs].sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  return runs.map((run) => ({
    runId: run.runId,
    entry: {
      index_id: state.indexId,
      index_name: state.indexName ?? '',
      created_at: run.startedAt,
      ended_at: run.endedAt ?? null,
      video_status: { ready: 0, validating: 0, queued: 0, pending: 0, indexing: 0, failed: 0 },
      failed_files: [],
      ...(run.waits?.length ? { quota_waits: run.waits.map((w) => ({ at: w.at, until: w.until, reason: w.reason })) } : {}),
      ...(run.budget ? { budget: { reason: run.budget.reason, left_items: run.budget.left.items, ...(run.budget.left.videoSeconds === undefined ? {} : { left_video_seconds: run.budget.left.videoSeconds }) } } : {}),
    },
  }));
}

/** Counts an item in its run's entry; answers its failed file when it failed. */
function countInRun(entry: LogEntry, item: ItemState): FailedFile | undefined {
  const s = ['submitted', 'uploading', 'asset_uploading', 'asset_processing', 'asset_ready'].includes(item.status) ? 'validating' : item.status;
  if (s in entry.video_status) entry.video_status[s as keyof VideoStatus] += 1;
  return s === 'failed' ? failedFile(item) : undefined;
}

function isPreflightFailure(item: ItemState): boolean {
  return item.status === 'failed' && failureStage(item) === 'preflight';
}

function failedFile(item: ItemState): FailedFile {
  return { filename: item.key, error_message: errorMessage(item) };
}

/** `logs` read in one pass: each run's entry with its counts, its failed files and the preflight failures spooled. */
export interface CollectedLogs {
  runs: Array<{ entry: LogEntry; failed: JsonSpool }>;
  preflight: JsonSpool;
}

export async function collectLogs(header: Pick<StateFile, 'runs' | 'indexId' | 'indexName'>, items: AsyncIterable<[string, ItemState]>, spool: (file: string) => JsonSpool): Promise<CollectedLogs> {
  const runs = logEntries(header).map((e, n) => ({ runId: e.runId, entry: e.entry, failed: spool(`run-${n}.jsonl`) }));
  const byRun = new Map(runs.map((r) => [r.runId, r]));
  const preflight = spool('preflight.jsonl');
  for await (const [, item] of items) {
    const run = item.runId === undefined ? undefined : byRun.get(item.runId);
    const file = run && countInRun(run.entry, item);
    if (run && file) await run.failed.add(file);
    if (isPreflightFailure(item)) await preflight.add(failedFile(item));
  }
  return { runs, preflight };
}

/** The import-logs JSON text of collected logs: the same text as `JSON.stringify(importLogs(state))`. */
export async function writeImportLogs(logs: CollectedLogs, out: TextSink): Promise<void> {
  await out.write('{"data":[');
  for (const [n, run] of logs.runs.entries()) {
    // The entry's own text, its (empty) failed files replaced by the spooled ones: a string value cannot hold this unescaped.
    const [before, after] = splitOnce(JSON.stringify(run.entry), '"failed_files":[]');
    await out.write(`${n === 0 ? '' : ','}${before}"failed_files":[`);
    for await (const text of run.failed.arrayText()) await out.write(text);
    await out.write(`]${after}`);
  }
  await out.write('],"failed_in_preflight":[');
  for await (const text of logs.preflight.arrayText()) await out.write(text);
  await out.write(']}\n');
}

function splitOnce(text: string, marker: string): [string, string] {
  const at = text.indexOf(marker);
  return [text.slice(0, at), text.slice(at + marker.length)];
}

function errorMessage(item: ItemState): string {
  return item.lastError ? `${item.lastError.code}: ${item.lastError.message}` : 'failed';
}
