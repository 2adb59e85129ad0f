/**
 * One phase of `npm run bench:scale`, in its own process so that its peak RSS is its own:
 *   node --import tsx scripts/bench/scale-phase.ts plan   --n N --plan FILE
 *   node --import tsx scripts/bench/scale-phase.ts apply  --n N --plan FILE --state FILE --tasks FILE [--max-items K]
 *   node --import tsx scripts/bench/scale-phase.ts check  --n N --state FILE --tasks FILE [--partial]
 *   node --import tsx scripts/bench/scale-phase.ts status --state FILE [--json]
 *   node --import tsx scripts/bench/scale-phase.ts report --state FILE --out FILE
 * Each drives the library functions the CLI uses (planMigration + writePlanFile, applyPlanRun on a
 * real StateStore, importStatus, runReport) against the in-process fakes of scale-fakes.ts, and
 * prints, last, one line `BENCH_RESULT {json}` with the phase's figures and its VmHWM.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { runReport } from '../../src/cli/report-command.js';
import { printStatus } from '../../src/cli/status-command.js';
import { systemClock } from '../../src/clock.js';
import { applyPlanRun } from '../../src/executor/apply.js';
import { DEFAULT_REQUIREMENTS, DEFAULT_VIDEO_EXTENSIONS, emptySummary, objectUri, planMigration, type PlanHeader, type PlanOptions } from '../../src/planner/index.js';
import { openPlanFile, writePlanFile } from '../../src/planner/plan-file.js';
import { PLAN_VERSION } from '../../src/planner/types.js';
import { prefetch } from '../../src/sources/prefetch.js';
import { StateStore, loadState } from '../../src/state/index.js';
import { SCALE_BUCKET, ScaleApi, ScaleSource, readTaskLog, scaleKey } from './scale-fakes.js';

const INDEX_ID = 'a'.repeat(24);
const SOURCE = { uri: `s3://${SCALE_BUCKET}`, bucket: SCALE_BUCKET, prefix: '' };

function flag(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? undefined : process.argv[at + 1];
}

function need(name: string): string {
  const value = flag(name);
  if (value === undefined) throw new Error(`scale-phase: --${name} is required`);
  return value;
}

/** The process's peak resident set (VmHWM) in KiB. */
async function peakKiB(): Promise<number> {
  const text = await readFile('/proc/self/status', 'utf8').catch(() => '');
  const m = /VmHWM:\s+(\d+) kB/.exec(text);
  return m ? Number(m[1]) : Math.round(process.resourceUsage().maxRSS);
}

async function plan(): Promise<Record<string, unknown>> {
  const n = Number(need('n'));
  const out = need('plan');
  const options: PlanOptions = { include: [], exclude: [], incremental: true, match: 'filename', probe: false, allFiles: false, extensions: DEFAULT_VIDEO_EXTENSIONS, requirements: DEFAULT_REQUIREMENTS, via: 'tasks' };
  const header: PlanHeader & { planId: string } = { version: PLAN_VERSION, planId: randomUUID(), createdAt: new Date().toISOString(), tool: 'tlmigrate bench:scale', source: SOURCE, indexId: INDEX_ID, indexName: 'scale', options };
  const summary = emptySummary();
  const source = new ScaleSource(n);
  // As the plan command: the listing buffers ahead of the planner (50,000 objects).
  const objects = prefetch(source.list({ prefix: '' }), 50_000);
  const items = planMigration({ source: header.source, objects, videos: [], inFlight: [], ledger: [], options, edges: { videoMetadata: async () => undefined, probe: async () => ({}) } }, summary);
  await writePlanFile(out, header, items, () => summary);
  return { items: n, counts: summary.counts, planBytes: (await stat(out)).size };
}

async function apply(): Promise<Record<string, unknown>> {
  const planPath = need('plan');
  const statePath = need('state');
  const n = Number(need('n'));
  const reader = await openPlanFile(planPath);
  const opened = performance.now();
  const store = await StateStore.open(statePath, { uri: SOURCE.uri, bucket: SOURCE.bucket, prefix: SOURCE.prefix, indexId: INDEX_ID, indexName: 'scale' }, `apply ${planPath}`, 'tlmigrate bench:scale');
  const openMs = performance.now() - opened;
  // At once, for a watcher: a long run's end may come after the watcher stopped waiting.
  process.stderr.write(`opened ${statePath} in ${Math.round(openMs)} ms (load + replay + first checkpoint)\n`);
  const api = new ScaleApi(need('tasks'));
  let submitted = 0;
  let startedMs = 0;
  const stop = new AbortController();
  const maxItems = flag('max-items');
  try {
    const outcome = await applyPlanRun({
      plan: reader,
      planPath,
      statePath,
      store,
      retryFailed: false,
      stop: stop.signal,
      onStarted: () => (startedMs = performance.now() - opened),
      settings: {
        api,
        source: new ScaleSource(n),
        clock: systemClock,
        concurrency: 64,
        presignExpiresSeconds: 3600,
        enableVideoStream: false,
        userMetadata: {},
        // The fake logs a task before it answers, so an intent without a task was never sent: no reason to wait 2 min for a late listing.
        reconcileLagMs: 50,
        reconcileMinAgeMs: 0,
        // --max-items: a resume that stops cleanly after K new items (a time-boxed run at 1M+).
        ...(maxItems === undefined ? {} : { budget: { maxItems: Number(maxItems) } }),
        onEvent: (event) => {
          if (event.type !== 'submitted') return;
          submitted += 1;
          if (submitted % 10_000 === 0) process.stderr.write(`progress submitted ${submitted}\n`);
        },
      },
    });
    const checkpointStarted = performance.now();
    await store.checkpoint();
    const checkpointMs = performance.now() - checkpointStarted;
    return {
      openMs,
      startedMs,
      checkpointMs,
      outcome: outcome.outcome,
      exitCode: outcome.exitCode,
      result: { submitted: outcome.result.submitted, failed: outcome.result.failed, reconciled: outcome.result.reconciled, pending: outcome.result.pending, foundInIndex: outcome.result.foundInIndex },
      creates: api.creates,
      checkpoints: store.stats.checkpoints,
      storeWriteMs: store.stats.writeMs,
      stateBytes: (await stat(statePath)).size,
    };
  } finally {
    await store.close();
    api.close();
  }
}

/**
 * Exactly once: every object of the plan has one task in the API's log, and the state records that
 * task. With --partial (a run stopped by --max-items): no object has two tasks, and every task the
 * API created is the one the state records for its object (none lost, none unknown).
 */
async function check(): Promise<Record<string, unknown>> {
  const n = Number(need('n'));
  const perUri = new Map<string, number>();
  /** Task id (the log's line number, as the fake numbers them) by object. */
  const taskOf = new Map<string, string>();
  let tasks = 0;
  for (const { line } of readTaskLog(need('tasks'))) {
    tasks += 1;
    const uri = String(line.m.tlm_source);
    perUri.set(uri, (perUri.get(uri) ?? 0) + 1);
    taskOf.set(uri, tasks.toString(16).padStart(24, '0'));
  }
  if (process.argv.includes('--partial')) return partialCheck(n, perUri, taskOf, tasks);
  let twice = 0;
  let missing = 0;
  for (let i = 0; i < n; i++) {
    const count = perUri.get(objectUri(SCALE_BUCKET, scaleKey(i))) ?? 0;
    if (count === 0) missing += 1;
    if (count > 1) twice += 1;
  }
  perUri.clear();
  const state = await loadState(need('state'));
  const items = Object.values(state?.items ?? {});
  const taskIds = new Set(items.flatMap((item) => (item.taskId ? [item.taskId] : [])));
  const withoutTask = items.filter((item) => !item.taskId).length;
  const ok = tasks === n && twice === 0 && missing === 0 && withoutTask === 0 && taskIds.size === n && items.length === n;
  return { ok, tasks, objectsWithMoreThanOneTask: twice, objectsWithoutTask: missing, stateItems: items.length, stateItemsWithoutTask: withoutTask, distinctTaskIdsInState: taskIds.size };
}

async function partialCheck(n: number, perUri: Map<string, number>, taskOf: Map<string, string>, tasks: number): Promise<Record<string, unknown>> {
  const twice = [...perUri.values()].filter((count) => count > 1).length;
  perUri.clear();
  const state = await loadState(need('state'));
  let unrecorded = 0;
  let unknown = 0;
  for (const [uri, item] of Object.entries(state?.items ?? {})) {
    const logged = taskOf.get(uri);
    if (logged !== undefined && item.taskId !== logged) unrecorded += 1;
    if (item.taskId !== undefined && logged === undefined) unknown += 1;
  }
  const ok = twice === 0 && unrecorded === 0 && unknown === 0;
  return { ok, partial: true, objects: n, tasks, objectsWithMoreThanOneTask: twice, tasksTheStateDoesNotRecord: unrecorded, stateTaskIdsTheApiNeverCreated: unknown };
}

/** `tlmigrate status` (and `--json`), as the command prints it, to a sink that counts the bytes. */
async function status(): Promise<Record<string, unknown>> {
  let bytes = 0;
  const sink = new Writable({
    write(chunk: Buffer | string, _encoding: BufferEncoding, done: () => void) {
      bytes += chunk.length;
      done();
    },
  });
  await printStatus(need('state'), process.argv.includes('--json'), sink);
  return { json: process.argv.includes('--json'), outputBytes: bytes };
}

/** `tlmigrate report STATE --format html --out FILE`. */
async function report(): Promise<Record<string, unknown>> {
  const out = need('out');
  const sink = createWriteStream('/dev/null');
  const outcome = await runReport({ input: need('state'), format: 'html', out, maxKeys: 20 }, sink);
  sink.end();
  return { kind: outcome.kind, reportBytes: (await stat(out)).size };
}

const PHASES: Record<string, () => Promise<Record<string, unknown>>> = { plan, apply, check, status, report };

const name = process.argv[2] ?? '';
const phase = PHASES[name];
if (!phase) {
  process.stderr.write(`scale-phase: unknown phase '${name}': use one of ${Object.keys(PHASES).join(', ')}\n`);
  process.exit(2);
}
const started = performance.now();
const figures = await phase();
process.stdout.write(`BENCH_RESULT ${JSON.stringify({ phase: name, wallMs: performance.now() - started, peakKiB: await peakKiB(), ...figures })}\n`);
