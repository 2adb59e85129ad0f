/**
 * `npm run bench:plan [-- --n 10000] [--sizes 2000,10000] [--runs 3]`
 *
 * How fast `tlmigrate plan` diffs a bucket against an index, against a peer S3 client listing the
 * same bucket, side by side in one run with the machine's load. Uses the shared S3 named by
 * TLM_TEST_S3_* (else starts Ceph radosgw) and the API simulator (fetchVideo: false); per size N a
 * bucket of N tiny .mp4 objects over ~100 prefixes (tlm-bench-plan-N, seeded once and reused) and N
 * indexed videos (half of them match an object by file name and size, so the planner does real
 * matching work; the other half match nothing; plus one video tlmigrate made); then runs the built
 * CLI (`node dist/cli/main.js plan --json`) as a child under GNU time, and `rclone lsf -R` and a
 * bare Node v3-SDK ListObjectsV2 loop (the floor for a Node tool) on the same bucket, alternately,
 * `--runs` times each (median). Two sizes give the memory slope. Last, the index scan at 100 ms
 * API latency against pages x latency / concurrency (`--scan-videos`, default 10000).
 * Writes bench-results/plan-<n>.json. Exit 0 when the run worked (targets only print PASS/MISS).
 */
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { startSimulator, type Simulator } from '../../test/sim/index.js';
import { systemClock } from '../../src/clock.js';
import { readIndexSnapshot } from '../../src/cli/plan-command.js';
import { TwelveLabsClient } from '../../src/twelvelabs/client.js';
import { INDEX_READ_CONCURRENCY, PAGE_LIMIT } from '../../src/twelvelabs/index-reader.js';
import {
  CLI,
  CLI_NODE_ARGS,
  PREFIXES,
  OBJECT_BYTES,
  UsageError,
  bareSdkList,
  checkInterrupted,
  cliArgv,
  cliEnv,
  intFlag,
  loadNote,
  log,
  machine,
  median,
  mib,
  pass,
  requireBuiltCli,
  round,
  runMeasured,
  setupRclone,
  table,
  tail,
  workDir,
  writeResults,
  type Rclone,
  type Servers,
} from './common.js';
import { benchBucket, withBenchServers } from './plan-servers.js';

/** plan / rclone lsf -R: <= 1.0x at 100k objects, <= 1.5x below. */
const targetRatio = (n: number) => (n >= 100_000 ? 1.0 : 1.5);
const SCAN_LATENCY_MS = 100;
const SCAN_TARGET = 1.3;
const LIST_ROUTE = 'GET /indexes/{index_id}/videos';
const VIDEO_ROUTE = 'GET /indexes/{index_id}/videos/{video_id}';

interface PlanRun {
  wallMs: number;
  peakRssKiB: number | undefined;
  /** CPU seconds (user + system) of the CLI process. */
  cpuSeconds: number | undefined;
  rssMethod: string;
  requests: number;
  byRoute: Record<string, number>;
  /** Milliseconds from spawn to the first and last request of each route (simulator clock). */
  phases: Record<string, { firstMs: number; lastMs: number; meanServerMs: number }>;
  counts: { upload: number; skip: number; fail: number };
}

interface SizeResult {
  n: number;
  bucket: string;
  indexId: string;
  seedSeconds: number;
  plan: { runs: PlanRun[]; medianWallMs: number; medianPeakRssKiB: number | undefined; maxPeakRssKiB: number | undefined };
  rclone: { runsMs: number[]; medianMs: number; files: number };
  /** A bare Node v3-SDK ListObjectsV2 loop in a child process: the floor for a Node tool. */
  bareSdk: { runsMs: number[]; medianMs: number };
  ratioToBareSdk: number;
  objectsPerSecond: number;
  listPagesPerSecond: number;
  videoGetsPerSecond: number;
  apiRequestsPerSecond: number;
  ratio: number;
  /** 1-minute load average when the size's runs started and ended. */
  load: [number, number];
}

function parse(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      n: { type: 'string' },
      sizes: { type: 'string' },
      runs: { type: 'string' },
      'seed-concurrency': { type: 'string' },
      'plan-args': { type: 'string' },
      'scan-videos': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write('usage: tsx scripts/bench/plan.ts [--n 10000] [--sizes 2000,10000] [--runs 3] [--seed-concurrency 32] [--scan-videos 10000 (0: skip)] [--plan-args="--probe-concurrency 32"]\n');
    process.exit(0);
  }
  const n = intFlag(values.n, 'n', 10_000);
  let sizes: number[];
  if (values.sizes !== undefined) {
    sizes = values.sizes.split(',').map((s) => intFlag(s.trim(), 'sizes', 0));
    if (sizes.length === 0) throw new UsageError('--sizes needs at least one size');
  } else {
    // A smaller first run gives the memory slope: 2k for 10k, 10k for 100k.
    const small = Math.max(1_000, Math.round(n / (n > 10_000 ? 10 : 5)));
    sizes = small < n ? [small, n] : [n];
  }
  sizes = [...new Set(sizes)].sort((a, b) => a - b);
  const planArgs = values['plan-args']?.split(/\s+/).filter(Boolean) ?? [];
  const scanVideos = values['scan-videos'] === '0' ? 0 : intFlag(values['scan-videos'], 'scan-videos', 10_000);
  return { sizes, runs: intFlag(values.runs, 'runs', 3), seedConcurrency: intFlag(values['seed-concurrency'], 'seed-concurrency', 32), planArgs, scanVideos };
}

/**
 * N indexed videos: the even-numbered objects' name and size (legacy imports), plus N/2 that match
 * nothing; and one video an earlier tlmigrate run made (it carries the marker), so that the marker
 * filter proves itself and legacy videos need no GET each (an index tlmigrate has never written to
 * cannot prove it: then every legacy match costs a GET, see docs/benchmarks.md).
 */
function seedIndex(sim: Simulator, n: number, objects: ReadonlyArray<{ filename: string; size: number }>): string {
  const index = sim.createIndex({ name: `bench-plan-${n}` });
  sim.seedVideo(index.id, {
    filename: 'made-by-tlmigrate.mp4',
    size: 2 * OBJECT_BYTES,
    userMetadata: { tlm_tool: 'tlmigrate', tlm_source: 's3://elsewhere/made-by-tlmigrate.mp4', tlm_etag: 'bench', tlm_size: 2 * OBJECT_BYTES },
  });
  for (let i = 0; i < n; i++) {
    const object = objects[i];
    if (i % 2 === 0 && object) sim.seedVideo(index.id, { filename: object.filename, size: object.size });
    else sim.seedVideo(index.id, { filename: `legacy-only-${String(i).padStart(7, '0')}.mp4`, size: OBJECT_BYTES });
  }
  return index.id;
}

async function planOnce(servers: Servers, bucket: string, indexId: string, dir: string, run: number, n: number, planArgs: string[]): Promise<PlanRun> {
  const { sim, s3info } = servers;
  sim.clearRequests();
  const out = join(dir, `plan-${n}-${run}.json`);
  const spawnedAt = Date.now();
  const child = await runMeasured(process.execPath, cliArgv(['plan', '--source', `s3://${bucket}`, '--index', indexId, '--json', '--out', out, ...planArgs]), {
    env: cliEnv(s3info, sim),
    cwd: dir,
    timeoutMs: 30 * 60_000,
  });
  if (child.code !== 0) throw new Error(`tlmigrate plan exited ${child.code ?? child.signal}:\n${tail(child.stderr)}`);
  const summary = JSON.parse(child.stdout.trim().split('\n').pop() ?? '{}') as { counts?: PlanRun['counts']; total?: number };
  if (!summary.counts || summary.total !== n) throw new Error(`tlmigrate plan planned ${summary.total} objects, expected ${n}: ${child.stdout.slice(0, 500)}`);
  const expectedSkips = Math.ceil(n / 2);
  if (summary.counts.skip !== expectedSkips || summary.counts.upload !== n - expectedSkips) {
    throw new Error(`tlmigrate plan: expected ${expectedSkips} skips (legacy file name + size) and ${n - expectedSkips} uploads, got ${JSON.stringify(summary.counts)}`);
  }
  const counts = sim.counts();
  const phases: PlanRun['phases'] = {};
  for (const r of sim.requests) {
    const route = r.route ?? 'unmatched';
    const at = r.at - spawnedAt;
    const p = (phases[route] ??= { firstMs: at, lastMs: at, meanServerMs: 0 });
    p.firstMs = Math.min(p.firstMs, at);
    p.lastMs = Math.max(p.lastMs, at + r.durationMs);
    p.meanServerMs += r.durationMs;
  }
  for (const [route, p] of Object.entries(phases)) p.meanServerMs = round(p.meanServerMs / Math.max(1, counts.byRoute[route as keyof typeof counts.byRoute] ?? 1), 1);
  return {
    wallMs: round(child.wallMs, 1),
    peakRssKiB: child.peakRssKiB,
    cpuSeconds: child.cpuSeconds,
    rssMethod: child.rssMethod,
    requests: counts.requests,
    byRoute: counts.byRoute as Record<string, number>,
    phases,
    counts: summary.counts,
  };
}

async function benchSize(servers: Servers, rclone: Rclone, n: number, options: ReturnType<typeof parse>, dir: string): Promise<SizeResult> {
  const { runs, seedConcurrency, planArgs } = options;
  log(`size ${n.toLocaleString('en-US')}: the bucket (${OBJECT_BYTES} B objects over ${PREFIXES} prefixes, seeding concurrency ${seedConcurrency}) and the index`);
  const seeded = await benchBucket(servers.s3, n, seedConcurrency);
  const indexId = seedIndex(servers.sim, n, seeded.objects);
  checkInterrupted();
  // One untimed listing first, so that neither side pays for a cold bucket index.
  const warm = await rclone.list(seeded.bucket);
  if (warm.files !== n) throw new Error(`rclone listed ${warm.files} files in s3://${seeded.bucket}, expected ${n}`);
  const loadBefore = round(loadavg()[0] ?? 0, 2);
  const planRuns: PlanRun[] = [];
  const rcloneRuns: number[] = [];
  const bareRuns: number[] = [];
  for (let run = 1; run <= runs; run++) {
    const p = await planOnce(servers, seeded.bucket, indexId, dir, run, n, planArgs);
    planRuns.push(p);
    const r = await rclone.list(seeded.bucket);
    rcloneRuns.push(round(r.wallMs, 1));
    const b = await bareSdkList(servers.s3info, seeded.bucket);
    if (b.files !== n) throw new Error(`the bare SDK loop listed ${b.files} objects in s3://${seeded.bucket}, expected ${n}`);
    bareRuns.push(round(b.wallMs, 1));
    log(
      `size ${n}: run ${run}/${runs}: plan ${(p.wallMs / 1000).toFixed(2)} s, CPU ${p.cpuSeconds ?? 'n/a'} s, peak RSS ${mib(p.peakRssKiB)} MiB, ${p.requests} API requests; rclone ${(r.wallMs / 1000).toFixed(2)} s; bare SDK loop ${(b.wallMs / 1000).toFixed(2)} s`,
    );
  }
  const medianWallMs = median(planRuns.map((r) => r.wallMs));
  const rss = planRuns.map((r) => r.peakRssKiB).filter((v): v is number => v !== undefined);
  const rcloneMedian = median(rcloneRuns);
  const perSecond = (route: string) => median(planRuns.map((r) => (r.byRoute[route] ?? 0) / (r.wallMs / 1000)));
  return {
    n,
    bucket: seeded.bucket,
    indexId,
    seedSeconds: round(seeded.seedSeconds, 1),
    plan: { runs: planRuns, medianWallMs, medianPeakRssKiB: rss.length ? median(rss) : undefined, maxPeakRssKiB: rss.length ? Math.max(...rss) : undefined },
    rclone: { runsMs: rcloneRuns, medianMs: rcloneMedian, files: warm.files },
    bareSdk: { runsMs: bareRuns, medianMs: median(bareRuns) },
    ratioToBareSdk: round(medianWallMs / median(bareRuns), 2),
    objectsPerSecond: round(n / (medianWallMs / 1000), 0),
    listPagesPerSecond: round(perSecond(LIST_ROUTE), 1),
    videoGetsPerSecond: round(perSecond(VIDEO_ROUTE), 1),
    apiRequestsPerSecond: round(median(planRuns.map((r) => r.requests / (r.wallMs / 1000))), 1),
    ratio: round(medianWallMs / rcloneMedian, 2),
    load: [loadBefore, round(loadavg()[0] ?? 0, 2)],
  };
}

interface IndexScan {
  videos: number;
  pages: number;
  latencyMs: number;
  concurrency: number;
  wallMs: number;
  /** pages x latency / concurrency: the time a perfectly parallel reader of the video listing would take. */
  idealMs: number;
  ratio: number;
  requests: Record<string, number>;
}

/**
 * The index scan of plan (readIndexSnapshot: every listing plan reads, and the marker filter's
 * judgement), in process, against a simulator that answers every request after SCAN_LATENCY_MS.
 */
async function indexScan(videos: number): Promise<IndexScan> {
  const sim = await startSimulator({ fetchVideo: false, faults: { latency: { ms: SCAN_LATENCY_MS } } });
  try {
    const index = sim.createIndex({ name: 'bench-index-scan' });
    sim.seedVideo(index.id, { filename: 'made-by-tlmigrate.mp4', size: 2048, userMetadata: { tlm_tool: 'tlmigrate', tlm_source: 's3://elsewhere/x.mp4', tlm_etag: 'bench', tlm_size: 2048 } });
    for (let i = 1; i < videos; i++) sim.seedVideo(index.id, { filename: `legacy-${i}.mp4`, size: OBJECT_BYTES });
    const api = new TwelveLabsClient({ baseUrl: sim.url, apiKey: sim.apiKey, clock: systemClock });
    sim.clearRequests();
    const t0 = performance.now();
    const snapshot = await readIndexSnapshot(api, { index: index.id, state: '/nonexistent/bench-state.json', source: 's3://bench', via: 'tasks' }, { update: () => undefined, done: () => undefined });
    const wallMs = performance.now() - t0;
    if (snapshot.videoCount !== videos) throw new Error(`the index scan read ${snapshot.videoCount} videos, expected ${videos}`);
    const pages = Math.ceil(videos / PAGE_LIMIT);
    const idealMs = (pages * SCAN_LATENCY_MS) / INDEX_READ_CONCURRENCY;
    const scan = { videos, pages, latencyMs: SCAN_LATENCY_MS, concurrency: INDEX_READ_CONCURRENCY, wallMs: round(wallMs, 0), idealMs: round(idealMs, 0), ratio: round(wallMs / idealMs, 2), requests: sim.counts().byRoute as Record<string, number> };
    log(scanLine(scan));
    return scan;
  } finally {
    await sim.close();
  }
}

function scanLine(s: IndexScan): string {
  return `index scan at ${s.latencyMs} ms API latency: ${s.videos.toLocaleString('en-US')} videos, ${s.pages} pages, ${(s.wallMs / 1000).toFixed(2)} s; pages x latency / concurrency ${s.concurrency} = ${(s.idealMs / 1000).toFixed(2)} s; ratio ${s.ratio.toFixed(2)}x (target <= ${SCAN_TARGET}x: ${pass(s.ratio <= SCAN_TARGET)}); requests ${Object.entries(s.requests).map(([r, c]) => `${r} x${c}`).join(', ')}`;
}

async function main(): Promise<number> {
  let options: ReturnType<typeof parse>;
  try {
    options = parse(process.argv.slice(2));
    requireBuiltCli();
  } catch (error) {
    process.stderr.write(`bench:plan: ${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  }
  const { sizes, runs, seedConcurrency, planArgs } = options;
  const largest = sizes[sizes.length - 1] as number;
  const results: SizeResult[] = [];
  let rcloneVersion = '';
  let scan: IndexScan | undefined;
  log(`1-min load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (1, 5, 15 min; ${cpus().length} cores)`);
  const code = await withBenchServers({ fetchVideo: false }, async (servers) => {
    const work = await workDir('plan');
    const rclone = await setupRclone(servers.s3info);
    rcloneVersion = rclone.version;
    try {
      for (const n of sizes) results.push(await benchSize(servers, rclone, n, options, work.dir));
      if (options.scanVideos > 0) scan = await indexScan(options.scanVideos);
    } finally {
      await rclone.remove();
      await work.remove();
    }
  });
  if (code !== 0) return code;

  const big = results[results.length - 1] as SizeResult;
  const small = results.length > 1 ? results[0] : undefined;
  const slope =
    small && big.plan.medianPeakRssKiB !== undefined && small.plan.medianPeakRssKiB !== undefined
      ? round((big.plan.medianPeakRssKiB - small.plan.medianPeakRssKiB) / 1024 / ((big.n - small.n) / 1000), 2)
      : undefined;

  const rows: Array<Array<string | number>> = [
    ['objects', 'plan s', 'rclone s', 'bare SDK s', 'plan/rclone', 'target', '', 'plan/bare SDK', 'CLI CPU s', 'peak RSS MiB', 'API req/s', 'video GETs/s', 'load 1m'],
  ];
  for (const r of results) {
    rows.push([
      r.n.toLocaleString('en-US'),
      (r.plan.medianWallMs / 1000).toFixed(2),
      (r.rclone.medianMs / 1000).toFixed(2),
      (r.bareSdk.medianMs / 1000).toFixed(2),
      `${r.ratio.toFixed(2)}x`,
      `<= ${targetRatio(r.n).toFixed(1)}x`,
      pass(r.ratio <= targetRatio(r.n)),
      `${r.ratioToBareSdk.toFixed(2)}x`,
      median(r.plan.runs.map((p) => p.cpuSeconds ?? Number.NaN)).toFixed(2),
      mib(r.plan.medianPeakRssKiB) ?? 'n/a',
      r.apiRequestsPerSecond,
      r.videoGetsPerSecond,
      `${r.load[0]} -> ${r.load[1]}`,
    ]);
  }
  const firstRun = big.plan.runs[0] as PlanRun;
  const out: string[] = [];
  out.push(`\nbench:plan: median of ${runs} runs per size${planArgs.length ? ` (plan ${planArgs.join(' ')})` : ''}; ${firstRun.rssMethod === 'gnu-time' ? 'peak RSS by GNU time (%M)' : 'peak RSS by sampling /proc VmHWM'}; ${rcloneVersion}`);
  out.push(table(rows));
  out.push(
    `API requests per plan at ${big.n.toLocaleString('en-US')}: ${Object.entries(firstRun.byRoute)
      .map(([route, count]) => `${route} x${count}`)
      .join(', ')}`,
  );
  out.push(
    `phases of the first run at ${big.n.toLocaleString('en-US')} (ms after spawn, first..last request; the run took ${Math.round(firstRun.wallMs)} ms): ${Object.entries(firstRun.phases)
      .map(([route, p]) => `${route} ${Math.round(p.firstMs)}..${Math.round(p.lastMs)} (simulator ${p.meanServerMs} ms per request)`)
      .join('; ')}`,
  );
  out.push(
    slope === undefined
      ? 'memory slope: n/a (needs two sizes: --sizes 2000,10000)'
      : `memory slope: ${slope} MiB peak RSS per 1k objects (${mib(small?.plan.medianPeakRssKiB)} MiB at ${small?.n.toLocaleString('en-US')} -> ${mib(big.plan.medianPeakRssKiB)} MiB at ${big.n.toLocaleString('en-US')}; extrapolated ${round(((big.plan.medianPeakRssKiB ?? 0) / 1024 + (slope * (1_000_000 - big.n)) / 1000) / 1024, 2)} GiB at 1M)`,
  );
  out.push(
    ...results.map((r) => `target plan/rclone <= ${targetRatio(r.n)}x at ${r.n.toLocaleString('en-US')}: ${pass(r.ratio <= targetRatio(r.n))} (${r.ratio.toFixed(2)}x; a bare Node SDK listing loop alone is ${(r.bareSdk.medianMs / r.rclone.medianMs).toFixed(2)}x rclone)`),
  );
  const file = await writeResults(`plan-${largest}.json`, {
    benchmark: 'plan',
    machine: machine(),
    setup: { sizes, runs, objectBytes: OBJECT_BYTES, prefixes: PREFIXES, indexedVideos: 'N (N/2 match objects by file name + size)', seedConcurrency, planArgs, cli: CLI, cliNodeArgs: CLI_NODE_ARGS, rclone: rcloneVersion },
    targets: {
      planOverRclone: results.map((r) => ({ n: r.n, target: targetRatio(r.n), value: r.ratio, result: pass(r.ratio <= targetRatio(r.n)) })),
      ...(scan ? { indexScan: { target: SCAN_TARGET, value: scan.ratio, result: pass(scan.ratio <= SCAN_TARGET) } } : {}),
    },
    indexScan: scan ?? null,
    memorySlopeMiBPer1k: slope ?? null,
    results,
  });
  const load = loadNote();
  out.push(load.warning ?? `1-min load average ${load.atStart} at start, ${load.atEnd} at end`);
  if (scan) out.push(scanLine(scan));
  out.push(`results: ${file}`);
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench:plan: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
