import { formatCommand, shellQuote } from '../cli/shell.js';
import { IN_FLIGHT, NOT_SUBMITTED, statusIn, type ItemState, type RunRecord, type StateFile, type StateHeader } from '../state/index.js';
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
  const tally = new RunTally(options.maxKeys);
  for (const item of Object.values(state.items)) tally.add(item);
  return runReportOf(state, tally, statePath, options);
}

/** The same report from a state read as a stream (`StateView`): what it keeps is bounded by `--max-keys`, not by the number of items. */
export async function summarizeRunStream(header: StateHeader, items: AsyncIterable<[string, ItemState]>, statePath: string, options: ReportOptions): Promise<RunReport> {
  const tally = new RunTally(options.maxKeys);
  for await (const [, item] of items) tally.add(item);
  return runReportOf(header, tally, statePath, options);
}

/** What a run report counts over the items, one item at a time. */
class RunTally {
  readonly byStatus: Record<string, number> = {};
  readonly byAction = { upload: 0, skip: 0, fail: 0 };
  readonly skipped: Record<string, number> = {};
  readonly failures: GroupCollector<{ key: string; message: string; taskId?: string | undefined }>;
  readonly unfinished: GroupCollector<{ key: string; message: string }>;
  readonly submitted = new ThroughputBins();
  objects = 0;
  bytes = 0;
  retriable = 0;
  needsFix = 0;

  constructor(maxKeys: number) {
    this.failures = new GroupCollector(maxKeys);
    this.unfinished = new GroupCollector(maxKeys);
  }

  add(item: ItemState): void {
    this.objects += 1;
    this.bytes += item.size;
    bump(this.byStatus, item.status);
    const action = actionOf(item);
    this.byAction[action] += 1;
    if (action === 'skip' && item.reason) bump(this.skipped, item.reason);
    if (item.status === 'failed') {
      const code = item.lastError?.code ?? 'failed';
      this.failures.add(code, { key: item.key, message: item.lastError?.message ?? '', taskId: item.taskId });
      if (NEEDS_FIX.test(code)) this.needsFix += 1;
      else this.retriable += 1;
    } else if (statusIn(NOT_SUBMITTED, item.status) && item.lastError) {
      this.unfinished.add(item.lastError.code, { key: item.key, message: item.lastError.message });
    }
    const at = item.submittedAt ? Date.parse(item.submittedAt) : Number.NaN;
    if (Number.isFinite(at)) this.submitted.add(at);
  }
}

function runReportOf(state: StateHeader, tally: RunTally, statePath: string, options: ReportOptions): RunReport {
  const runs = [...state.runs].sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  const counters = { submitted: 0, failed: 0, reconciled: 0, retries: 0, throttled: 0 };
  for (const run of runs) for (const name of Object.keys(counters) as Array<keyof typeof counters>) counters[name] += run.counters?.[name] ?? 0;
  const last = runs.at(-1);
  const { byStatus, byAction } = tally;
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
    totals: { objects: tally.objects, bytes: tally.bytes, byStatus, byAction },
    skipped: tally.skipped,
    failures: tally.failures.list(),
    unfinished: tally.unfinished.list(),
    runs: runs.map((r) => ({ runId: r.runId, command: r.command, startedAt: r.startedAt, endedAt: r.endedAt ?? null, outcome: r.outcome, counters: r.counters, ...(r.waits?.length ? { waits: r.waits } : {}), ...(r.budget ? { budget: r.budget } : {}) })),
    counters,
    startedAt: runs[0]?.startedAt ?? null,
    endedAt: last ? (last.endedAt ?? null) : null,
    throughput: tally.submitted.result(),
    next: nextSteps({ state, statePath, planFile: options.planFile, notSubmitted, inFlight, retriable: tally.retriable, needsFix: tally.needsFix }),
  };
}

/** Submissions per interval, the interval chosen so the whole span fits in about 60 points. */
export function throughput(times: number[]): RunReport['throughput'] {
  const bins = new ThroughputBins();
  for (const t of times) bins.add(t);
  return bins.result();
}

/** Bins kept at the finest resolution before coarser ones take over. */
const MAX_BINS = 100_000;

/**
 * Submission times counted in bins as they come, never kept one by one: the same figures as
 * counting each time, in memory bounded by `MAX_BINS`. The bins start at 1 s and become coarser
 * (the next of `INTERVALS` that the current one divides) when there are too many; the interval
 * of the result is always a multiple of the bins', so each bin falls in exactly one interval.
 */
export class ThroughputBins {
  private resolution = 1;
  private bins = new Map<number, number>();
  private first = Number.POSITIVE_INFINITY;
  private last = Number.NEGATIVE_INFINITY;
  private count = 0;

  add(t: number): void {
    this.count += 1;
    if (t < this.first) this.first = t;
    if (t > this.last) this.last = t;
    const bin = Math.floor(t / (this.resolution * 1000));
    this.bins.set(bin, (this.bins.get(bin) ?? 0) + 1);
    if (this.bins.size > MAX_BINS) this.coarsen();
  }

  private coarsen(): void {
    const next = INTERVALS.find((s) => s > this.resolution && s % this.resolution === 0) ?? this.resolution * 2;
    const factor = next / this.resolution;
    const coarser = new Map<number, number>();
    for (const [bin, n] of this.bins) coarser.set(Math.floor(bin / factor), (coarser.get(Math.floor(bin / factor)) ?? 0) + n);
    this.bins = coarser;
    this.resolution = next;
  }

  result(): RunReport['throughput'] {
    if (this.count === 0) return { intervalSeconds: 0, first: null, last: null, perMinute: 0, points: [] };
    const span = (this.last - this.first) / 1000;
    const fits = INTERVALS.filter((s) => s % this.resolution === 0);
    const interval = fits.find((s) => span / s < MAX_POINTS) ?? fits[fits.length - 1] ?? this.resolution;
    const firstSlot = Math.floor(this.first / (interval * 1000));
    const counts = new Array<number>(Math.floor(this.last / (interval * 1000)) - firstSlot + 1).fill(0);
    const perSlot = interval / this.resolution;
    for (const [bin, n] of this.bins) {
      const slot = Math.floor(bin / perSlot) - firstSlot;
      counts[slot] = (counts[slot] ?? 0) + n;
    }
    let cumulative = 0;
    const points = counts.map((submitted, i) => {
      cumulative += submitted;
      return { at: new Date((firstSlot + i) * interval * 1000).toISOString(), submitted, cumulative };
    });
    // Over the busy span only: a single burst counts as one interval, not as zero time.
    const minutes = Math.max(span, interval) / 60;
    return { intervalSeconds: interval, first: new Date(this.first).toISOString(), last: new Date(this.last).toISOString(), perMinute: this.count / minutes, points };
  }
}

function nextSteps(o: { state: StateHeader; statePath: string; planFile: string | undefined; notSubmitted: number; inFlight: number; retriable: number; needsFix: number }): NextStep[] {
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
