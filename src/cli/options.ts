import type { Argv } from 'yargs';
import { ConfigError } from '../errors.js';
import type { ApplyArgs } from './apply-command.js';
import { DURATION_HELP, SIZE_HELP, noStrings, parseDurationMs, parsePositiveNumber, parseSize, parseWholeNumber, type FlagInput } from './flags.js';
import type { PlanArgs } from './plan-command.js';
import { parseStopAt, type UnattendedArgs } from './unattended.js';
import { DEFAULT_S3_CONNECT_TIMEOUT_S, DEFAULT_S3_REQUEST_TIMEOUT_S, S3_MAX_ATTEMPTS } from '../sources/s3-settings.js';

export const DEFAULT_STATE = 'tlmigrate-state.json';
export const DEFAULT_PLAN = 'plan.json';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** The plan flags' defaults (besides empty --include/--exclude), for callers from code (the library, benchmarks): the CLI's own: yargs shows them in --help. */
export const PLAN_DEFAULTS = {
  incremental: true,
  match: 'filename',
  probe: false,
  allFiles: false,
  probeConcurrency: 8,
  via: 'tasks',
} as const satisfies Partial<PlanArgs>;

/** The run flags' defaults as the CLI takes them: yargs shows them in --help, and the library parses these same words. */
export const RUN_FLAG_DEFAULTS = {
  concurrency: '4',
  'presign-expires': '6h',
  'request-timeout': '60s',
  'poll-interval': '10s',
  'reconcile-lag': '5s',
  'reconcile-min-age': '2m',
} as const;

/** The range of every numeric flag, in one table: parsing and --help read it. */
export const FLAG_LIMITS = {
  concurrency: { min: 1, max: 64, example: 8 },
  probeConcurrency: { min: 1, max: 256, example: 16 },
  maxKeys: { min: 0, max: Number.MAX_SAFE_INTEGER, example: 100 },
  requestTimeout: { min: SECOND, max: HOUR, example: '60s' },
  pollInterval: { min: 100, max: HOUR, example: '10s' },
  reconcileLag: { min: 100, max: 10 * MINUTE, example: '5s' },
  reconcileMinAge: { min: 30 * SECOND, max: DAY, example: '2m', why: 'a shorter search could miss a task the index lists late, and submit the video twice' },
  presignExpires: { min: MINUTE, max: 7 * DAY, example: '6h' },
  videoDuration: { min: 0, max: 7 * DAY, example: '10m' },
  s3ConnectTimeout: { min: 100, max: 10 * MINUTE, example: '10s' },
  s3RequestTimeout: { min: 100, max: HOUR, example: '30s' },
  maxItems: { min: 1, max: Number.MAX_SAFE_INTEGER, example: 1000 },
  maxRunTime: { min: SECOND, max: 366 * DAY, example: '8h' },
} as const;

/** `--state` with its default, in the words of the command that reads it. */
export function stateOption<T>(y: Argv<T>, describe: string) {
  return y.option('state', { type: 'string', default: DEFAULT_STATE, describe });
}

/** `--json`: one JSON object on stdout, whose shape `describe` names. */
export function jsonOption<T>(y: Argv<T>, describe: string) {
  return y.option('json', { type: 'boolean', default: false, describe });
}

/** `--index` and `--api-url`, as the commands that read an index by its id name them. */
export function indexOptions<T>(y: Argv<T>) {
  return y
    .option('index', { type: 'string', demandOption: true, describe: 'The Twelve Labs index id' })
    .option('api-url', { type: 'string', describe: 'Twelve Labs API base URL (default TWELVELABS_BASE_URL, else the real API)' });
}

/** S3 timeouts, on every command that reads S3 (`S3_MAX_ATTEMPTS` attempts per request). */
function s3TimeoutOptions<T>(y: Argv<T>) {
  return y
    .option('s3-connect-timeout', { type: 'string', default: `${DEFAULT_S3_CONNECT_TIMEOUT_S}s`, describe: `Time to connect to S3 before an attempt fails (${S3_MAX_ATTEMPTS} attempts per request): ${DURATION_HELP}` })
    .option('s3-request-timeout', { type: 'string', default: `${DEFAULT_S3_REQUEST_TIMEOUT_S}s`, describe: `Time S3 may stay silent (no answer, or a body that stops) before an attempt fails: ${DURATION_HELP}` });
}

function s3Timeouts(a: { 's3-connect-timeout'?: FlagInput; 's3-request-timeout'?: FlagInput }): { s3ConnectTimeoutMs?: number; s3RequestTimeoutMs?: number } {
  return {
    ...(a['s3-connect-timeout'] === undefined ? {} : { s3ConnectTimeoutMs: parseDurationMs('--s3-connect-timeout', a['s3-connect-timeout'], FLAG_LIMITS.s3ConnectTimeout) }),
    ...(a['s3-request-timeout'] === undefined ? {} : { s3RequestTimeoutMs: parseDurationMs('--s3-request-timeout', a['s3-request-timeout'], FLAG_LIMITS.s3RequestTimeout) }),
  };
}

/** Options shared by `plan` and `migrate`. */
export function planOptions<T>(y: Argv<T>) {
  return s3TimeoutOptions(y)
    .option('source', { type: 'string', demandOption: true, describe: 'Where the videos are: s3://BUCKET[/PREFIX]' })
    .option('index', { type: 'string', demandOption: true, describe: 'Target Twelve Labs index id' })
    .option('out', { type: 'string', default: DEFAULT_PLAN, describe: 'Plan file to write (atomically; an older one is kept when planning fails)' })
    .option('state', { type: 'string', default: DEFAULT_STATE, describe: 'State file of earlier runs (its ledger counts as already indexed)' })
    .option('include', {
      type: 'string',
      array: true,
      default: noStrings(),
      describe: 'Only keys matching this glob (repeatable). Globs match the whole key, prefix included: under s3://b/videos/ write "videos/**/*.mp4" or "**/*.mp4", not "*.mp4"',
    })
    .option('exclude', { type: 'string', array: true, default: noStrings(), describe: 'Skip keys matching this glob (repeatable); the whole key, prefix included, e.g. "videos/misc/**"' })
    .option('files-from', {
      type: 'string',
      // Takes the next word even when it is `-` (stdin).
      requiresArg: true,
      describe: 'Plan only the keys listed in FILE (- for stdin): one per line, relative to the --source prefix (or a full s3://BUCKET/KEY); each is HEADed instead of listing the bucket',
    })
    .option('fail-on-missing', { type: 'boolean', default: false, describe: 'With --files-from: fail the plan (exit 2, no plan written) when a listed key is not in the bucket' })
    .option('min-size', { type: 'string', describe: `Skip objects smaller than this: ${SIZE_HELP}` })
    .option('max-size', { type: 'string', describe: `Skip objects larger than this: ${SIZE_HELP}` })
    .option('incremental', { type: 'boolean', default: PLAN_DEFAULTS.incremental, describe: 'Skip what the index already holds (--no-incremental plans everything)' })
    .option('match', { choices: ['filename', 'fingerprint'] as const, default: PLAN_DEFAULTS.match, describe: 'fingerprint: only our user_metadata proves a video is indexed; filename: also filename+size (legacy imports)' })
    .option('probe', { type: 'boolean', default: PLAN_DEFAULTS.probe, describe: 'Run ffprobe on each video to upload (Range reads) and fail short, low-res or broken files before spending credits' })
    .option('probe-concurrency', { type: 'string', default: String(PLAN_DEFAULTS.probeConcurrency), describe: `Parallel probes, metadata lookups and --files-from HEADs (${FLAG_LIMITS.probeConcurrency.min}-${FLAG_LIMITS.probeConcurrency.max})` })
    .option('all-files', { type: 'boolean', default: PLAN_DEFAULTS.allFiles, describe: 'Send non-video extensions to preflight (they fail unsupported_file_type) instead of excluding them' })
    .option('extensions', { type: 'string', array: true, describe: 'Video extensions to consider (default: mp4 mov mkv webm avi m4v mpg ts ...)' })
    .option('inventory', { type: 'string', describe: 'Read an S3 Inventory report (s3://bucket/path/manifest.json, CSV) instead of listing' })
    .option('api-url', { type: 'string', describe: 'Twelve Labs API base URL, ending in the version (default TWELVELABS_BASE_URL, else https://api.twelvelabs.io/v1.3)' })
    .option('s3-endpoint', { type: 'string', describe: 'S3-compatible endpoint with its scheme, e.g. http://127.0.0.1:9000 (default AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL); path-style addressing' })
    .option('s3-region', { type: 'string', describe: 'S3 region (default AWS_REGION, else us-east-1)' })
    .option('min-duration', { type: 'string', describe: `Requirements: shortest video (default 4s): ${DURATION_HELP}` })
    .option('max-duration', { type: 'string', describe: `Requirements: longest video (default 2h, tightened by the index's models): ${DURATION_HELP}` })
    .option('max-file-size', { type: 'string', describe: `Requirements: largest file (default 2GiB; 10GiB with --via assets): ${SIZE_HELP}` })
    .option('multipart-threshold', { type: 'string', describe: `With --via assets: objects larger than this are uploaded in parts, streamed from S3 (default 4GiB, what a URL upload takes): ${SIZE_HELP}` })
    .option('detailed-exitcode', {
      type: 'boolean',
      default: false,
      describe: "Terraform's convention: exit 0 when there is nothing to upload, 2 when there is work to do, 1 on any error (configuration errors included)",
    });
}

/** `plan`'s own flags that `migrate` describes differently. */
export function planOnlyOptions<T>(y: Argv<T>) {
  return y
    .option('via', { choices: ['tasks', 'assets'] as const, default: PLAN_DEFAULTS.via, describe: 'Upload path the plan is for: tasks (POST /tasks, up to 2 GB) or assets (POST /assets by URL + indexed-assets, up to 4 GB; 4-10 GB in parts, streamed from S3)' })
    .option('json', { type: 'boolean', default: false, describe: 'Print one JSON object on stdout instead of the summary' });
}

/** Options of `apply` that `migrate` shares. */
export function runOptions<T>(y: Argv<T>) {
  return y
    .option('concurrency', { type: 'string', default: RUN_FLAG_DEFAULTS['concurrency'], describe: `Requests in flight at once (a whole number, ${FLAG_LIMITS.concurrency.min}-${FLAG_LIMITS.concurrency.max})` })
    .option('max-rpm', { type: 'string', describe: 'Cap on requests per minute, a number above 0 (the run also learns from 429s)' })
    .option('metadata', { type: 'string', array: true, default: noStrings(), describe: 'user_metadata KEY=VALUE on every video (repeatable; types inferred)' })
    .option('metadata-json', { type: 'string', describe: 'user_metadata from a JSON file (exact types; scalars only)' })
    .option('video-stream', { type: 'boolean', default: true, describe: 'enable_video_stream (--no-video-stream to turn it off)' })
    .option('presign-expires', { type: 'string', default: RUN_FLAG_DEFAULTS['presign-expires'], describe: `Lifetime of each presigned URL, 1m to 7d: ${DURATION_HELP}` })
    .option('wait', { type: 'boolean', default: false, describe: 'Follow tasks until ready or failed' })
    .option('retry-failed', { type: 'boolean', default: false, describe: 'Resubmit items that failed in earlier runs' })
    .option('request-timeout', { type: 'string', default: RUN_FLAG_DEFAULTS['request-timeout'], describe: `Time before a request counts as timed out, its outcome then reconciled (1s to 1h): ${DURATION_HELP}` })
    .option('poll-interval', { type: 'string', default: RUN_FLAG_DEFAULTS['poll-interval'], describe: `Time between polls with --wait (0.1s to 1h): ${DURATION_HELP}` })
    .option('reconcile-lag', { type: 'string', default: RUN_FLAG_DEFAULTS['reconcile-lag'], describe: `Time to wait for a new task to show in listings before searching again (0.1s to 10m): ${DURATION_HELP}` })
    .option('reconcile-min-age', {
      type: 'string',
      // No yargs default: the flag wins over TLMIGRATE_RECONCILE_MIN_AGE, which wins over 2m (toApplyArgs).
      defaultDescription: `"${RUN_FLAG_DEFAULTS['reconcile-min-age']}"`,
      describe: `After a POST whose answer was lost, how long tlmigrate keeps searching the index before it may submit again (at least 30s): ${DURATION_HELP}; env TLMIGRATE_RECONCILE_MIN_AGE`,
    })
    .option('wait-for-quota', { type: 'boolean', default: false, describe: 'At a quota refusal or a far rate-limit reset, record the wait, sleep until the reset and go on (default: stop cleanly, exit 1)' })
    .option('max-items', { type: 'string', describe: 'Budget: start at most this many new items, then stop cleanly (exit 0) with a resume line' })
    .option('max-video-hours', { type: 'string', describe: 'Budget: start at most this many hours of video, then stop cleanly (needs durations: plan --probe)' })
    .option('stop-at', { type: 'string', describe: 'Budget: start nothing new after this local time (06:30, the next one) or date-time (2026-12-01T06:30); stop cleanly' })
    .option('max-run-time', { type: 'string', describe: `Budget: start nothing new after running this long, then stop cleanly: ${DURATION_HELP}` })
    .option('max-video-minutes-per-hour', { type: 'string', describe: 'Pace creates by the video minutes they add, over any sliding hour (needs durations: plan --probe)' })
    .option('max-video-minutes-per-day', { type: 'string', describe: 'Pace creates by the video minutes they add, over any sliding day (needs durations: plan --probe)' });
}

/** Endpoint flags of `apply` (`plan` has its own, with the same names). */
export function applyEndpointOptions<T>(y: Argv<T>) {
  return s3TimeoutOptions(y)
    .option('state', { type: 'string', default: DEFAULT_STATE, describe: 'State file: checkpoints every step; one run at a time' })
    .option('via', { choices: ['tasks', 'assets'] as const, describe: "Upload path; must match the plan's (default: the plan's, recorded when it was made)" })
    .option('api-url', { type: 'string', describe: 'Twelve Labs API base URL, ending in the version (default TWELVELABS_BASE_URL, else https://api.twelvelabs.io/v1.3)' })
    .option('s3-endpoint', { type: 'string', describe: 'S3-compatible endpoint with its scheme, e.g. http://127.0.0.1:9000 (default AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL)' })
    .option('s3-region', { type: 'string', describe: 'S3 region (default AWS_REGION, else us-east-1)' })
    .option('json', { type: 'boolean', default: false, describe: 'Print one JSON object with the run result' });
}

/** The flags `toApplyArgs` reads, as yargs hands them over. */
export interface ApplyCliArgs {
  state: string;
  concurrency: FlagInput;
  'max-rpm'?: FlagInput;
  metadata: string[];
  'metadata-json'?: string | undefined;
  'video-stream': boolean;
  'presign-expires': FlagInput;
  wait: boolean;
  'retry-failed': boolean;
  via?: 'tasks' | 'assets' | undefined;
  'request-timeout': FlagInput;
  'poll-interval': FlagInput;
  'reconcile-lag': FlagInput;
  'reconcile-min-age'?: FlagInput;
  's3-connect-timeout'?: FlagInput;
  's3-request-timeout'?: FlagInput;
  'api-url'?: string | undefined;
  's3-endpoint'?: string | undefined;
  's3-region'?: string | undefined;
  'wait-for-quota'?: boolean | undefined;
  'max-items'?: FlagInput;
  'max-video-hours'?: FlagInput;
  'stop-at'?: FlagInput;
  'max-run-time'?: FlagInput;
  'max-video-minutes-per-hour'?: FlagInput;
  'max-video-minutes-per-day'?: FlagInput;
}

/** The budget and pacing flags of a run left to itself, parsed (each refusal one line, exit 2). */
function unattendedArgs(a: ApplyCliArgs, now: number): UnattendedArgs {
  const positive = (flag: string, raw: FlagInput, unit: string, example: number) => (raw === undefined ? undefined : parsePositiveNumber(flag, raw, { unit, example }));
  const stopAt = a['stop-at'] === undefined ? undefined : [a['stop-at']].flat().at(-1);
  return {
    waitForQuota: a['wait-for-quota'] ?? false,
    maxItems: a['max-items'] === undefined ? undefined : parseWholeNumber('--max-items', a['max-items'], FLAG_LIMITS.maxItems),
    maxVideoHours: positive('--max-video-hours', a['max-video-hours'], 'hours of video', 24),
    stopAt: stopAt === undefined ? undefined : parseStopAt(String(stopAt), now),
    maxRunTimeMs: a['max-run-time'] === undefined ? undefined : parseDurationMs('--max-run-time', a['max-run-time'], FLAG_LIMITS.maxRunTime),
    maxVideoMinutesPerHour: positive('--max-video-minutes-per-hour', a['max-video-minutes-per-hour'], 'video minutes per hour', 600),
    maxVideoMinutesPerDay: positive('--max-video-minutes-per-day', a['max-video-minutes-per-day'], 'video minutes per day', 10_000),
  };
}

/** Parses and checks every apply flag before anything is opened: a refusal writes nothing. */
export function toApplyArgs(a: ApplyCliArgs, plan: string): ApplyArgs {
  const concurrency = parseWholeNumber('--concurrency', a.concurrency, FLAG_LIMITS.concurrency);
  const maxRpm = a['max-rpm'] === undefined ? undefined : parsePositiveNumber('--max-rpm', a['max-rpm'], { unit: 'requests per minute; omit it for no cap', example: 60 });
  const presignMs = parseDurationMs('--presign-expires', a['presign-expires'], FLAG_LIMITS.presignExpires);
  return {
    plan,
    state: a.state,
    concurrency,
    maxRpm,
    metadata: a.metadata,
    metadataJson: a['metadata-json'],
    videoStream: a['video-stream'],
    presignExpires: `${Math.round(presignMs / 1000)}s`,
    wait: a.wait,
    retryFailed: a['retry-failed'],
    via: a.via,
    apiUrl: a['api-url'],
    s3Endpoint: a['s3-endpoint'],
    s3Region: a['s3-region'],
    requestTimeoutMs: parseDurationMs('--request-timeout', a['request-timeout'], FLAG_LIMITS.requestTimeout),
    pollMs: parseDurationMs('--poll-interval', a['poll-interval'], FLAG_LIMITS.pollInterval),
    reconcileLagMs: parseDurationMs('--reconcile-lag', a['reconcile-lag'], FLAG_LIMITS.reconcileLag),
    reconcileMinAgeMs: parseDurationMs('--reconcile-min-age', a['reconcile-min-age'] ?? process.env['TLMIGRATE_RECONCILE_MIN_AGE'] ?? RUN_FLAG_DEFAULTS['reconcile-min-age'], FLAG_LIMITS.reconcileMinAge),
    ...s3Timeouts(a),
    ...unattendedArgs(a, Date.now()),
  };
}

/** The flags `toPlanArgs` reads, as yargs hands them over. */
export interface PlanCliArgs {
  source: string;
  index: string;
  out: string;
  state: string;
  include: string[];
  exclude: string[];
  'files-from'?: string | undefined;
  'fail-on-missing': boolean;
  'min-size'?: FlagInput;
  'max-size'?: FlagInput;
  incremental: boolean;
  match: 'filename' | 'fingerprint';
  probe: boolean;
  'probe-concurrency': FlagInput;
  'all-files': boolean;
  extensions?: string[] | undefined;
  inventory?: string | undefined;
  'api-url'?: string | undefined;
  's3-endpoint'?: string | undefined;
  's3-region'?: string | undefined;
  's3-connect-timeout'?: FlagInput;
  's3-request-timeout'?: FlagInput;
  'min-duration'?: FlagInput;
  'max-duration'?: FlagInput;
  'max-file-size'?: FlagInput;
  'multipart-threshold'?: FlagInput;
  via?: 'tasks' | 'assets' | undefined;
}

/** Parses and checks every plan flag before anything is read or written. */
export function toPlanArgs(a: PlanCliArgs): PlanArgs {
  const size = (flag: string, raw: FlagInput, min: number) => (raw === undefined ? undefined : parseSize(flag, raw, { min, example: '500MB' }));
  const seconds = (flag: string, raw: FlagInput) => (raw === undefined ? undefined : parseDurationMs(flag, raw, FLAG_LIMITS.videoDuration) / 1000);
  const minDuration = seconds('--min-duration', a['min-duration']);
  const maxDuration = seconds('--max-duration', a['max-duration']);
  const maxFileSize = size('--max-file-size', a['max-file-size'], 1);
  const multipartThreshold = size('--multipart-threshold', a['multipart-threshold'], 1);
  if (multipartThreshold !== undefined && a.via !== 'assets') {
    throw new ConfigError('multipart_threshold_invalid', '--multipart-threshold applies to --via assets only: add --via assets, or drop it');
  }
  return {
    source: a.source,
    index: a.index,
    out: a.out,
    state: a.state,
    include: a.include,
    exclude: a.exclude,
    filesFrom: a['files-from'],
    failOnMissing: a['fail-on-missing'],
    minSize: size('--min-size', a['min-size'], 0),
    maxSize: size('--max-size', a['max-size'], 0),
    incremental: a.incremental,
    match: a.match,
    probe: a.probe,
    allFiles: a['all-files'],
    extensions: a.extensions,
    inventory: a.inventory,
    apiUrl: a['api-url'],
    s3Endpoint: a['s3-endpoint'],
    s3Region: a['s3-region'],
    probeConcurrency: parseWholeNumber('--probe-concurrency', a['probe-concurrency'], FLAG_LIMITS.probeConcurrency),
    ...s3Timeouts(a),
    via: a.via ?? 'tasks',
    ...(multipartThreshold === undefined ? {} : { multipartThresholdBytes: multipartThreshold }),
    requirements: {
      ...(minDuration === undefined ? {} : { minDurationSeconds: minDuration }),
      ...(maxDuration === undefined ? {} : { maxDurationSeconds: maxDuration }),
      ...(maxFileSize === undefined ? {} : { maxFileSizeBytes: maxFileSize }),
    },
  };
}
