/**
 * `npm run sim`: the project's Twelve Labs API simulator (test/sim) as a server you can rehearse a
 * migration against, no credits spent. See README "Rehearse before you spend credits".
 *
 *   tsx scripts/sim.ts [run] [flags]   in the foreground; Ctrl-C stops it
 *   tsx scripts/sim.ts start [flags]   in the background (npm run sim:start); prints the export lines
 *   tsx scripts/sim.ts env             print the export lines of the running one (npm run sim:env)
 *   tsx scripts/sim.ts stop            stop the background one (npm run sim:stop)
 *
 * The export lines (TWELVELABS_BASE_URL, TWELVELABS_API_KEY) go to stdout, everything else to stderr.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CreateBucketCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { fakeMp4, hasBinary, startSimulator, type FaultConfig, type LifecycleTimings, type SeedVideoInput, type SimulatorOptions } from '../test/sim/index.js';
import { putObjects } from '../test/helpers/s3.js';
import { uniqueValidVideo, videoFixture } from '../test/helpers/videos.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// Tests that run the README's rehearsal set these so parallel runs do not share a port or a state file.
const DEFAULT_STATE = process.env.TLMIGRATE_SIM_STATE ?? join(root, '.tmp', 'sim.json');
const DEFAULT_PORT = process.env.TLMIGRATE_SIM_PORT ?? '8790';
const DEFAULT_INDEX_ID = '6650f1a2b3c4d5e6f7a8b9c0';

const FLAGS = {
  port: { type: 'string', default: DEFAULT_PORT },
  'api-key': { type: 'string' },
  'index-id': { type: 'string', default: DEFAULT_INDEX_ID },
  'index-name': { type: 'string', default: 'rehearsal' },
  'seed-video': { type: 'string', multiple: true },
  config: { type: 'string' },
  errors: { type: 'string' },
  'lost-answers': { type: 'string' },
  'rate-limit': { type: 'string' },
  latency: { type: 'string' },
  'listing-lag': { type: 'string' },
  'indexing-ms': { type: 'string', default: '800' },
  seed: { type: 'string' },
  probe: { type: 'string' },
  'sample-bucket': { type: 'string' },
  'sample-videos': { type: 'string', default: '6' },
  'env-out': { type: 'string' },
  state: { type: 'string', default: DEFAULT_STATE },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

const USAGE = `usage: npm run sim [-- FLAGS]        (or sim:start / sim:env / sim:stop)
  --port N               port on 127.0.0.1 (default 8790; 0 picks a free one)
  --api-key KEY          the key it accepts (default a random tlk_...)
  --index-id ID          the index it holds (default ${DEFAULT_INDEX_ID}); --index-name NAME (default rehearsal)
  --seed-video NAME:SIZE a video "already imported" into that index (repeatable), e.g. intro.mov:1048576
  --config FILE          JSON: {"indexes": [{"id", "name", "videos": [{"filename", "size", ...}]}],
                         "faults": {...}, "lifecycle": {...}, "probe": "basic"|"ffprobe"} (test/sim/README.md)
  --errors RATE          answer this share of requests with a 5xx before doing any work (e.g. 0.1)
  --lost-answers RATE    create the task, then lose the answer (a 500) for this share of POST /tasks
  --rate-limit N         at most N POST /tasks per minute (429 beyond)
  --latency MS           delay every request; --listing-lag MS: new tasks show in listings this late
  --indexing-ms MS       time a task spends indexing (default 800); --seed N: the faults' random seed
  --probe basic|ffprobe  how videos are judged (default ffprobe when installed: real durations, resolutions)
  --sample-bucket NAME   create this bucket in the S3 of AWS_ENDPOINT_URL_S3 / AWS_* and put sample videos
                         in it (--sample-videos N, default 6, plus a duplicate, a too-short clip, a sidecar)
  --env-out FILE         also write the export lines to FILE (then: . FILE)
  --state FILE           where start/env/stop keep the background server's pid and URL (default .tmp/sim.json)`;

type Flags = ReturnType<typeof parseFlags>;

interface SimState {
  pid: number;
  url: string;
  apiKey: string;
  indexId: string;
}

function parseFlags(argv: string[]) {
  return parseArgs({ args: argv, options: FLAGS, allowPositionals: true, strict: true });
}

function numberFlag(flags: Flags['values'], name: 'port' | 'errors' | 'lost-answers' | 'rate-limit' | 'latency' | 'listing-lag' | 'indexing-ms' | 'seed' | 'sample-videos'): number | undefined {
  const text = flags[name];
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0) throw new SimUsageError(`--${name} "${text}" is not a number of 0 or more`);
  return value;
}

class SimUsageError extends Error {}

interface SimConfig {
  indexes?: Array<{ id?: string; name?: string; videos?: SeedVideoInput[] }>;
  faults?: FaultConfig;
  lifecycle?: Partial<LifecycleTimings>;
  probe?: 'basic' | 'ffprobe';
  fetchVideo?: boolean;
}

async function readConfig(path: string | undefined): Promise<SimConfig> {
  if (path === undefined) return {};
  try {
    return JSON.parse(await readFile(path, 'utf8')) as SimConfig;
  } catch (error) {
    throw new SimUsageError(`--config ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function faultsFrom(values: Flags['values'], base: FaultConfig = {}): FaultConfig {
  const faults: FaultConfig = { ...base };
  const seed = numberFlag(values, 'seed');
  const errors = numberFlag(values, 'errors');
  const lost = numberFlag(values, 'lost-answers');
  const rpm = numberFlag(values, 'rate-limit');
  const latency = numberFlag(values, 'latency');
  const lag = numberFlag(values, 'listing-lag');
  if (seed !== undefined) faults.seed = seed;
  if (errors) faults.error5xx = { rate: errors };
  if (lost) faults.postAcceptThenFail = { rate: lost, mode: '500' };
  if (rpm) faults.rateLimit = { limit: rpm, windowMs: 60_000, headers: true, routes: ['POST /tasks'] };
  if (latency) faults.latency = { ms: latency };
  if (lag) faults.taskVisibilityLagMs = lag;
  return faults;
}

function seedVideos(values: Flags['values']): SeedVideoInput[] {
  return (values['seed-video'] ?? []).map((spec) => {
    const match = /^(.+):(\d+)$/.exec(spec);
    if (!match?.[1] || !match[2]) throw new SimUsageError(`--seed-video "${spec}" is not NAME:SIZE, e.g. intro.mov:1048576`);
    return { filename: match[1], size: Number(match[2]), duration: 30, width: 1280, height: 720 };
  });
}

function envLines(state: Pick<SimState, 'url' | 'apiKey'>): string {
  return `export TWELVELABS_BASE_URL=${state.url}\nexport TWELVELABS_API_KEY=${state.apiKey}\n`;
}

/** Puts sample videos in a bucket of the S3 the AWS_* variables name: what a rehearsal plans from. */
async function sampleBucket(bucket: string, count: number): Promise<void> {
  const s3 = new S3Client({ forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
  try {
    const exists = await s3.send(new HeadBucketCommand({ Bucket: bucket })).then(() => true, () => false);
    if (!exists) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const real = await hasBinary('ffmpeg');
    const video = (i: number) => (real ? uniqueValidVideo(9000 + i) : Promise.resolve(Buffer.concat([fakeMp4(), Buffer.from(`sample ${i}`)])));
    const objects: Array<{ key: string; body: Buffer | string }> = [];
    for (let i = 1; i <= count; i++) objects.push({ key: `videos/clip-${String(i).padStart(2, '0')}.mp4`, body: await video(i) });
    objects.push({ key: 'videos/clip-01 (copy).mp4', body: await video(1) });
    if (real) objects.push({ key: 'videos/teaser.mp4', body: await videoFixture('too_short') });
    objects.push({ key: 'videos/clip-01.srt', body: '1\n00:00:00,000 --> 00:00:02,000\nHello\n' });
    await putObjects(s3, bucket, objects);
    process.stderr.write(`sim: put ${objects.length} objects in s3://${bucket}/videos/${real ? '' : ' (ffmpeg missing: stand-ins the simulator accepts, but plan --probe fails them)'}\n`);
  } finally {
    s3.destroy();
  }
}

async function runForeground(values: Flags['values']): Promise<void> {
  const config = await readConfig(values.config);
  const probe = values.probe ?? config.probe ?? ((await hasBinary('ffprobe')) ? 'ffprobe' : 'basic');
  if (probe !== 'basic' && probe !== 'ffprobe') throw new SimUsageError(`--probe "${probe}" is not basic or ffprobe`);
  const indexingMs = numberFlag(values, 'indexing-ms') ?? 800;
  const options: SimulatorOptions = {
    port: numberFlag(values, 'port') ?? 0,
    probe,
    lifecycle: { validatingMs: 300, pendingMs: 300, queuedMs: 300, indexingMs, ...config.lifecycle },
    faults: faultsFrom(values, config.faults),
    ...(values['api-key'] ? { apiKey: values['api-key'] } : {}),
    ...(config.fetchVideo === undefined ? {} : { fetchVideo: config.fetchVideo }),
  };
  if (values['sample-bucket']) await sampleBucket(values['sample-bucket'], numberFlag(values, 'sample-videos') ?? 6);
  const sim = await startSimulator(options);
  const indexes = config.indexes?.length ? config.indexes : [{ id: values['index-id'], name: values['index-name'], videos: [] }];
  const first = indexes[0] === undefined ? undefined : seedIndex(sim, indexes[0], seedVideos(values));
  for (const extra of indexes.slice(1)) seedIndex(sim, extra, []);
  const state: SimState = { pid: process.pid, url: sim.url, apiKey: sim.apiKey, indexId: first ?? '' };
  if (values['env-out']) await writeFile(values['env-out'], envLines(state), { mode: 0o600 });
  await mkdir(dirname(values.state), { recursive: true });
  await writeFile(values.state, `${JSON.stringify(state)}\n`, { mode: 0o600 });
  process.stderr.write(`sim: Twelve Labs API simulator at ${sim.url}, index ${state.indexId}; Ctrl-C (or npm run sim:stop) stops it. In the shell you run tlmigrate from:\n`);
  process.stdout.write(envLines(state));
  const stop = async () => {
    await sim.close();
    await rm(values.state, { force: true });
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

function seedIndex(sim: Awaited<ReturnType<typeof startSimulator>>, spec: { id?: string | undefined; name?: string | undefined; videos?: SeedVideoInput[] | undefined }, more: SeedVideoInput[]): string {
  const index = sim.createIndex({ ...(spec.id ? { id: spec.id } : {}), ...(spec.name ? { name: spec.name } : {}) });
  for (const video of [...(spec.videos ?? []), ...more]) sim.seedVideo(index.id, video);
  return index.id;
}

async function readState(path: string): Promise<SimState> {
  const text = await readFile(path, 'utf8').catch(() => {
    throw new SimUsageError(`no simulator is running for ${path}: start one with npm run sim:start`);
  });
  return JSON.parse(text) as SimState;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return existsSync('/proc/self') ? readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('sim.ts') : true;
  } catch {
    return false;
  }
}

/** Starts `run` detached and waits until it has written its state (its own pid in it). */
async function startBackground(argv: string[], values: Flags['values']): Promise<void> {
  if (existsSync(values.state)) {
    const old = await readState(values.state);
    if (alive(old.pid)) throw new SimUsageError(`a simulator is already running at ${old.url} (pid ${old.pid}): npm run sim:stop first`);
  }
  await mkdir(dirname(values.state), { recursive: true });
  const logFile = join(dirname(values.state), 'sim.log');
  const out = openSync(logFile, 'w');
  const args = argv.filter((a) => a !== 'start');
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), 'run', ...args], { detached: true, stdio: ['ignore', out, out] });
  closeSync(out);
  let exited = false;
  child.once('exit', () => (exited = true));
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && !exited) {
    const state = existsSync(values.state) ? await readState(values.state).catch(() => undefined) : undefined;
    if (state && state.pid === child.pid) {
      child.unref();
      process.stderr.write(`sim: started in the background at ${state.url} (pid ${state.pid}, log ${logFile}); npm run sim:stop stops it. In the shell you run tlmigrate from:\n`);
      process.stdout.write(envLines(state));
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!exited) child.kill('SIGKILL');
  throw new SimUsageError(`the simulator did not start; its log (${logFile}):\n${readFileSync(logFile, 'utf8').trim()}`);
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseFlags(argv);
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const command = positionals[0] ?? 'run';
  if (command === 'run') return runForeground(values);
  if (command === 'start') return startBackground(argv, values);
  const state = await readState(values.state);
  if (command === 'env') {
    process.stdout.write(envLines(state));
    return;
  }
  if (command === 'stop') {
    if (alive(state.pid)) process.kill(state.pid, 'SIGTERM');
    for (let waited = 0; waited < 5000 && alive(state.pid); waited += 50) await new Promise((r) => setTimeout(r, 50));
    await rm(values.state, { force: true });
    process.stderr.write(`sim: stopped the simulator at ${state.url}\n`);
    return;
  }
  throw new SimUsageError(`unknown command ${command}\n${USAGE}`);
}

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(error instanceof SimUsageError || (error instanceof TypeError && 'code' in error) ? `sim: ${error.message}\n` : `sim: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(2);
});
