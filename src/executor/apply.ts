import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { PlanFileError } from '../errors.js';
import type { LookupTables } from '../planner/lookup.js';
import { planWorkFiles, type PlanReader } from '../planner/plan-file.js';
import { ENDED, NOT_CREATED, PartedStore, failureStage, statusIn, type ItemState, type RunRecord, type RunStore } from '../state/index.js';
import { executePlan } from './executor.js';
import { besideStateUnwritable, followRecordsFile } from './open-items.js';
import { countStatuses, followTasks, type FollowOptions } from './follow.js';
import { mergePlan, type MergedPlan } from './merge-plan.js';
import { PartedSets, disposeMerge, mergePlanParted, partedWork, tallyParted, type PlanTally } from './parted-run.js';
import type { ExecuteOptions, ExecuteResult, QuotaWait } from './types.js';

/** Failed items of the plan, in the words status and logs use too. */
export interface FailureCounts {
  /** Sent (or tried) by this run, or followed by its --wait, and failed. */
  platform: number;
  /** Failed in earlier runs and still failed. */
  earlier: number;
  /** The plan found them unfit: never sent, and they do not change the exit code. */
  preflight: number;
  /** Of platform + earlier: the source object changed or vanished since the plan. */
  sourceGone: number;
}

/** Where one upload item of the plan stands after the run: what a caller from code reads instead of the state file. */
export interface ItemResult {
  uri: string;
  key: string;
  status: ItemState['status'];
  taskId?: string | undefined;
  videoId?: string | undefined;
  assetId?: string | undefined;
  indexedAssetId?: string | undefined;
  error?: { code: string; message: string } | undefined;
}

/** What the run left for the next one: items not created yet, and their video seconds when known. */
export interface Left {
  items: number;
  videoSeconds?: number;
}

export interface ApplyRunResult {
  runId: string;
  outcome: NonNullable<RunRecord['outcome']>;
  /** 0 done, 1 failed items (or a quota stop), 130 interrupted: the CLI's exit code. */
  exitCode: number;
  /** This run's counters. */
  result: ExecuteResult;
  /** Items per status in the whole state after the run (and its --wait). */
  counts: Record<string, number>;
  failures: FailureCounts;
  left: Left;
  waits: RunRecord['waits'];
  /** Every upload item of the plan, in plan order (built on first read); empty for a state in parts (read the state instead: `status()`, `openStateView`). */
  readonly items: ItemResult[];
}

/** The execution settings a caller chooses; the run fills in the rest (store, run id, the plan's items). */
export type RunSettings = Omit<ExecuteOptions, 'store' | 'runId' | 'uris' | 'recorded' | 'durations' | 'onQuotaWait' | 'indexId' | 'bucket' | 'stop' | 'censusTables'>;

export interface ApplyRunInput {
  plan: PlanReader;
  /** The plan's path, recorded in the run and named in a refusal. */
  planPath: string;
  /** The state's path, named in a refusal. */
  statePath: string;
  store: RunStore;
  settings: RunSettings;
  retryFailed: boolean;
  /** Follow what was created until it ends (`--wait`), polling this often. */
  wait?: { api: FollowOptions['api']; pollMs: number; onProgress?: (counts: Record<string, number>) => void } | undefined;
  stop: AbortSignal;
  /** Told of each quota wait after the run recorded it (for a progress line). */
  onQuotaWait?: ((wait: QuotaWait) => void) | undefined;
  /** Told every 10,000 plan items merged into the state (a plan of millions takes minutes to merge). */
  onMerging?: ((merged: number, total: number) => void) | undefined;
  /** Told once the plan is merged and the run recorded: how many items it works on. */
  onStarted?: ((runId: string, items: number) => void) | undefined;
  /** Told once the sending is over, before --wait follows. */
  onExecuted?: (() => void) | undefined;
  runId?: string | undefined;
}

/**
 * Apply one plan to one state, as a use case: refuse a stale plan, merge the plan into the state,
 * record the run, execute, follow with --wait, and decide the outcome and exit code. The caller
 * builds the clients and closes the store.
 */
export async function applyPlanRun(input: ApplyRunInput): Promise<ApplyRunResult> {
  const { plan, store } = input;
  const { header } = plan;
  const last = store.lastPlan;
  if (last && last.planId !== header.planId && last.createdAt > header.createdAt) {
    throw new PlanFileError('plan_stale', `plan ${input.planPath} (created ${header.createdAt}) is older than the plan last applied to ${input.statePath} (created ${last.createdAt}): re-run tlmigrate plan`);
  }
  if (header.planId) await store.setLastPlan({ planId: header.planId, createdAt: header.createdAt });
  const counted = countedPlan(plan, input.onMerging);
  const work = store instanceof PartedStore ? await partedPlan(store, counted, input.retryFailed) : await plainPlan(store, counted, input.retryFailed);
  const census = censusTables(input.statePath);
  try {
    const run = newRun(input.runId ?? randomUUID(), header.planId, input.planPath);
    await store.setRun(run);
    input.onStarted?.(run.runId, work.count);
    try {
      return await execute(input, work, run, census.tables);
    } catch (error) {
      run.outcome = input.stop.aborted ? 'interrupted' : 'error';
      run.endedAt = new Date().toISOString();
      await store.setRun(run).catch(() => undefined);
      throw error;
    }
  } finally {
    census.remove();
    await work.dispose();
  }
}

/**
 * The census's holdings in a private temporary file beside the state (`<state>.lookup-<pid>`,
 * written past its first MiB only), removed when the run ends or the process exits: the planner's
 * work files, none kept in memory.
 */
function censusTables(statePath: string): { tables: LookupTables; remove(): void } {
  return planWorkFiles(statePath, { memoryBytes: 0, unwritable: besideStateUnwritable });
}

/** The plan whose items tell `onMerging` how far the merge got, every 10,000. */
function countedPlan(plan: PlanReader, onMerging: ApplyRunInput['onMerging']): PlanReader {
  if (!onMerging) return plan;
  return {
    ...plan,
    items: async function* () {
      let n = 0;
      for await (const item of plan.items()) {
        if (++n % 10_000 === 0) onMerging(n, plan.summary.total);
        yield item;
      }
    },
  };
}

/** The plan merged into the state, as the run needs it: what to execute, and the tally its outcome is decided on. */
interface MergedWork {
  /** Items this run works on. */
  count: number;
  execute: Pick<ExecuteOptions, 'uris' | 'recorded' | 'durations' | 'windows'>;
  tally(): Promise<PlanTally>;
  /** Per upload item of the plan (a state in parts gives none: read the state instead). */
  results(): ItemResult[];
  dispose(): Promise<void>;
}

/** A state in memory or in one file: the merge's lists in memory. */
async function plainPlan(store: RunStore, plan: PlanReader, retryFailed: boolean): Promise<MergedWork> {
  const merged = await mergePlan(store, plan.items(), plan.header.source.bucket, retryFailed);
  const failedBefore = new Set(merged.uploads.filter((uri) => store.item(uri)?.status === 'failed'));
  const working = new Set(merged.uris);
  const recorded = merged.uploads.filter((uri) => !working.has(uri));
  working.clear();
  return {
    count: merged.uris.length,
    execute: { uris: merged.uris, recorded, durations: merged.durations },
    tally: () => Promise.resolve(tallyPlain(store, merged, failedBefore)),
    results: () => itemResults(store, merged.uploads),
    dispose: () => Promise.resolve(),
  };
}

/** A state in parts: the plan merged a part at a time, the work spooled and taken back in windows. */
async function partedPlan(store: PartedStore, plan: PlanReader, retryFailed: boolean): Promise<MergedWork> {
  const sets = new PartedSets(store);
  const merged = await mergePlanParted(store, plan.items(), plan.header.source.bucket, retryFailed, sets);
  const durations = new Map<string, number>();
  try {
    const windows = await partedWork(store, merged, sets, durations);
    return {
      count: merged.work,
      execute: { uris: [], windows, durations },
      tally: () => tallyParted(store, merged),
      results: () => [],
      dispose: () => disposeMerge(merged),
    };
  } catch (error) {
    await disposeMerge(merged);
    throw error;
  }
}

function newRun(runId: string, planId: string | undefined, planPath: string): RunRecord {
  return {
    runId,
    command: 'apply',
    pid: process.pid,
    startedAt: new Date().toISOString(),
    endedAt: null,
    planId,
    plan: resolve(planPath),
    counters: { submitted: 0, failed: 0, reconciled: 0, retries: 0, throttled: 0 },
  };
}

async function execute(input: ApplyRunInput, work: MergedWork, run: RunRecord, censusTables: LookupTables): Promise<ApplyRunResult> {
  const { store, plan, stop } = input;
  const writesAtStart = store.changeCount;
  const result = await executePlan({
    ...input.settings,
    store,
    stop,
    runId: run.runId,
    indexId: plan.header.indexId,
    bucket: plan.header.source.bucket,
    ...work.execute,
    censusTables,
    onQuotaWait: async (wait) => {
      run.waits = [...(run.waits ?? []), wait];
      await store.setRun(run);
      input.onQuotaWait?.(wait);
    },
  });
  input.onExecuted?.();
  run.counters = { submitted: result.submitted, failed: result.failed, reconciled: result.reconciled, retries: result.retries, throttled: result.throttled };
  if (result.bytesStreamed) run.bytesStreamed = result.bytesStreamed;
  const quiet = store.changeCount === writesAtStart && isEmpty(result);
  await store.setRun(run);
  const writesBeforeWait = store.changeCount;
  const counts = input.wait && !result.interrupted && !result.quota && !result.budget ? await follow(input, input.wait) : store instanceof PartedStore ? await store.statusCounts() : await countStatuses(store);
  const end = settleRun(run, result, await work.tally(), { interrupted: result.interrupted || stop.aborted, waited: input.wait !== undefined });
  // A run that found nothing to do leaves no empty entry in the runs history.
  if (run.outcome === 'completed' && quiet && store.changeCount === writesBeforeWait) await store.forgetRun(run.runId);
  else await store.setRun(run);
  // Built when read (the library reads it; the CLI does not): a million results are ~200 MB.
  let items: ItemResult[] | undefined;
  return {
    runId: run.runId,
    outcome: run.outcome ?? 'completed',
    result,
    counts,
    waits: run.waits,
    get items() {
      return (items ??= work.results());
    },
    ...end,
  };
}

async function follow(input: ApplyRunInput, wait: NonNullable<ApplyRunInput['wait']>): Promise<Record<string, number>> {
  const { store, stop, settings, plan } = input;
  const records = followRecordsFile(input.statePath);
  return followTasks({ api: wait.api, via: settings.via ?? 'tasks', store, clock: settings.clock, indexId: plan.header.indexId, pollMs: wait.pollMs, signal: stop, onProgress: (c) => wait.onProgress?.(c), records }).catch(
    (error: unknown) => {
      if (stop.aborted) return countStatuses(store);
      throw error;
    },
  );
}

/** The run's outcome, its record's end, and the exit code: they speak for the plan, not for this run alone. */
function settleRun(run: RunRecord, result: ExecuteResult, tally: PlanTally, o: { interrupted: boolean; waited: boolean }): { exitCode: number; failures: FailureCounts; left: Left } {
  // Killed and resumed, or run in one go, the same plan ends the same way.
  const { failures } = tally;
  const notReady = o.waited ? tally.notReady : 0;
  run.outcome = o.interrupted ? 'interrupted' : result.quota ? 'quota' : result.budget ? 'budget' : failures.platform > 0 || result.pending > 0 ? 'failed_items' : 'completed';
  const left: Left = { items: tally.leftItems, ...(tally.leftSeconds !== undefined ? { videoSeconds: tally.leftSeconds } : {}) };
  if (result.budget) run.budget = { reason: result.budget.reason, used: result.used ?? { items: 0, videoSeconds: 0 }, left };
  run.endedAt = new Date().toISOString();
  const failedAny = failures.platform + failures.earlier > 0;
  const exitCode = o.interrupted ? 130 : result.quota ? 1 : result.budget ? (failedAny ? 1 : 0) : failedAny || result.pending > 0 || notReady > 0 ? 1 : 0;
  return { exitCode, failures, left };
}

/** The plan's failed items by where they failed (this run, earlier runs, the plan's preflight), what is not ready, what is left. */
function tallyPlain(store: RunStore, merged: MergedPlan, failedBefore: ReadonlySet<string>): PlanTally {
  const failed = (uri: string) => store.item(uri)?.status === 'failed';
  const uploadFailed = merged.uploads.filter(failed);
  const gone = (uri: string) => ['source_missing', 'source_changed'].includes(store.item(uri)?.lastError?.code ?? '');
  const leftItems = merged.uploads.filter((uri) => statusIn(NOT_CREATED, store.item(uri)?.status));
  return {
    failures: {
      platform: uploadFailed.filter((uri) => !failedBefore.has(uri)).length,
      earlier: uploadFailed.filter((uri) => failedBefore.has(uri)).length,
      preflight: merged.preflight.filter((uri) => failed(uri) && failureStage(store.item(uri) ?? {}) === 'preflight').length,
      sourceGone: uploadFailed.filter(gone).length,
    },
    notReady: merged.uploads.filter((uri) => !statusIn(ENDED, store.item(uri)?.status ?? 'ready')).length,
    leftItems: leftItems.length,
    leftSeconds: merged.durations.size ? leftItems.reduce((sum, uri) => sum + (merged.durations.get(uri) ?? 0), 0) : undefined,
  };
}

function itemResults(store: RunStore, uploads: readonly string[]): ItemResult[] {
  return uploads.flatMap((uri) => {
    const item = store.item(uri);
    if (!item) return [];
    return [
      {
        uri,
        key: item.key,
        status: item.status,
        ...(item.taskId ? { taskId: item.taskId } : {}),
        ...(item.videoId ? { videoId: item.videoId } : {}),
        ...(item.assetId ? { assetId: item.assetId } : {}),
        ...(item.indexedAssetId ? { indexedAssetId: item.indexedAssetId } : {}),
        ...(item.lastError ? { error: { code: item.lastError.code, message: item.lastError.message } } : {}),
      },
    ];
  });
}

/** Nothing sent, found, failed or retried. */
function isEmpty(r: ExecuteResult): boolean {
  return r.submitted + r.failed + r.reconciled + r.foundInIndex + r.duplicates + r.gone + r.pending + r.undecided + r.retries + r.throttled === 0 && !r.interrupted && !r.quota;
}
