import { formatCommand, shellQuote } from '../cli/shell.js';
import { IN_FLIGHT, NOT_SUBMITTED, statusIn, type ItemState, type RunRecord, type StateFile } from '../state/index.js';
import { GroupCollector, bump, type Group } from './groups.js';
import type { ReportOptions } from './plan-report.js';
import { actionOf } from './rows.js';

export interface ThroughputPoint {
  /** Start of the interval (ISO). */
  at: string;
  submitted: number;
  cumulative: number;
}

export interface NextStep {
  step: 'resume' | 'follow' | 'retry_failed' | 'replan' | 'verify';
  count: number;
  command: string;
  why: string;
}

export interface RunReport {
  kind: 'run';
  generatedAt: string;
  source: StateFile['source'];
  indexId: string;
  indexName?: string | undefined;
  stateCreatedAt: string;
  stateUpdatedAt: string;
  tool: string;
  totals: { objects: number; bytes: number; byStatus: Record<string, number>; byAction: Record<'upload' | 'skip' | 'fail', number> };
  skipped: Record<string, number>;
  /** Failed objects per error code, largest group first. */
  failures: Group<{ key: string; message: string; taskId?: string | undefined }>[];
  /** Objects not submitted yet whose last attempt left an error (throttled, ambiguous, exhausted). */
  unfinished: Group<{ key: string; message: string }>[];
  runs: Array<Pick<RunRecord, 'runId' | 'command' | 'startedAt' | 'outcome' | 'counters' | 'waits' | 'budget'> & { endedAt: string | null }>;
  counters: RunRecord['counters'];
  startedAt: string | null;
  /** null while the last run has not ended. */
  endedAt: string | null;
  throughput: { intervalSeconds: number; first: string | null; last: string | null; perMinute: number; points: ThroughputPoint[] };
  next: NextStep[];
}

/** Failures only a changed file or a new plan can fix; the rest may pass on a retry. */
const NEEDS_FIX = /^(video_|unsupported_file_type$|source_)/;
const INTERVALS = [1, 5, 10, 30, 60, 300, 600, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400];
const MAX_POINTS = 60;

/** A run report from a state file; `statePath` goes into the suggested commands. */
export function summarizeRun(state: StateFile, statePath: string, options: ReportOptions): RunReport {
  const byStatus: Record<string, number> = {};
  const byAction = { upload: 0, skip: 0, fail: 0 };
  const skipped: Record<string, number> = {};
  const failures = new GroupCollector<{ key: string; message: string; taskId?: string | undefined }>(options.maxKeys);
  const unfinished = new GroupCollector<{ key: string; message: string }>(options.maxKeys);
  const submittedAt: number[] = [];
  let objects = 0;
  let bytes = 0;
  let retriable = 0;
  let needsFix = 0;

  for (const item of Object.values(state.items) as ItemState[]) {
    objects += 1;
    bytes += item.size;
    bump(byStatus, item.status);
    const action = actionOf(item);
    byAction[action] += 1;
    if (action === 'skip' && item.reason) bump(skipped, item.reason);
    if (item.status === 'failed') {
      const code = item.lastError?.code ?? 'failed';
      failures.add(code, { key: item.key, message: item.lastError?.message ?? '', taskId: item.taskId });
      if (NEEDS_FIX.test(code)) needsFix += 1;
      else retriable += 1;
    } else if (statusIn(NOT_SUBMITTED, item.status) && item.lastError) {
      unfinished.add(item.lastError.code, { key: item.key, message: item.lastError.message });
    }
    const at = item.submittedAt ? Date.parse(item.submittedAt) : Number.NaN;
    if (Number.isFinite(at)) submittedAt.push(at);
  }

  const runs = [...state.runs].sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  const counters = { submitted: 0, failed: 0, reconciled: 0, retries: 0, throttled: 0 };
  for (const run of runs) for (const name of Object.keys(counters) as Array<keyof typeof counters>) counters[name] += run.counters?.[name] ?? 0;
  const last = runs.at(-1);
  const notSubmitted = [...NOT_SUBMITTED].reduce((n, s) => n + (byStatus[s] ?? 0), 0);
  const inFlight = [...IN_FLIGHT].reduce((n, s) => n + (byStatus[s] ?? 0), 0);

  return {
    kind: 'run',
    generatedAt: options.generatedAt,
    source: state.source,
    indexId: state.indexId,
    indexName: state.indexName,
    stateCreatedAt: state.createdAt,
    stateUpdatedAt: state.updatedAt,
    tool: state.tool,
    totals: { objects, bytes, byStatus, byAction },
    skipped,
    failures: failures.list(),
    unfinished: unfinished.list(),
    runs: runs.map((r) => ({ runId: r.runId, command: r.command, startedAt: r.startedAt, endedAt: r.endedAt ?? null, outcome: r.outcome, counters: r.counters, ...(r.waits?.length ? { waits: r.waits } : {}), ...(r.budget ? { budget: r.budget } : {}) })),
    counters,
    startedAt: runs[0]?.startedAt ?? null,
    endedAt: last ? (last.endedAt ?? null) : null,
    throughput: throughput(submittedAt),
    next: nextSteps({ state, statePath, planFile: options.planFile, notSubmitted, inFlight, retriable, needsFix }),
  };
}

/** Submissions per interval, the interval chosen so the whole span fits in about 60 points. */
export function throughput(times: number[]): RunReport['throughput'] {
  if (times.length === 0) return { intervalSeconds: 0, first: null, last: null, perMinute: 0, points: [] };
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const t of times) {
    if (t < first) first = t;
    if (t > last) last = t;
  }
  const span = (last - first) / 1000;
  const interval = INTERVALS.find((s) => span / s < MAX_POINTS) ?? INTERVALS[INTERVALS.length - 1]!;
  const start = Math.floor(first / (interval * 1000)) * interval * 1000;
  const counts = new Array<number>(Math.floor((last - start) / (interval * 1000)) + 1).fill(0);
  for (const t of times) {
    const slot = Math.floor((t - start) / (interval * 1000));
    counts[slot] = (counts[slot] ?? 0) + 1;
  }
  let cumulative = 0;
  const points = counts.map((submitted, i) => {
    cumulative += submitted;
    return { at: new Date(start + i * interval * 1000).toISOString(), submitted, cumulative };
  });
  // Over the busy span only: a single burst counts as one interval, not as zero time.
  const minutes = Math.max(span, interval) / 60;
  return { intervalSeconds: interval, first: new Date(first).toISOString(), last: new Date(last).toISOString(), perMinute: times.length / minutes, points };
}

function nextSteps(o: { state: StateFile; statePath: string; planFile: string | undefined; notSubmitted: number; inFlight: number; retriable: number; needsFix: number }): NextStep[] {
  const state = ['--state', o.statePath];
  const plan = o.planFile ?? 'PLAN.json';
  const unknownPlan = o.planFile === undefined ? ' (PLAN.json: the plan file last applied, not found next to the state file)' : '';
  const scope = ['--source', o.state.source.uri, '--index', o.state.indexId];
  const steps: NextStep[] = [];
  if (o.notSubmitted > 0) {
    steps.push({ step: 'resume', count: o.notSubmitted, command: formatCommand(['tlmigrate', 'apply', plan, ...state]), why: `not submitted yet, or the outcome of their request was lost: run the same apply again; nothing is submitted twice${unknownPlan}` });
  }
  if (o.inFlight > 0) {
    steps.push({ step: 'follow', count: o.inFlight, command: formatCommand(['tlmigrate', 'status', '--refresh', ...state]), why: 'submitted and still being indexed: follow them to ready or failed' });
  }
  if (o.retriable > 0) {
    steps.push({
      step: 'retry_failed',
      count: o.retriable,
      command: formatCommand(['tlmigrate', 'apply', plan, '--retry-failed', ...state]),
      why: `failed, but not because of the file itself (the platform's indexing failed, or it refused the request): a new attempt may succeed, so resubmit them${unknownPlan}`,
    });
  }
  if (o.needsFix > 0) {
    steps.push({
      step: 'replan',
      count: o.needsFix,
      command: formatCommand(['tlmigrate', 'plan', ...scope, ...state]),
      why: 'failed because of the file itself (too short, broken, too large, changed or gone): fix or replace the files, or exclude them, then re-plan and apply',
    });
  }
  if (o.notSubmitted === 0 && o.inFlight === 0) {
    steps.push({ step: 'verify', count: 0, command: formatCommand(['tlmigrate', 'verify', ...scope, ...state]), why: 'nothing is waiting or in progress: prove that the index holds every object exactly once' });
  }
  return steps;
}

/** Quotes a word for a POSIX shell when it needs it. */
export const shellWord = shellQuote;
