/**
 * One phase of `npm run bench:scale`, in its own process so that its peak RSS is its own:
 *   node --import tsx scripts/bench/scale-phase.ts seed   --n N --state FILE --ledger L [--videos P]
 *   node --import tsx scripts/bench/scale-phase.ts plan   --n N --plan FILE [--videos P] [--ledger L --state FILE]
 *   node --import tsx scripts/bench/scale-phase.ts apply  --n N --plan FILE --state FILE --tasks FILE [--max-items K] [--state-layout auto|parts|one-file]
 *   node --import tsx scripts/bench/scale-phase.ts check  --n N --state FILE --tasks FILE [--partial]
 *   node --import tsx scripts/bench/scale-phase.ts status --state FILE [--json]
 *   node --import tsx scripts/bench/scale-phase.ts report --state FILE --out FILE
 *   node --import tsx scripts/bench/scale-phase.ts verify --n N [--state FILE]
 *   node --import tsx scripts/bench/scale-phase.ts dedupe --n N [--state FILE]
 * Each drives the library functions the CLI uses (writePlan: index snapshot, ledger, planner, plan file; applyPlanRun on a
 * real StateStore, importStatus, runReport) against the in-process fakes of scale-fakes.ts, and
 * prints, last, one line `BENCH_RESULT {json}` with the phase's figures and its VmHWM.
 */
import { createWriteStream } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { dedupeIndex } from '../../src/cli/dedupe-command.js';
import { runReport } from '../../src/cli/report-command.js';
import { printStatus } from '../../src/cli/status-command.js';
import { systemClock } from '../../src/clock.js';
import { applyPlanRun } from '../../src/executor/apply.js';
import { pino } from 'pino';
import { PLAN_DEFAULTS } from '../../src/cli/options.js';
import { writePlan, type PlanArgs } from '../../src/cli/plan-command.js';
import { verifySource } from '../../src/cli/verify-command.js';
import { isClean } from '../../src/verify/index.js';
import { objectUri } from '../../src/planner/index.js';
import { openPlanFile } from '../../src/planner/plan-file.js';
import { PARTS_THRESHOLD, PartedStore, openRunStore, openStateView, type ItemState } from '../../src/state/index.js';
import { SCALE_BUCKET, ScaleApi, ScaleIndex, ScaleSource, readTaskLog, scaleKey, writeScaleLedger, type ScaleIndexShape } from './scale-fakes.js';

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

/**
 * The plan command's own path (writePlan: the index snapshot, the ledger read from --state, the
 * planner, the plan file) against the fakes. With --videos P / --ledger L (hundredths of N), the
 * index holds P% of the objects (half fingerprinted, half legacy) and the state's ledger L%.
 */
async function plan(): Promise<Record<string, unknown>> {
  const n = Number(need('n'));
  const out = need('plan');
  const shape: ScaleIndexShape = { n, videos: Number(flag('videos') ?? 0), ledger: Number(flag('ledger') ?? 0) };
  const state = flag('state') ?? `${out}.no-state`;
  const args: PlanArgs = { source: SOURCE.uri, index: INDEX_ID, out, state, include: [], exclude: [], ...PLAN_DEFAULTS };
  const lister = new ScaleSource(n);
  const { summary } = await writePlan({ args, spec: { bucket: SCALE_BUCKET, prefix: '' }, api: new ScaleIndex(shape), index: { index_name: 'scale', models: [] }, lister, log: pino({ level: 'silent' }), progress: { update: () => undefined, done: () => undefined } });
  return { items: n, videos: shape.videos, ledger: shape.ledger, counts: summary.counts, indexedBy: summary.indexedBy, planBytes: (await stat(out)).size };
}

/** Writes the state file whose items are the plan's ledger (`--ledger L`, hundredths of N). */
async function seed(): Promise<Record<string, unknown>> {
  const shape: ScaleIndexShape = { n: Number(need('n')), videos: Number(flag('videos') ?? 0), ledger: Number(need('ledger')) };
  const items = await writeScaleLedger(need('state'), shape, INDEX_ID);
  return { ledgerItems: items, stateBytes: (await stat(need('state'))).size };
}

async function apply(): Promise<Record<string, unknown>> {
  const planPath = need('plan');
  const statePath = need('state');
  const n = Number(need('n'));
  const reader = await openPlanFile(planPath);
  const opened = performance.now();
  // As the CLI chooses (auto: a new state in parts past PARTS_THRESHOLD items), or forced either way.
  const layout = flag('state-layout') ?? 'auto';
  const threshold = layout === 'parts' ? 0 : layout === 'one-file' ? Number.POSITIVE_INFINITY : PARTS_THRESHOLD;
  const store = await openRunStore(statePath, { uri: SOURCE.uri, bucket: SOURCE.bucket, prefix: SOURCE.prefix, indexId: INDEX_ID, indexName: 'scale' }, `apply ${planPath}`, 'tlmigrate bench:scale', { planItems: reader.summary.total, threshold });
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
      layout: store instanceof PartedStore ? 'parts' : 'one-file',
      ...(store instanceof PartedStore ? { parts: store.partList().length } : {}),
      stateBytes: await stateBytes(statePath),
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
  const taskIds = new Set<string>();
  let stateItems = 0;
  let withoutTask = 0;
  for await (const [, item] of stateEntries(need('state'))) {
    stateItems += 1;
    if (item.taskId) taskIds.add(item.taskId);
    else withoutTask += 1;
  }
  const ok = tasks === n && twice === 0 && missing === 0 && withoutTask === 0 && taskIds.size === n && stateItems === n;
  return { ok, tasks, objectsWithMoreThanOneTask: twice, objectsWithoutTask: missing, stateItems, stateItemsWithoutTask: withoutTask, distinctTaskIdsInState: taskIds.size };
}

async function partialCheck(n: number, perUri: Map<string, number>, taskOf: Map<string, string>, tasks: number): Promise<Record<string, unknown>> {
  const twice = [...perUri.values()].filter((count) => count > 1).length;
  perUri.clear();
  let unrecorded = 0;
  let unknown = 0;
  for await (const [uri, item] of stateEntries(need('state'))) {
    const logged = taskOf.get(uri);
    if (logged !== undefined && item.taskId !== logged) unrecorded += 1;
    if (item.taskId !== undefined && logged === undefined) unknown += 1;
  }
  const ok = twice === 0 && unrecorded === 0 && unknown === 0;
  return { ok, partial: true, objects: n, tasks, objectsWithMoreThanOneTask: twice, tasksTheStateDoesNotRecord: unrecorded, stateTaskIdsTheApiNeverCreated: unknown };
}

/** The state's items, streamed (one file or in parts). */
async function* stateEntries(path: string): AsyncGenerator<[string, ItemState]> {
  const view = await openStateView(path);
  if (!view) return;
  try {
    yield* view.items();
  } finally {
    await view.close();
  }
}

/** The state's bytes on disk: its file, and its parts when it is in parts. */
async function stateBytes(path: string): Promise<number> {
  let bytes = (await stat(path)).size;
  const folder = `${path}.parts`;
  for (const name of await readdir(folder).catch(() => [])) bytes += (await stat(join(folder, name))).size;
  return bytes;
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

/** The index after a whole migration: every object's video (half fingerprinted, half legacy), each with its ready task. */
const MIGRATED = (n: number): ScaleIndexShape => ({ n, videos: 100, ledger: 0 });
const QUIET = { log: pino({ level: 'silent' }), progress: { update: () => undefined, done: () => undefined } };

/** `tlmigrate verify --source s3://BUCKET --index I [--state FILE]`: the source against the migrated index. */
async function verify(): Promise<Record<string, unknown>> {
  const n = Number(need('n'));
  const edges = { api: new ScaleIndex(MIGRATED(n)), index: { index_name: 'scale', models: [] }, lister: new ScaleSource(n), spec: { bucket: SCALE_BUCKET, prefix: '' } };
  const { result: r } = await verifySource({ source: SOURCE.uri, index: INDEX_ID, state: flag('state'), include: [], exclude: [] }, edges, QUIET);
  return { objects: r.objects, indexed: r.indexed, missing: r.missing.length, unmatched: r.unmatched.length, duplicated: r.duplicated.length, metadataFetches: r.metadataFetches, clean: isClean(r) };
}

/** `tlmigrate dedupe --index I [--state FILE]` (a dry run) over the migrated index: every video and task listed. */
async function dedupe(): Promise<Record<string, unknown>> {
  const n = Number(need('n'));
  const outcome = await dedupeIndex({ index: INDEX_ID, state: flag('state'), yes: false }, { api: new ScaleIndex(MIGRATED(n)), index: { index_name: 'scale' } }, QUIET);
  return { groups: outcome.groups.length, metadataFetches: outcome.metadataFetches };
}

const PHASES: Record<string, () => Promise<Record<string, unknown>>> = { seed, plan, apply, check, status, report, verify, dedupe };

const name = process.argv[2] ?? '';
const phase = PHASES[name];
if (!phase) {
  process.stderr.write(`scale-phase: unknown phase '${name}': use one of ${Object.keys(PHASES).join(', ')}\n`);
  process.exit(2);
}
const started = performance.now();
const figures = await phase();
process.stdout.write(`BENCH_RESULT ${JSON.stringify({ phase: name, wallMs: performance.now() - started, peakKiB: await peakKiB(), ...figures })}\n`);
