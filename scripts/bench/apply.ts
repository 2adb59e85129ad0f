/**
 * `npm run bench:apply [-- --n 2000] [--rate 1200] [--latency 20] [--window 10000] [--sdk-n 600]`
 * (`-- --multipart`: multipart streaming throughput instead, see multipart.ts)
 *
 * How close `tlmigrate apply` runs to the API's rate limit, and what it costs in 429s, against the
 * way the seed docs upload: the official SDK's `client.tasks.create` in a sequential for-loop and
 * with an unbounded `Promise.all`. The simulator (fetchVideo: false) enforces a fixed-window limit
 * of `rate` requests per minute (limit = rate x window / 60 s per `window`, X-Ratelimit-* headers,
 * no Retry-After) and adds `latency` ms to every route. Ceph holds N tiny objects; the built CLI
 * runs `plan`, then `apply --concurrency 8 --json` under GNU time; the SDK variants run in this
 * process, each against a fresh index with the limit windows restarted, on the first `--sdk-n`
 * objects (presigned with @aws-sdk/s3-request-presigner). Writes bench-results/apply-<n>.json.
 * Exit 0 when the run worked (targets only print PASS/MISS).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { TwelveLabs } from 'twelvelabs-js';
import type { FaultConfig, RecordedRequest, Simulator } from '../../test/sim/index.js';
import { multipartBench } from './multipart.js';
import {
  CLI,
  CLI_NODE_ARGS,
  UsageError,
  checkInterrupted,
  cliArgv,
  cliEnv,
  intFlag,
  loadNote,
  log,
  machine,
  mib,
  pass,
  requireBuiltCli,
  round,
  runMeasured,
  seedBucket,
  since,
  table,
  tail,
  withServers,
  workDir,
  writeResults,
  type SeededObject,
  type Servers,
} from './common.js';

const TARGET_WALL = 0.05;
const TARGET_429_AFTER_FIRST_MINUTE = 0.01;
const FIRST_MINUTE_MS = 60_000;

interface Options {
  n: number;
  rate: number;
  latencyMs: number;
  windowMs: number;
  limit: number;
  concurrency: number;
  sdkN: number;
  sdk: boolean;
}

/** What the simulator saw during one variant. */
interface Traffic {
  requests: number;
  posts: number;
  rateLimited: number;
  /** From the first request of the variant + 60 s on. */
  afterFirstMinute: { requests: number; rateLimited: number; share: number | null };
  tasksCreated: number;
  duplicates: number;
  /** First to last POST /tasks, simulator clock. */
  postSpanMs: number;
  /** The least time the fixed windows allow for the admitted requests, from the first request on. */
  windowFloorMs: number;
}

interface VariantResult {
  name: string;
  attempted: number;
  created: number;
  failed: number;
  failuresByStatus: Record<string, number>;
  /** Index of the first call that threw: where a loop without try/catch would have stopped. */
  firstFailureAt: number | null;
  wallMs: number;
  idealMs: number;
  traffic: Traffic;
}

function parse(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      n: { type: 'string' },
      rate: { type: 'string' },
      latency: { type: 'string' },
      window: { type: 'string' },
      concurrency: { type: 'string' },
      'sdk-n': { type: 'string' },
      'no-sdk': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write('usage: tsx scripts/bench/apply.ts [--n 2000] [--rate 1200] [--latency 20] [--window 10000] [--concurrency 8] [--sdk-n 600] [--no-sdk]\n');
    process.exit(0);
  }
  const n = intFlag(values.n, 'n', 2_000);
  const rate = intFlag(values.rate, 'rate', 1_200);
  const latencyMs = values.latency === undefined ? 20 : Number(values.latency);
  if (!Number.isFinite(latencyMs) || latencyMs < 0) throw new UsageError(`--latency must be a number of milliseconds >= 0, not '${values.latency}'`);
  const windowMs = intFlag(values.window, 'window', 10_000);
  const limit = Math.round((rate * windowMs) / 60_000);
  if (limit < 1) throw new UsageError(`--rate ${rate}/min over a ${windowMs} ms window allows less than one request: widen --window`);
  if (Math.abs(limit - (rate * windowMs) / 60_000) > 1e-9) throw new UsageError(`--rate ${rate}/min x --window ${windowMs} ms is not a whole number of requests per window`);
  return {
    n,
    rate,
    latencyMs,
    windowMs,
    limit,
    concurrency: intFlag(values.concurrency, 'concurrency', 8),
    sdkN: Math.min(n, intFlag(values['sdk-n'], 'sdk-n', 600)),
    sdk: !values['no-sdk'],
  };
}

function faults(o: Options): FaultConfig {
  return {
    rateLimit: { limit: o.limit, windowMs: o.windowMs, retryAfter: false, headers: true },
    ...(o.latencyMs > 0 ? { latency: { ms: o.latencyMs } } : {}),
  };
}

/** Restarts the limit windows and the request log, so that each variant starts alike. */
function freshStart(sim: Simulator, o: Options): void {
  sim.faults.set(faults(o));
  sim.clearRequests();
}

function traffic(sim: Simulator, indexId: string, o: Options): Traffic {
  const requests: readonly RecordedRequest[] = sim.requests;
  const first = Math.min(...requests.map((r) => r.at));
  const later = requests.filter((r) => r.at >= first + FIRST_MINUTE_MS);
  const laterLimited = later.filter((r) => r.status === 429).length;
  const posts = requests.filter((r) => r.route === 'POST /tasks');
  const postTimes = posts.map((r) => r.at);
  const admitted = requests.filter((r) => r.status !== 429).length;
  const firstWindowStart = Math.floor(first / o.windowMs) * o.windowMs;
  const counts = sim.counts();
  return {
    requests: counts.requests,
    posts: posts.length,
    rateLimited: counts.rateLimited,
    afterFirstMinute: { requests: later.length, rateLimited: laterLimited, share: later.length ? round(laterLimited / later.length, 4) : null },
    tasksCreated: sim.tasks(indexId).length,
    duplicates: sim.duplicates().size,
    postSpanMs: postTimes.length ? Math.max(...postTimes) - Math.min(...postTimes) : 0,
    windowFloorMs: Math.max(0, firstWindowStart + (Math.ceil(admitted / o.limit) - 1) * o.windowMs - first),
  };
}

function idealMs(n: number, o: Options): number {
  return (n / o.rate) * 60_000;
}

interface ApplyLog {
  wallMs?: number;
  stateWriteMs?: number;
  journalWrites?: number;
  syncs?: number;
  checkpoints?: number;
  pacer?: unknown;
}

/** The CLI's `apply finished` log line (StateStore.stats), if this build writes one. */
async function readApplyLog(file: string): Promise<ApplyLog | undefined> {
  const text = await readFile(file, 'utf8').catch(() => '');
  let found: ApplyLog | undefined;
  for (const line of text.split('\n')) {
    if (!line.includes('apply finished')) continue;
    try {
      const entry = JSON.parse(line) as ApplyLog & { msg?: string };
      if (entry.msg === 'apply finished') found = entry;
    } catch {
      // a torn line: ignore
    }
  }
  return found;
}

async function runTlmigrate(servers: Servers, o: Options, bucket: string, dir: string) {
  const { sim, s3info } = servers;
  const index = sim.createIndex({ name: 'bench-apply-tlmigrate' });
  const env = cliEnv(s3info, sim);
  log(`tlmigrate plan s3://${bucket} -> index ${index.id}`);
  const plan = await runMeasured(process.execPath, cliArgv(['plan', '--source', `s3://${bucket}`, '--index', index.id, '--json', '--out', 'plan.json']), { env, cwd: dir, timeoutMs: 600_000 });
  if (plan.code !== 0) throw new Error(`tlmigrate plan exited ${plan.code ?? plan.signal}:\n${tail(plan.stderr)}`);
  const planned = JSON.parse(plan.stdout.trim().split('\n').pop() ?? '{}') as { counts?: { upload: number } };
  if (planned.counts?.upload !== o.n) throw new Error(`tlmigrate plan: expected ${o.n} uploads, got ${JSON.stringify(planned.counts)}`);

  freshStart(sim, o);
  log(`tlmigrate apply --concurrency ${o.concurrency}: ${o.n} tasks at ${o.rate}/min (${o.limit} per ${o.windowMs / 1000} s window), +${o.latencyMs} ms latency; ideal ${(idealMs(o.n, o) / 1000).toFixed(1)} s`);
  const logFile = join(dir, 'apply.log');
  const apply = await runMeasured(
    process.execPath,
    cliArgv(['apply', 'plan.json', '--concurrency', String(o.concurrency), '--json', '--state', 'state.json', '--log-level', 'info', '--log-file', logFile]),
    { env, cwd: dir, timeoutMs: Math.max(600_000, idealMs(o.n, o) * 5) },
  );
  // 1 = finished with failed items: a result to report, not a broken run.
  if (apply.code !== 0 && apply.code !== 1) throw new Error(`tlmigrate apply exited ${apply.code ?? apply.signal}:\n${tail(apply.stderr)}`);
  const outcome = JSON.parse(apply.stdout.trim().split('\n').pop() ?? '{}') as { submitted?: number; failed?: number; pending?: number; throttled?: number; retries?: number; exitCode?: number };
  const seen = traffic(sim, index.id, o);
  const applyLog = await readApplyLog(logFile);
  return { exitCode: apply.code, wallMs: apply.wallMs, peakRssKiB: apply.peakRssKiB, cpuSeconds: apply.cpuSeconds, outcome, traffic: seen, applyLog };
}

async function runSdk(servers: Servers, o: Options, bucket: string, objects: readonly SeededObject[], mode: 'sequential' | 'promise-all'): Promise<VariantResult> {
  const { sim, s3 } = servers;
  const index = sim.createIndex({ name: `bench-apply-sdk-${mode}` });
  // TwelveLabs 1.3.4 takes only { apiKey }: its base URL comes from TWELVELABS_BASE_URL at construction.
  const saved = process.env.TWELVELABS_BASE_URL;
  process.env.TWELVELABS_BASE_URL = sim.url;
  const client = new TwelveLabs({ apiKey: sim.apiKey });
  if (saved === undefined) delete process.env.TWELVELABS_BASE_URL;
  else process.env.TWELVELABS_BASE_URL = saved;

  const subset = objects.slice(0, o.sdkN);
  const failuresByStatus: Record<string, number> = {};
  let created = 0;
  let firstFailureAt: number | null = null;
  const upload = async (object: SeededObject, i: number) => {
    const videoUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: object.key }), { expiresIn: 6 * 3600 });
    try {
      await client.tasks.create({ indexId: index.id, videoUrl });
      created += 1;
    } catch (error) {
      // twelvelabs-js 1.3.4 wraps everything in TwelvelabsApiError; without a status the request never got an answer.
      const status = (error as { statusCode?: number }).statusCode;
      const message = (error instanceof Error ? error.message : String(error)).replace(/^Error: /, '').split('\n')[0]?.slice(0, 100) ?? '';
      const key = status === undefined ? `no status: ${message}` : `HTTP ${status}`;
      failuresByStatus[key] = (failuresByStatus[key] ?? 0) + 1;
      if (firstFailureAt === null || i < firstFailureAt) firstFailureAt = i;
    }
  };
  freshStart(sim, o);
  log(`SDK ${mode}: ${subset.length} x client.tasks.create`);
  const t0 = performance.now();
  if (mode === 'sequential') {
    for (const [i, object] of subset.entries()) {
      checkInterrupted();
      await upload(object, i);
    }
  } else {
    await Promise.all(subset.map((object, i) => upload(object, i)));
  }
  const wallMs = since(t0);
  await sim.settle();
  const failed = Object.values(failuresByStatus).reduce((a, b) => a + b, 0);
  return { name: `SDK ${mode}`, attempted: subset.length, created, failed, failuresByStatus, firstFailureAt, wallMs: round(wallMs, 1), idealMs: idealMs(subset.length, o), traffic: traffic(sim, index.id, o) };
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}

function share(part: number, whole: number): string {
  return whole > 0 ? `${((part / whole) * 100).toFixed(2)} %` : 'n/a';
}

async function main(): Promise<number> {
  if (process.argv.includes('--multipart')) return multipartBench(process.argv.slice(2));
  let o: Options;
  try {
    o = parse(process.argv.slice(2));
    requireBuiltCli();
  } catch (error) {
    process.stderr.write(`bench:apply: ${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  }
  let tl: Awaited<ReturnType<typeof runTlmigrate>> | undefined;
  const sdk: VariantResult[] = [];
  const started = performance.now();
  const code = await withServers({ fetchVideo: false }, async (servers) => {
    const work = await workDir('apply');
    try {
      const seeded = await seedBucket(servers.s3, 'bench-apply', o.n);
      checkInterrupted();
      tl = await runTlmigrate(servers, o, seeded.bucket, work.dir);
      if (o.sdk) {
        sdk.push(await runSdk(servers, o, seeded.bucket, seeded.objects, 'sequential'));
        sdk.push(await runSdk(servers, o, seeded.bucket, seeded.objects, 'promise-all'));
      }
    } finally {
      await work.remove();
    }
  });
  if (code !== 0 || !tl) return code || 1;

  const ideal = idealMs(o.n, o);
  const deviation = tl.wallMs / ideal - 1;
  const wallOk = tl.wallMs <= ideal * (1 + TARGET_WALL);
  const later = tl.traffic.afterFirstMinute;
  const laterOk = later.share === null || later.share < TARGET_429_AFTER_FIRST_MINUTE;
  const stateShare = tl.applyLog?.stateWriteMs !== undefined && tl.applyLog.wallMs ? tl.applyLog.stateWriteMs / tl.applyLog.wallMs : undefined;
  const tlCreated = tl.traffic.tasksCreated;
  const tlPerTask = tl.wallMs / Math.max(1, tlCreated);

  const out: string[] = [];
  out.push(`\nbench:apply: N=${o.n}, rate ${o.rate}/min (fixed window: ${o.limit} requests per ${o.windowMs / 1000} s, X-Ratelimit-* headers, no Retry-After), +${o.latencyMs} ms latency on every route, concurrency ${o.concurrency}`);
  out.push(`tlmigrate apply: ${seconds(tl.wallMs)} s wall (child process, start-up included) vs ideal N/R ${seconds(ideal)} s: ${deviation >= 0 ? '+' : ''}${(deviation * 100).toFixed(1)} % -> ${pass(wallOk)} (target: at most +${TARGET_WALL * 100} %)`);
  out.push(`  first to last POST: ${seconds(tl.traffic.postSpanMs)} s; least time the fixed windows allow for its ${tl.traffic.requests - tl.traffic.rateLimited} admitted requests: ${seconds(tl.traffic.windowFloorMs)} s`);
  out.push(`  tasks created ${tlCreated}/${o.n} (duplicates ${tl.traffic.duplicates}); CLI result ${JSON.stringify(tl.outcome)}; exit ${tl.exitCode}; peak RSS ${mib(tl.peakRssKiB)} MiB, CPU ${tl.cpuSeconds ?? '?'} s`);
  out.push(`  429s: ${tl.traffic.rateLimited} of ${tl.traffic.requests} requests (${share(tl.traffic.rateLimited, tl.traffic.requests)}); after the first minute ${later.rateLimited} of ${later.requests} (${later.share === null ? 'n/a: the run was shorter' : share(later.rateLimited, later.requests)}) -> ${pass(laterOk)} (target < ${TARGET_429_AFTER_FIRST_MINUTE * 100} %)`);
  if (tl.applyLog?.stateWriteMs !== undefined && stateShare !== undefined) {
    out.push(
      `  state writes: ${tl.applyLog.stateWriteMs} ms of ${tl.applyLog.wallMs} ms (${(stateShare * 100).toFixed(2)} % of the apply's wall time; ${tl.applyLog.journalWrites} journal writes, ${tl.applyLog.syncs} fsyncs, ${tl.applyLog.checkpoints} checkpoints)`,
    );
  } else {
    out.push(
      "  state writes: n/a: the apply log has no 'apply finished' line with stateWriteMs/wallMs (StateStore.stats in src/state/store.ts is never logged): log it at info level at the end of runApply (src/cli/apply-command.ts)",
    );
  }
  if (sdk.length) {
    const capped = o.sdkN < o.n ? ` (capped to the first ${o.sdkN} of ${o.n} objects to keep the run short: --sdk-n ${o.n} for all)` : '';
    out.push(`\nSDK baselines${capped}: twelvelabs-js tasks.create (its fetcher retries 408/429/5xx twice, after ~1 s and ~2 s), same limit and latency, fresh index, windows restarted. 'ideal' is tasks/R: a run shorter than a few windows gets the first window's burst for free, so compare wall/ideal and the 429 share rather than raw times`);
    const rows: Array<Array<string | number>> = [
      ['variant', 'tasks', 'created', 'failed', 'wall s', 'ideal s', 'wall/ideal', 's per created task', 'vs tlmigrate', 'requests', '429s', '429 share', '429 share after 1 min'],
    ];
    rows.push([
      `tlmigrate apply -c ${o.concurrency}`,
      o.n,
      tlCreated,
      tl.outcome.failed ?? 0,
      seconds(tl.wallMs),
      seconds(ideal),
      (tl.wallMs / ideal).toFixed(2),
      (tlPerTask / 1000).toFixed(3),
      '1.00x',
      tl.traffic.requests,
      tl.traffic.rateLimited,
      share(tl.traffic.rateLimited, tl.traffic.requests),
      later.share === null ? 'n/a' : share(later.rateLimited, later.requests),
    ]);
    for (const v of sdk) {
      const perTask = v.created ? v.wallMs / v.created : Number.POSITIVE_INFINITY;
      const l = v.traffic.afterFirstMinute;
      rows.push([
        v.name,
        v.attempted,
        v.created,
        v.failed,
        seconds(v.wallMs),
        seconds(v.idealMs),
        (v.wallMs / v.idealMs).toFixed(2),
        v.created ? (perTask / 1000).toFixed(3) : 'inf',
        v.created ? `${(perTask / tlPerTask).toFixed(2)}x` : 'inf',
        v.traffic.requests,
        v.traffic.rateLimited,
        share(v.traffic.rateLimited, v.traffic.requests),
        l.share === null ? 'n/a (< 1 min)' : share(l.rateLimited, l.requests),
      ]);
    }
    out.push(table(rows));
    for (const v of sdk) {
      out.push(
        `${v.name}: ${v.created}/${v.attempted} created (${share(v.created, v.attempted)}), ${v.failed} threw ${JSON.stringify(v.failuresByStatus)}; ${v.traffic.requests} requests reached the API for ${v.attempted} calls${v.traffic.requests <= v.attempted ? ' (no retry reached it)' : ''}${
          v.firstFailureAt === null ? '' : `; first call to throw: #${v.firstFailureAt + 1}${v.name.endsWith('sequential') ? ' (where a loop without try/catch stops)' : ' (a bare Promise.all rejects at its first failure and drops the other results)'}`
        }; 429 ratio vs tlmigrate ${
          tl.traffic.rateLimited ? `${(v.traffic.rateLimited / v.traffic.requests / (tl.traffic.rateLimited / tl.traffic.requests)).toFixed(1)}x` : `${v.traffic.rateLimited} vs 0`
        } (per request)`,
      );
    }
  }
  const file = await writeResults(`apply-${o.n}.json`, {
    benchmark: 'apply',
    machine: machine(),
    setup: { ...o, fetchVideo: false, objectBytes: 1024, cli: CLI, cliNodeArgs: CLI_NODE_ARGS },
    totalSeconds: round(since(started) / 1000, 1),
    tlmigrate: { ...tl, idealMs: ideal, deviation: round(deviation, 4), stateWriteShare: stateShare === undefined ? null : round(stateShare, 4) },
    sdk,
    targets: {
      wallWithin5Percent: { value: round(deviation, 4), result: pass(wallOk) },
      rateLimitedAfterFirstMinute: { value: later.share, result: pass(laterOk) },
    },
  });
  const load = loadNote();
  out.push(load.warning ?? `1-min load average ${load.atStart} at start, ${load.atEnd} at end`);
  out.push(`results: ${file} (whole benchmark ${seconds(since(started))} s)`);
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench:apply: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
