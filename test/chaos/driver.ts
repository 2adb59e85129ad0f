import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadState, openStateView, stateLayout } from '../../src/state/index.js';
import type { ItemState, StateFile } from '../../src/state/index.js';
import { collect, startCli, type CliResult } from '../helpers/cli.js';
import { startS3FaultProxy, type S3FaultProxy, type S3FaultRule } from '../helpers/s3-fault-proxy.js';
import { deleteBucketRecursive, putObjects } from '../helpers/s3.js';
import { uniqueValidVideo } from '../helpers/videos.js';
import { makeWorld, type World } from '../helpers/world.js';
import { mulberry32 } from '../sim/faults.js';
import { API_READINGS, readings, type ApiReading, type ApiVariants, type FaultConfig } from '../sim/index.js';

/**
 * The chaos driver: for each seed, a fresh bucket behind a fault-injecting S3 proxy and a fresh
 * simulator; a plan under S3 SlowDown; objects deleted, overwritten or denied before apply; a
 * few applies killed (kill -9) at seeded instants under seeded API faults, one faulty apply left
 * to finish, then clean resumes. The seed drives every random choice of the schedule (faults,
 * their rates, kill instants, which objects change); the processes' own timing is the only
 * thing it does not fix. After each seed the invariants are checked; a broken one is a problem.
 */

export interface ChaosOptions {
  seeds: readonly number[];
  /** Seeds run at once (each has its own bucket, simulator, proxy and folder). */
  parallel?: number;
  /** Apply cycles per seed that are killed: at least `minKills`, at most `maxKills`. */
  minKills?: number;
  maxKills?: number;
  /** The simulator plays these readings of the disputed API points (default: its defaults). */
  variants?: Partial<ApiVariants>;
  /** More environment for every CLI run (e.g. TLMIGRATE_PARTS_THRESHOLD=0: the state in parts). */
  env?: Record<string, string>;
  log?: (line: string) => void;
}

export interface SeedReport {
  seed: number;
  objects: number;
  faults: number;
  faultsByKind: Record<string, number>;
  kills: number;
  /** Times the state file was deleted between runs. */
  stateLosses: number;
  duplicates: number;
  lost: number;
  problems: string[];
  exitCodes: Array<number | string>;
  /** What each apply cycle was given: faults, concurrency, kill instant. */
  schedule: string[];
  wallMs: number;
}

export interface ChaosSummary {
  seeds: number;
  faults: number;
  faultsByKind: Record<string, number>;
  kills: number;
  stateLosses: number;
  duplicates: number;
  lost: number;
  wallMs: number;
  reports: SeedReport[];
}

/** `chaos: S seeds, F faults injected, K kills, X state files lost, D duplicates, L lost` */
export function formatSummary(s: ChaosSummary): string {
  return `chaos: ${s.seeds} seeds, ${s.faults} faults injected, ${s.kills} kills, ${s.stateLosses} state files lost, ${s.duplicates} duplicates, ${s.lost} lost`;
}

/** CHAOS_READINGS (comma-separated names of API_READINGS) as simulator variants; none: the defaults. */
export function readingsFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<ApiVariants> | undefined {
  const names = (env.CHAOS_READINGS ?? '').split(',').map((n) => n.trim()).filter((n) => n !== '');
  if (names.length === 0) return undefined;
  const unknown = names.filter((n) => !(n in API_READINGS));
  if (unknown.length > 0) throw new Error(`CHAOS_READINGS: unknown ${unknown.join(', ')}; known: ${Object.keys(API_READINGS).join(', ')}`);
  return readings(...(names as ApiReading[]));
}

/** The seeds a run covers: CHAOS_SEEDS of them from CHAOS_FIRST_SEED (default 1). */
export function seedsFromEnv(defaultCount: number, env: NodeJS.ProcessEnv = process.env): number[] {
  const count = Number(env.CHAOS_SEEDS ?? defaultCount);
  const first = Number(env.CHAOS_FIRST_SEED ?? 1);
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(first)) throw new Error(`CHAOS_SEEDS=${env.CHAOS_SEEDS} / CHAOS_FIRST_SEED=${env.CHAOS_FIRST_SEED}: whole numbers, please`);
  return Array.from({ length: count }, (_, i) => first + i);
}

export async function runChaos(options: ChaosOptions): Promise<ChaosSummary> {
  const started = performance.now();
  const reports: SeedReport[] = [];
  const queue = [...options.seeds];
  const worker = async () => {
    for (let seed = queue.shift(); seed !== undefined; seed = queue.shift()) {
      const report = await runSeed(seed, options);
      options.log?.(describeSeed(report));
      reports.push(report);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.parallel ?? 2) }, worker));
  reports.sort((a, b) => a.seed - b.seed);
  const faultsByKind: Record<string, number> = {};
  for (const r of reports) for (const [k, n] of Object.entries(r.faultsByKind)) faultsByKind[k] = (faultsByKind[k] ?? 0) + n;
  return {
    seeds: reports.length,
    faults: sum(reports.map((r) => r.faults)),
    faultsByKind,
    kills: sum(reports.map((r) => r.kills)),
    stateLosses: sum(reports.map((r) => r.stateLosses)),
    duplicates: sum(reports.map((r) => r.duplicates)),
    lost: sum(reports.map((r) => r.lost)),
    wallMs: Math.round(performance.now() - started),
    reports,
  };
}

export function describeSeed(r: SeedReport): string {
  const kinds = Object.entries(r.faultsByKind)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  const schedule = r.problems.length > 0 || process.env.CHAOS_VERBOSE ? `\n  schedule: ${r.schedule.join(' | ')}` : '';
  return `seed ${r.seed}: ${r.objects} objects, ${r.faults} faults (${kinds}), ${r.kills} kills, ${r.stateLosses} state losses, exits [${r.exitCodes.join(' ')}], ${r.duplicates} duplicates, ${r.lost} lost, ${(r.wallMs / 1000).toFixed(1)} s${schedule}${r.problems.length ? `\n  PROBLEMS:\n  - ${r.problems.join('\n  - ')}` : ''}`;
}

const RECONCILE_LAG_S = 0.4;
const SLOW_TIMEOUT_S = 1;
const NORMAL_TIMEOUT_S = 5;
const CLI_TIMEOUT_MS = 150_000;

interface PlanFileItem {
  key: string;
  action: 'upload' | 'skip' | 'fail';
  reason?: string;
  etag: string;
}

interface ApplyJson {
  runId: string;
  exitCode: number;
  submitted: number;
  failed: number;
  pending: number;
  quota: unknown;
}

type Random = () => number;

async function runSeed(seed: number, options: ChaosOptions): Promise<SeedReport> {
  const started = performance.now();
  const random = mulberry32(seed * 7919 + 17);
  const problems: string[] = [];
  const exitCodes: Array<number | string> = [];
  const schedule: string[] = [];
  const mutationFaults: Record<string, number> = { deleted: 0, overwritten: 0 };
  let kills = 0;
  let stateLosses = 0;
  let duplicates = 0;
  let lost = 0;
  let objects = 0;
  let w: World | undefined;
  let proxy: S3FaultProxy | undefined;
  try {
    w = await makeWorld(`chaos-${seed}`, { lifecycle: { validatingMs: 30, pendingMs: 20, queuedMs: 20, indexingMs: 30 }, ...(options.variants ? { variants: options.variants } : {}) });
    const world = w;
    proxy = await startS3FaultProxy(w.s3info.endpoint);
    const fproxy = proxy;
    const env = { ...w.env, AWS_ENDPOINT_URL_S3: proxy.endpoint, ...options.env };

    // The source: distinct videos, two keys sharing a file name, a copy, a sidecar, one "already imported".
    const prefix = `s${seed}`;
    const count = 6 + Math.floor(random() * 6);
    const put: Array<{ key: string; body: Buffer | string }> = [];
    for (let i = 0; i < count; i++) put.push({ key: `${prefix}/d${i % 3}/clip ${i}.mp4`, body: await uniqueValidVideo(seed * 1000 + i) });
    put.push({ key: `${prefix}/a/same.mp4`, body: await uniqueValidVideo(seed * 1000 + 900) });
    put.push({ key: `${prefix}/b/same.mp4`, body: await uniqueValidVideo(seed * 1000 + 901) });
    put.push({ key: `${prefix}/z-copy/clip 0.mp4`, body: put[0]?.body ?? '' });
    put.push({ key: `${prefix}/meta.json`, body: '{"sidecar":true}' });
    put.push({ key: `${prefix}/legacy/imported before.mp4`, body: await uniqueValidVideo(seed * 1000 + 950) });
    const written = await putObjects(w.s3, w.bucket, put);
    objects = written.length;
    const legacy = written.find((o) => o.key.endsWith('imported before.mp4'));
    // The old import named its video the way this server names videos fetched from a URL.
    const legacyName = options.variants?.urlFilename === 'encoded' ? 'imported%20before.mp4' : 'imported before.mp4';
    w.sim.seedVideo(w.indexId, { filename: legacyName, size: legacy?.size ?? 0 });

    // Plan, with S3 SlowDown and resets on the listing.
    fproxy.setRules(
      [
        { kinds: ['list'], action: 'slowdown', rate: 0.2 + random() * 0.4, maxInARow: 2 },
        { kinds: ['list'], action: 'reset', rate: random() * 0.3, maxInARow: 2 },
      ],
      seed,
    );
    const planFile = join(w.dir, 'plan.json');
    const planStarted = performance.now();
    const planned = await cli(['plan', '--source', `s3://${w.bucket}/${prefix}/`, '--index', w.indexId, '--out', planFile], env, w.dir);
    exitCodes.push(`plan:${planned.code}`);
    schedule.push(`plan s3 ${fproxy.rules()} took ${Math.round(performance.now() - planStarted)} ms`);
    if (planned.code !== 0) throw new Error(`plan exited ${planned.code}: ${planned.stderr}`);
    const items = readPlanItems(planFile);
    const uploads = items.filter((i) => i.action === 'upload').map((i) => i.key);
    expectPlan(items, written, prefix, problems);

    // Between plan and apply: one object deleted, one overwritten, one denied (each likely, not certain).
    const pool = shuffle(
      uploads.filter((k) => !k.endsWith('same.mp4')),
      random,
    );
    const deleted = random() < 0.7 ? pool.shift() : undefined;
    const overwritten = random() < 0.7 ? pool.shift() : undefined;
    const denied = random() < 0.6 ? pool.shift() : undefined;
    if (deleted) {
      await w.s3.send(new DeleteObjectCommand({ Bucket: w.bucket, Key: deleted }));
      mutationFaults.deleted = 1;
    }
    if (overwritten) {
      await w.s3.send(new PutObjectCommand({ Bucket: w.bucket, Key: overwritten, Body: await uniqueValidVideo(seed * 1000 + 999) }));
      mutationFaults.overwritten = 1;
    }
    const expectedFailure = new Map<string, string>();
    if (deleted) expectedFailure.set(deleted, 'source_missing');
    if (overwritten) expectedFailure.set(overwritten, 'source_changed');
    if (denied) expectedFailure.set(denied, 'source_access_denied');
    const shouldUpload = uploads.filter((k) => !expectedFailure.has(k));
    const denyRule: S3FaultRule[] = denied ? [{ kinds: ['head', 'get', 'presigned-get'], action: 'deny', rate: 1, keys: [denied] }] : [];

    const statePath = join(w.dir, 'tlmigrate-state.json');
    let runNo = 0;
    const applyArgs = (timeoutS: number, concurrency: number) => [
      'apply', planFile, '--json', '--wait', '--poll-interval', '0.2', '--concurrency', String(concurrency),
      '--log-level', 'debug', '--log-file', join(world.dir, `apply-${++runNo}.log`),
      '--reconcile-lag', String(RECONCILE_LAG_S), '--request-timeout', String(timeoutS),
    ];
    const checkCompleted = async (result: CliResult, label: string, final: boolean): Promise<ApplyJson | undefined> => {
      exitCodes.push(`${label}:${result.code}`);
      const state = await validState(statePath, problems, label);
      if (!state) return undefined;
      if (result.code === 2 && !final && /^tlmigrate: (GET|POST) \S+: (5\d\d|\S+ no answer|connection failed)|^tlmigrate: cannot (reach|write)|^tlmigrate: S3 read/m.test(result.stderr)) return undefined;
      let out: ApplyJson;
      try {
        out = JSON.parse(result.stdout.trim().split('\n').pop() ?? '') as ApplyJson;
      } catch {
        problems.push(`${label}: exit ${result.code} without a JSON result: ${result.stderr.trim().slice(0, 400)}`);
        return undefined;
      }
      const expected = expectedExit(state, uploads.map((k) => uri(world.bucket, k)), out);
      if (result.code !== expected || out.exitCode !== result.code) problems.push(`${label}: exit ${result.code} (JSON says ${out.exitCode}), expected ${expected}: ${JSON.stringify(out)}`);
      return out;
    };

    // Cycles: applies under seeded API and S3 faults, killed at seeded instants.
    const kill = (options.minKills ?? 1) + Math.floor(random() * ((options.maxKills ?? 3) - (options.minKills ?? 1) + 1));
    const losesState = random() < 0.35;
    for (let cycle = 0; cycle <= kill; cycle++) {
      const faults = randomApiFaults(random, seed * 100 + cycle);
      const timeoutS = faults.slowResponse ? SLOW_TIMEOUT_S : NORMAL_TIMEOUT_S;
      w.sim.faults.reset();
      w.sim.faults.set(faults);
      fproxy.setRules(
        [
          ...denyRule,
          ...(random() < 0.5 ? [{ kinds: ['head'], action: 'slowdown', rate: 0.2 + random() * 0.4, maxInARow: 2 } satisfies S3FaultRule] : []),
          ...(random() < 0.3 ? [{ kinds: ['head'], action: 'reset', rate: random() * 0.3, maxInARow: 1 } satisfies S3FaultRule] : []),
        ],
        seed * 100 + cycle,
      );
      const concurrency = 1 + Math.floor(random() * 6);
      const killAfterMs = cycle < kill ? Math.floor(random() * 1500) : undefined;
      schedule.push(`c${cycle} x${concurrency} ${JSON.stringify({ ...faults, seed: undefined })} s3 ${fproxy.rules()}${killAfterMs === undefined ? '' : ` kill@${killAfterMs}ms`}`);
      const cycleStarted = performance.now();
      const child = startCli(applyArgs(timeoutS, concurrency), env, { cwd: w.dir });
      const done = collect(child, CLI_TIMEOUT_MS);
      if (killAfterMs !== undefined) {
        await waitForLock(child, statePath);
        await sleep(killAfterMs);
        if (child.exitCode === null && child.signalCode === null && child.kill('SIGKILL')) kills += 1;
      }
      const result = await done;
      schedule.push(`c${cycle} took ${Math.round(performance.now() - cycleStarted)} ms`);
      if (result.signal === 'SIGKILL') {
        exitCodes.push('kill');
        await validState(statePath, problems, `cycle ${cycle} (killed)`);
      } else await checkCompleted(result, `cycle ${cycle}`, false);
      // Some seeds lose the state file between runs: the index alone must then keep every object to one task.
      if (losesState && random() < 0.6) {
        // Between runs, not during one: the killed run's last requests land (slow answers, listing lag) first.
        await sleep(SLOW_TIMEOUT_S * 1000 + 1500);
        rmSync(statePath, { force: true });
        rmSync(`${statePath}.journal`, { force: true });
        rmSync(`${statePath}.journal.next`, { force: true });
        rmSync(`${statePath}.parts`, { recursive: true, force: true });
        stateLosses += 1;
        schedule.push(`c${cycle}: state file deleted`);
      }
    }

    // Clean resumes: API faults off, the denied object still denied. Ambiguous reconciliations may need a second pass.
    w.sim.faults.reset();
    fproxy.setRules(denyRule, seed);
    let final: ApplyJson | undefined;
    for (let pass = 0; pass < 3; pass++) {
      const passStarted = performance.now();
      const result = await cli(applyArgs(NORMAL_TIMEOUT_S, 4), env, w.dir);
      schedule.push(`final ${pass} took ${Math.round(performance.now() - passStarted)} ms`);
      final = await checkCompleted(result, `final ${pass}`, true);
      if (!final || final.pending === 0) break;
    }

    // Invariants.
    const bySource = w.sim.counts().tasksBySourcePath;
    const wanted = new Set(shouldUpload.map((k) => `/${world.bucket}/${k}`));
    for (const [path, n] of bySource) {
      if (n > 1) {
        duplicates += n - 1;
        problems.push(`${n} tasks for ${path}`);
      }
      if (!wanted.has(path)) problems.push(`a task for ${path}, which should not have been uploaded`);
    }
    const state = await validState(statePath, problems, 'end');
    if (options.env?.TLMIGRATE_PARTS_THRESHOLD === '0' && existsSync(statePath) && (await stateLayout(statePath)) !== 'parts') problems.push('end: the state is not in parts though TLMIGRATE_PARTS_THRESHOLD=0');
    for (const key of shouldUpload) {
      const item = state?.items[uri(w.bucket, key)];
      const tasks = bySource.get(`/${w.bucket}/${key}`) ?? 0;
      const task = w.sim.tasks(w.indexId).find((t) => t.sourcePath === `/${world.bucket}/${key}`);
      // A state rebuilt from the index (after a loss) knows a ready video by its id; its task id only when it found the task in flight.
      const same = item?.taskId === task?.id || (item?.taskId === undefined && item?.videoId !== undefined && item.videoId === task?.videoId);
      if (tasks === 0 || !item || item.status !== 'ready' || !task || !same) {
        lost += 1;
        problems.push(`lost ${key}: ${tasks} tasks, state ${item ? `${item.status} task ${item.taskId ?? '-'} (sim ${task?.id ?? '-'}) ${item.lastError?.code ?? ''}` : 'missing'}`);
      }
    }
    for (const [key, code] of expectedFailure) {
      const item = state?.items[uri(w.bucket, key)];
      if (item?.status !== 'failed' || item.lastError?.code !== code) {
        lost += 1;
        problems.push(`${key} should be failed ${code}, is ${item?.status ?? 'missing'} ${item?.lastError?.code ?? ''}`);
      } else if (code !== 'source_access_denied' && !/re-plan/.test(item.lastError.message)) problems.push(`${key}: ${code} without the advice to re-plan: ${item.lastError.message}`);
    }
    for (const planned of items.filter((i) => i.action !== 'upload')) {
      const item = state?.items[uri(w.bucket, planned.key)];
      const accounted = planned.action === 'fail' ? item?.status === 'failed' && Boolean(item.lastError?.code) : (item?.status === 'skipped' || item?.status === 'ready') && item.reason === planned.reason;
      if (!accounted) {
        lost += 1;
        problems.push(`${planned.key} (${planned.action} ${planned.reason ?? ''}) not accounted for: ${JSON.stringify(item)}`);
      }
    }
    const finalExpected = expectedFailure.size > 0 ? 1 : 0;
    if (final && final.exitCode !== finalExpected) problems.push(`final exit ${final.exitCode}, expected ${finalExpected}`);

    const simFaults: Record<string, number> = {};
    for (const r of w.sim.requests) if (r.fault) simFaults[r.fault] = (simFaults[r.fault] ?? 0) + 1;
    const faultsByKind: Record<string, number> = {
      ...simFaults,
      s3SlowDown: fproxy.injected.slowdown,
      s3Reset: fproxy.injected.reset,
      s3AccessDenied: fproxy.injected.deny,
      ...mutationFaults,
    };
    const report: SeedReport = { seed, objects, faults: sum(Object.values(faultsByKind)), faultsByKind, kills, stateLosses, duplicates, lost, problems, exitCodes, schedule, wallMs: Math.round(performance.now() - started) };
    if (problems.length === 0 && !process.env.CHAOS_KEEP) {
      rmSync(w.dir, { recursive: true, force: true });
      await deleteBucketRecursive(w.s3, w.bucket).catch(() => undefined);
    } else if (problems.length > 0) problems.push(`files kept in ${w.dir}`);
    return report;
  } catch (error) {
    problems.push(`seed ${seed} stopped: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return { seed, objects, faults: 0, faultsByKind: {}, kills, stateLosses, duplicates, lost, problems, exitCodes, schedule, wallMs: Math.round(performance.now() - started) };
  } finally {
    await proxy?.close();
    await w?.close();
  }
}

/** API faults for one apply cycle; every switch is seeded, none is always on. */
function randomApiFaults(random: Random, seed: number): FaultConfig {
  const faults: FaultConfig = { seed };
  if (random() < 0.45) {
    const retryAfter = random() < 0.5;
    faults.rateLimit = { limit: 2 + Math.floor(random() * 5), windowMs: 1000, retryAfter, headers: retryAfter ? random() < 0.5 : random() < 0.3 };
  }
  if (random() < 0.4) faults.error5xx = { rate: 0.05 + random() * 0.15 };
  if (random() < 0.6) {
    const modes = ['drop', '500', 'reset'] as const;
    faults.postAcceptThenFail = { rate: 0.15 + random() * 0.3, mode: modes[Math.floor(random() * modes.length)] ?? 'drop' };
  }
  if (random() < 0.25) faults.slowResponse = { ms: SLOW_TIMEOUT_S * 1000 + 500, routes: ['POST /tasks'] };
  // Within the reconcile lag: a task listed later than that is, by the protocol's contract, not found.
  if (random() < 0.4) faults.taskVisibilityLagMs = Math.floor(random() * RECONCILE_LAG_S * 600);
  if (random() < 0.3) faults.latency = { ms: { min: 0, max: 20 + random() * 40 } };
  if (random() < 0.08) faults.dailyQuota = { limit: Math.floor(random() * 4), headers: true };
  return faults;
}

/**
 * The exit code a completed apply must have: 130 never (nobody interrupts it), 1 on a quota stop,
 * on an upload item of the plan failed (by this run or an earlier one), pending, or (with --wait)
 * not yet ready; else 0.
 */
function expectedExit(state: StateFile, uploadUris: string[], out: ApplyJson): number {
  if (out.quota) return 1;
  const items = uploadUris.map((u) => state.items[u]).filter((i): i is ItemState => i !== undefined);
  const unfinished = items.some((i) => i.status !== 'ready' && i.status !== 'failed');
  const failed = items.some((i) => i.status === 'failed');
  return unfinished || failed || out.pending > 0 ? 1 : 0;
}

function expectPlan(items: PlanFileItem[], written: Array<{ key: string }>, prefix: string, problems: string[]): void {
  const keys = items.map((i) => i.key).sort();
  const want = written.map((o) => o.key).sort();
  if (JSON.stringify(keys) !== JSON.stringify(want)) problems.push(`plan lists ${keys.length} keys, the bucket holds ${want.length}`);
  const reason = (key: string) => items.find((i) => i.key === key)?.reason;
  if (reason(`${prefix}/meta.json`) !== 'excluded') problems.push('the sidecar is not excluded');
  if (reason(`${prefix}/z-copy/clip 0.mp4`) !== 'duplicate') problems.push('the copy is not a duplicate');
  if (reason(`${prefix}/legacy/imported before.mp4`) !== 'indexed') problems.push('the legacy video is not indexed');
}

function readPlanItems(path: string): PlanFileItem[] {
  return (JSON.parse(readFileSync(path, 'utf8')) as { items: PlanFileItem[] }).items;
}

/** Loads the state the way the CLI does (checkpoint + journal); any refusal is a problem. */
async function validState(path: string, problems: string[], label: string): Promise<StateFile | undefined> {
  if (!existsSync(path)) return undefined;
  try {
    const state = (await stateLayout(path)) === 'parts' ? await loadParted(path) : await loadState(path);
    if (state?.version !== 1) problems.push(`${label}: state version ${String(state?.version)}`);
    return state;
  } catch (error) {
    problems.push(`${label}: state file refused: ${(error as Error).message}`);
    return undefined;
  }
}

/** A state in parts read whole (a chaos seed's state is small): the view's header and items. */
async function loadParted(path: string): Promise<StateFile | undefined> {
  const view = await openStateView(path);
  if (!view) return undefined;
  try {
    const items: Record<string, ItemState> = {};
    for await (const [uri, item] of view.items()) items[uri] = item;
    return { ...view.header, items };
  } finally {
    await view.close();
  }
}

/** Kill instants count from when the run holds its lock, not from Node's start-up. */
async function waitForLock(child: ChildProcess, statePath: string): Promise<void> {
  const holder = () => {
    try {
      return (JSON.parse(readFileSync(`${statePath}.lock`, 'utf8')) as { pid: number }).pid;
    } catch {
      return undefined;
    }
  };
  for (let waited = 0; holder() !== child.pid && child.exitCode === null && waited < 30_000; waited += 10) await sleep(10);
}

function cli(args: string[], env: Record<string, string>, cwd: string): Promise<CliResult> {
  return collect(startCli(args, env, { cwd }), CLI_TIMEOUT_MS);
}

function uri(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

function shuffle<T>(list: T[], random: Random): T[] {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
