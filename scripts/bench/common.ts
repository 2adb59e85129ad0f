/**
 * Shared plumbing of the benchmarks (`npm run bench:plan`, `npm run bench:apply`): the servers,
 * seeding, timing a child process with its peak RSS, rclone as a peer client, and reporting.
 * Nothing here is imported by src/.
 */
import { cliEnv as baseCliEnv } from '../../test/helpers/cli.js';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { S3Client } from '@aws-sdk/client-s3';
import { createTestBucket, putObjects, s3Client } from '../../test/helpers/s3.js';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../test/sim/index.js';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
import { commandExists, ensureSystemPackages, startS3Server, stopS3Server, type S3ServerInfo } from '../s3-server.js';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
/** The built CLI; BENCH_CLI points at another build (an A/B comparison of a patch). */
export const CLI = process.env.BENCH_CLI ? resolve(process.env.BENCH_CLI) : join(ROOT, 'dist', 'cli', 'main.js');
export const RESULTS_DIR = join(ROOT, 'bench-results');

export function log(line: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

/** Milliseconds since `start` (a performance.now() reading). */
export function since(start: number): number {
  return performance.now() - start;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** A positive whole number from a flag, or the default; throws a usage error otherwise. */
export function intFlag(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive whole number, not '${value}'`);
  return n;
}

export class UsageError extends Error {}

const loadAtStart = loadavg();

/**
 * Other work on the machine skews every figure (2 cores): the 1-minute load average at start and
 * end, and a warning to print when either exceeds the number of cores.
 */
export function loadNote(): { atStart: number; atEnd: number; busy: boolean; warning: string | undefined } {
  const atStart = round(loadAtStart[0] ?? 0, 2);
  const atEnd = round(loadavg()[0] ?? 0, 2);
  const busy = Math.max(atStart, atEnd) > cpus().length;
  return {
    atStart,
    atEnd,
    busy,
    warning: busy ? `WARNING: the machine was busy (1-min load average ${atStart} at start, ${atEnd} at end, ${cpus().length} cores): other processes skewed these figures; re-run when it is quiet` : undefined,
  };
}

/** The commit the CLI was built from, and whether src/ had uncommitted changes (others edit it concurrently). */
function source(): { commit: string; srcDirty: boolean } | undefined {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).trim() !== '';
    return { commit, srcDirty: dirty };
  } catch {
    return undefined;
  }
}

export function machine(): Record<string, unknown> {
  return {
    date: new Date().toISOString(),
    source: source() ?? null,
    loadAverage1m: loadNote(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memGiB: round(totalmem() / 1024 ** 3, 1),
  };
}

// ---------------------------------------------------------------------------------------------
// Servers and cleanup

/** Children started by the benchmark, killed (by PID) on SIGINT/SIGTERM. */
const liveChildren = new Set<ChildProcess>();
let interrupted: NodeJS.Signals | undefined;

export interface Servers {
  s3info: S3ServerInfo;
  s3: S3Client;
  sim: Simulator;
}

/**
 * Starts Ceph radosgw and the API simulator, runs `body`, and always stops both (by recorded PID),
 * on success, error or Ctrl-C. Returns the process exit code: 0, 1 (the run failed), 2 (usage), 130.
 */
export async function withServers(simOptions: SimulatorOptions, body: (servers: Servers) => Promise<void>): Promise<number> {
  let s3info: S3ServerInfo | undefined;
  let sim: Simulator | undefined;
  let s3: S3Client | undefined;
  let firstSignalAt = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    // Under tsx one Ctrl-C arrives twice (from the terminal, and relayed by tsx's parent process).
    if (interrupted && performance.now() - firstSignalAt > 1_000) process.exit(130);
    if (interrupted) return;
    interrupted = signal;
    firstSignalAt = performance.now();
    log(`${signal}: stopping the child processes and servers (again to exit at once)`);
    for (const child of liveChildren) killGroup(child);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await ensureSystemPackages(['radosgw', 'ceph-mon', 'ceph-osd']);
    const t0 = performance.now();
    s3info = await startS3Server({ log: (line) => log(line) });
    log(`Ceph radosgw ready at ${s3info.endpoint} in ${(since(t0) / 1000).toFixed(1)} s`);
    checkInterrupted();
    sim = await startSimulator(simOptions);
    s3 = s3Client(s3info);
    log(`API simulator at ${sim.url}`);
    await body({ s3info, s3, sim });
    return 0;
  } catch (error) {
    if (interrupted) {
      log(`interrupted by ${interrupted}`);
      return 130;
    }
    if (error instanceof UsageError) {
      process.stderr.write(`bench: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(`bench: the run failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  } finally {
    s3?.destroy();
    await sim?.close().catch((error: unknown) => log(`simulator close: ${String(error)}`));
    if (s3info) {
      await stopS3Server(s3info).catch((error: unknown) => log(`stopS3Server: ${String(error)}`));
      log('servers stopped');
    }
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export function checkInterrupted(): void {
  if (interrupted) throw new Error(`interrupted by ${interrupted}`);
}

/** Node flags for the CLI child, e.g. BENCH_CLI_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' (NODE_OPTIONS refuses --cpu-prof). */
export const CLI_NODE_ARGS = (process.env.BENCH_CLI_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);

/** argv for `node [BENCH_CLI_NODE_ARGS] dist/cli/main.js ...args`. */
export function cliArgv(args: string[]): string[] {
  return [...CLI_NODE_ARGS, CLI, ...args];
}

/** Environment for the CLI child: only what it needs, no inherited AWS_* or proxy settings. */
export function cliEnv(s3info: S3ServerInfo, sim: Simulator): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, ...baseCliEnv(s3info, sim) };
}

export async function workDir(name: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `tlm-bench-${name}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

// ---------------------------------------------------------------------------------------------
// Seeding

export interface SeededObject {
  key: string;
  /** The basename, which the planner matches legacy videos by. */
  filename: string;
  size: number;
  etag: string;
}

export const PREFIXES = 100;
export const OBJECT_BYTES = 1024;

/** `p042/clip-0000123.mp4`: unique basenames (no collisions), ~100 prefixes. */
export function objectKey(i: number, prefixes = PREFIXES): { key: string; filename: string } {
  const filename = `clip-${String(i).padStart(7, '0')}.mp4`;
  return { key: `p${String(i % prefixes).padStart(3, '0')}/${filename}`, filename };
}

/**
 * Creates a bucket with `n` tiny .mp4 objects (1 KB Buffers, each with its own content so that no
 * two share an ETag: the planner would skip content duplicates), `concurrency` puts at a time.
 */
export async function seedBucket(s3: S3Client, hint: string, n: number, concurrency = 32): Promise<{ bucket: string; objects: SeededObject[]; seconds: number }> {
  const t0 = performance.now();
  const bucket = await createTestBucket(s3, hint);
  const objects: Array<{ key: string; body: Buffer }> = [];
  for (let i = 0; i < n; i++) {
    const body = Buffer.alloc(OBJECT_BYTES, 0x20);
    body.write(`bench object ${i} ${bucket}\n`);
    objects.push({ key: objectKey(i).key, body });
  }
  let done = 0;
  const ticker = setInterval(() => log(`seeding s3://${bucket}: about ${done.toLocaleString('en-US')}/${n.toLocaleString('en-US')}`), 15_000);
  const chunks: SeededObject[] = [];
  try {
    // In slices, so that progress can be reported and Ctrl-C honoured between them.
    const slice = 500;
    for (let start = 0; start < n; start += slice) {
      checkInterrupted();
      const part = objects.slice(start, start + slice);
      const put = await putObjects(s3, bucket, part, concurrency);
      put.forEach((p, j) => chunks.push({ key: p.key, filename: objectKey(start + j).filename, size: p.size, etag: p.etag }));
      done += part.length;
    }
  } finally {
    clearInterval(ticker);
  }
  const seconds = since(t0) / 1000;
  log(`seeded s3://${bucket} with ${n.toLocaleString('en-US')} objects in ${seconds.toFixed(1)} s`);
  return { bucket, objects: chunks, seconds };
}

// ---------------------------------------------------------------------------------------------
// Child processes

export interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  wallMs: number;
  /** Peak resident set size of the child in KiB (GNU time %M, else /proc VmHWM sampling). */
  peakRssKiB: number | undefined;
  /** User + system CPU seconds of the child (GNU time %U + %S; undefined with /proc sampling). */
  cpuSeconds: number | undefined;
  rssMethod: 'gnu-time' | 'proc-sampling';
  stdout: string;
  stderr: string;
}

const GNU_TIME = '/usr/bin/time';
const HAS_SETPRIV = commandExists('setpriv');
let timeChecked = false;

/** Installs Debian's `time` when /usr/bin/time is missing (root only; else /proc sampling is used). */
async function ensureGnuTime(): Promise<boolean> {
  if (!timeChecked) {
    timeChecked = true;
    if (!existsSync(GNU_TIME) && process.getuid?.() === 0) {
      await ensureSystemPackages(['time']).catch((error: unknown) => log(`cannot install GNU time (${String(error)}): sampling /proc instead`));
    }
  }
  return existsSync(GNU_TIME);
}

/**
 * Runs a command to completion and measures its wall time (performance.now around spawn..exit)
 * and peak RSS: under GNU time (`-f %M -o FILE`, so its report never mixes with the child's
 * stderr), or by sampling VmHWM (a high-water mark) of /proc/PID/status every 10 ms.
 */
export async function runMeasured(cmd: string, args: string[], opts: { env: NodeJS.ProcessEnv; cwd: string; timeoutMs?: number }): Promise<ChildRun> {
  checkInterrupted();
  const useTime = await ensureGnuTime();
  const rssFile = join(opts.cwd, `.rss-${process.pid}-${Math.random().toString(36).slice(2)}.txt`);
  // setpriv --pdeathsig ties each process to its parent: if this script dies, even by SIGKILL (tsx
  // SIGKILLs its child when a Ctrl-C is not acknowledged within 30 ms), GNU time and the CLI die too.
  const tie = (argv: string[]) => (HAS_SETPRIV ? ['setpriv', '--pdeathsig', 'KILL', '--', ...argv] : argv);
  const [file, ...argv] = useTime ? tie([GNU_TIME, '-f', '%M %U %S', '-o', rssFile, ...tie([cmd, ...args])]) : tie([cmd, ...args]);
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  let hwm = 0;
  const started = performance.now();
  // Its own process group: a kill reaches the measured command too, not only GNU time.
  const child = spawn(file as string, argv, { env: opts.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  liveChildren.add(child);
  child.stdout.on('data', (b: Buffer) => stdout.push(b));
  child.stderr.on('data', (b: Buffer) => stderr.push(b));
  const sampler = useTime
    ? undefined
    : setInterval(() => {
        if (child.pid === undefined) return;
        readFile(`/proc/${child.pid}/status`, 'utf8')
          .then((text) => {
            const m = /VmHWM:\s+(\d+) kB/.exec(text);
            if (m) hwm = Math.max(hwm, Number(m[1]));
          })
          .catch(() => undefined);
      }, 10);
  const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => killGroup(child), opts.timeoutMs);
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done, fail) => {
    child.on('error', fail);
    child.on('close', (c, s) => done({ code: c, signal: s }));
  }).finally(() => {
    liveChildren.delete(child);
    if (sampler) clearInterval(sampler);
    if (timer) clearTimeout(timer);
  });
  const wallMs = since(started);
  checkInterrupted();
  let peakRssKiB: number | undefined = hwm || undefined;
  let cpuSeconds: number | undefined;
  if (useTime) {
    const text = await readFile(rssFile, 'utf8').catch(() => '');
    await rm(rssFile, { force: true });
    // GNU time writes "Command exited with non-zero status N" before the figures when the child fails.
    const m = /^(\d+) ([\d.]+) ([\d.]+)$/.exec(text.trim().split('\n').pop() ?? '');
    peakRssKiB = m ? Number(m[1]) : undefined;
    cpuSeconds = m ? round(Number(m[2]) + Number(m[3]), 2) : undefined;
  }
  return {
    // GNU time passes the child's exit status on.
    code,
    signal,
    wallMs,
    peakRssKiB,
    cpuSeconds,
    rssMethod: useTime ? 'gnu-time' : 'proc-sampling',
    stdout: Buffer.concat(stdout).toString('utf8'),
    stderr: Buffer.concat(stderr).toString('utf8'),
  };
}

/** SIGKILL to the process group of a child this script started (by its PID). */
function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** The last `lines` lines of a child's stderr, for error messages. */
export function tail(text: string, lines = 15): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

// ---------------------------------------------------------------------------------------------
// rclone

export interface Rclone {
  /** Lists `bucket` recursively; returns the wall time and the number of files (not folders) listed. */
  list(bucket: string): Promise<{ wallMs: number; files: number }>;
  version: string;
  remove(): Promise<void>;
}

/**
 * Debian's rclone as a peer S3 client: a temp rclone.conf (type s3, provider Ceph, path style),
 * run without AWS_CA_BUNDLE (rclone fails with LoadCustomCABundleError when it is set).
 */
export async function setupRclone(s3info: S3ServerInfo): Promise<Rclone> {
  if (!commandExists('rclone')) await ensureSystemPackages(['rclone']);
  const dir = await mkdtemp(join(tmpdir(), 'tlm-bench-rclone-'));
  const conf = join(dir, 'rclone.conf');
  await writeFile(
    conf,
    [
      '[bench]',
      'type = s3',
      'provider = Ceph',
      `endpoint = ${s3info.endpoint}`,
      `access_key_id = ${s3info.accessKeyId}`,
      `secret_access_key = ${s3info.secretAccessKey}`,
      'region = us-east-1',
      'force_path_style = true',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.AWS_CA_BUNDLE;
  const versionRun = await runMeasured('rclone', ['version'], { env, cwd: dir });
  const version = versionRun.stdout.split('\n')[0]?.trim() ?? 'rclone';
  return {
    version,
    list: async (bucket) => {
      const run = await runMeasured('rclone', ['--config', conf, 'lsf', '-R', `bench:${bucket}`], { env, cwd: dir, timeoutMs: 600_000 });
      if (run.code !== 0) throw new Error(`rclone lsf -R bench:${bucket} exited ${run.code ?? run.signal}:\n${tail(run.stderr)}`);
      const files = run.stdout.split('\n').filter((l) => l !== '' && !l.endsWith('/')).length;
      return { wallMs: run.wallMs, files };
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

// ---------------------------------------------------------------------------------------------
// The bare SDK listing: what any Node tool on the v3 SDK pays at least

/** A ListObjectsV2 loop (MaxKeys 1000) with the project's pinned @aws-sdk/client-s3, nothing else. */
const BARE_LIST = `
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
const client = new S3Client({ region: 'us-east-1', endpoint: process.env.AWS_ENDPOINT_URL_S3, forcePathStyle: true });
let token, n = 0;
do {
  const page = await client.send(new ListObjectsV2Command({ Bucket: process.env.BENCH_BUCKET, ContinuationToken: token, MaxKeys: 1000 }));
  n += page.Contents?.length ?? 0;
  token = page.IsTruncated ? page.NextContinuationToken : undefined;
} while (token);
process.stdout.write(String(n));
`;

/**
 * Lists a bucket with a bare Node v3-SDK loop in a child process (\`node --input-type=module -e\`,
 * resolved from the repository): the floor for any Node tool built on the SDK, start-up included.
 */
export async function bareSdkList(s3info: S3ServerInfo, bucket: string): Promise<{ wallMs: number; files: number }> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AWS_ACCESS_KEY_ID: s3info.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3info.secretAccessKey,
    AWS_ENDPOINT_URL_S3: s3info.endpoint,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    BENCH_BUCKET: bucket,
  };
  const run = await runMeasured(process.execPath, ['--input-type=module', '-e', BARE_LIST], { env, cwd: ROOT, timeoutMs: 600_000 });
  if (run.code !== 0) throw new Error(`bare SDK listing of s3://${bucket} exited ${run.code ?? run.signal}:\n${tail(run.stderr)}`);
  return { wallMs: run.wallMs, files: Number(run.stdout.trim()) };
}

// ---------------------------------------------------------------------------------------------
// Reporting

export function pass(ok: boolean): 'PASS' | 'MISS' {
  return ok ? 'PASS' : 'MISS';
}

/** A plain text table: first row is the header. */
export function table(rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  const cells = rows.map((r) => r.map(String));
  const widths = cells[0]?.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? '').length))) ?? [];
  const line = (r: string[]) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join('  ');
  const out = [line(cells[0] ?? []), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)];
  return `${out.join('\n')}\n`;
}

export async function writeResults(name: string, data: unknown): Promise<string> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, name);
  await writeFile(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}

export function mib(kib: number | undefined): number | undefined {
  return kib === undefined ? undefined : round(kib / 1024, 1);
}

/** Fails early, with the fix, when the CLI has not been built. */
export function requireBuiltCli(): void {
  if (!existsSync(CLI)) throw new UsageError(`${CLI} is missing: run npm run build first`);
}
