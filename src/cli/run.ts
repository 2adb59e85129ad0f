import yargs, { type Argv } from 'yargs';
import { TlmError, printable, redactUrls } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import { formatPlanSummary } from '../planner/index.js';
import { importLogs, importStatus } from '../report/status.js';
import { loadState } from '../state/index.js';
import { StateStore } from '../state/index.js';
import { followTasks } from '../executor/follow.js';
import { runApply, type ApplyArgs } from './apply-command.js';
import { createApiClient, resolveBaseUrl } from './config.js';
import { runPlan, type PlanArgs } from './plan-command.js';
import { DEFAULT_S3_CONNECT_TIMEOUT_S, DEFAULT_S3_REQUEST_TIMEOUT_S, S3_MAX_ATTEMPTS } from '../sources/s3.js';
import { systemClock } from '../clock.js';
import { StateFileError } from '../errors.js';
import { createProgress } from './progress.js';
import { registerReportCommands } from './report-commands.js';
import { VERSION } from './version.js';

const EPILOG = `Environment:
  TWELVELABS_API_KEY     your Twelve Labs API key (TWELVE_LABS_API_KEY also works)
  TWELVELABS_BASE_URL    API base URL (default https://api.twelvelabs.io/v1.3)
  AWS_*                  S3 credentials from the AWS default chain (env, profile, SSO, role);
                         AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL for S3-compatible stores
Exit codes: 0 ok, 1 finished with failed items, 2 bad input or configuration, 130 interrupted.
Docs: README.md (Quick start, Runbook).`;

interface GlobalArgs {
  'log-level': string;
  'log-file'?: string;
}

/** The CLI's one entry: parses argv, runs a command, maps errors to one line and an exit code. */
export async function run(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let exitCode = 0;
  let logger: Logger | undefined;
  let logToFile = false;
  const getLogger = (args: GlobalArgs) => {
    logToFile = Boolean(args['log-file']);
    return (logger ??= createLogger({ level: args['log-level'] as 'info', file: args['log-file'] }));
  };

  const cli = yargs(argv)
    .scriptName('tlmigrate')
    .usage('$0 <command> [options]\n\nMove video collections from S3 into Twelve Labs indexes: plan, review, apply exactly once, resume after a crash.')
    .option('log-level', { type: 'string', default: env.TLMIGRATE_LOG_LEVEL ?? 'warn', choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], describe: 'Log level (JSON lines on stderr, or --log-file)', global: true })
    .option('log-file', { type: 'string', describe: 'Write JSON logs to this file instead of stderr', global: true })
    .command(
      'plan',
      'Diff an S3 bucket against a Twelve Labs index and write a reviewable plan (no credits spent)',
      (y) => planOptions(y).example('$0 plan --source s3://my-bucket/videos/ --index 6650f1a2b3c4d5e6f7a8b9c0', 'write plan.json and print the summary'),
      async (args) => {
        const log = getLogger(args);
        const outcome = await withSignals(PLAN_STOP, (stop) => runPlan(toPlanArgs(args), env, log, createProgress(process.stderr), stop));
        if (args.json) {
          const s = outcome.summary;
          process.stdout.write(`${JSON.stringify({ counts: s.counts, bytes: s.bytes, reasons: s.reasons, indexedBy: s.indexedBy, collisions: s.collisions, ignored: s.ignored, total: s.total, planFile: outcome.planFile, indexId: outcome.header.indexId, source: outcome.header.source.uri })}\n`);
        } else {
          process.stdout.write(`${formatPlanSummary(outcome.summary)}\nPlan written to ${outcome.planFile}. Review it, then: tlmigrate apply ${outcome.planFile}\n`);
        }
        if (args['detailed-exitcode']) exitCode = outcome.summary.counts.upload > 0 ? 2 : 0;
      },
    )
    .command(
      'apply <plan>',
      'Apply a plan: one task per video to upload, exactly once, checkpointed (resume by running it again)',
      (y) => applyOptions(y.positional('plan', { type: 'string', demandOption: true, describe: 'Plan file written by tlmigrate plan' })).example('$0 apply plan.json --concurrency 8 --metadata project=archive --wait', 'upload and follow to ready'),
      async (args) => {
        const log = getLogger(args);
        exitCode = await withSignals(APPLY_STOP, (stop) => applyAndReport(toApplyArgs(args, args.plan), Boolean(args.json), log, stop));
      },
    )
    .command(
      'migrate',
      'Plan and apply in one go (the plan file is still written, for the record)',
      (y) => applyOptions(planOptions(y)).example('$0 migrate --source s3://my-bucket/videos/ --index 6650f1a2b3c4d5e6f7a8b9c0 --wait', 'plan, apply, follow'),
      async (args) => {
        const log = getLogger(args);
        exitCode = await withSignals(APPLY_STOP, async (stop) => {
          const planned = await runPlan(toPlanArgs(args), env, log, createProgress(process.stderr), stop);
          if (!args.json) process.stdout.write(`${formatPlanSummary(planned.summary)}\n`);
          return applyAndReport(toApplyArgs(args, planned.planFile), Boolean(args.json), log, stop);
        });
      },
    )
    .command(
      'status',
      'Where every object stands, grouped by state (the old import-status shape with --json)',
      (y) =>
        y
          .option('state', { type: 'string', default: 'tlmigrate-state.json', describe: 'State file' })
          .option('refresh', { type: 'boolean', default: false, describe: 'Update task states from the API first' })
          .option('api-url', { type: 'string', describe: 'Twelve Labs API base URL (for --refresh)' })
          .option('json', { type: 'boolean', default: false, describe: 'Print {not_imported, validating, pending, queued, indexing, ready, failed}' }),
      async (args) => {
        getLogger(args);
        if (args.refresh) {
          const api = createApiClient({ apiUrl: resolveBaseUrl(args['api-url'], env), env });
          const before = await requireState(args.state);
          const store = await StateStore.open(args.state, { uri: before.source.uri, bucket: before.source.bucket, prefix: before.source.prefix, indexId: before.indexId }, 'status --refresh', `tlmigrate ${VERSION}`);
          try {
            await followTasks({ api, store, clock: systemClock, indexId: before.indexId, pollMs: 0, once: true });
          } finally {
            await store.close();
          }
        }
        const state = await requireState(args.state);
        const status = importStatus(state);
        if (args.json) process.stdout.write(`${JSON.stringify(status)}\n`);
        else {
          process.stdout.write(`${state.source.uri} -> index ${state.indexId}${state.indexName ? ` (${state.indexName})` : ''}\n`);
          for (const [name, list] of Object.entries(status)) process.stdout.write(`  ${name.padEnd(13)} ${String((list as unknown[]).length).padStart(7)}\n`);
          for (const f of status.failed.slice(0, 20)) process.stdout.write(`  failed: ${printable(f.filename)}: ${printable(f.error_message)}\n`);
          if (status.failed.length > 20) process.stdout.write(`  ... ${status.failed.length - 20} more failures: tlmigrate status --json\n`);
        }
      },
    )
    .command(
      'logs',
      'One entry per run: counts by state and failed files with their error codes (the old import-logs shape with --json)',
      (y) =>
        y
          .option('state', { type: 'string', default: 'tlmigrate-state.json', describe: 'State file' })
          .option('json', { type: 'boolean', default: false, describe: 'Print {data: [{index_id, index_name, created_at, ended_at, video_status, failed_files}]}' }),
      async (args) => {
        getLogger(args);
        const logs = importLogs(await requireState(args.state));
        if (args.json) process.stdout.write(`${JSON.stringify(logs)}\n`);
        else
          for (const entry of logs.data) {
            const counts = Object.entries(entry.video_status).map(([k, v]) => `${k} ${v}`).join(', ');
            process.stdout.write(`run ${entry.created_at} -> ${entry.ended_at ?? 'running'}: ${counts}\n`);
            for (const f of entry.failed_files) process.stdout.write(`  failed: ${printable(f.filename)}: ${printable(f.error_message)}\n`);
          }
      },
    )
    .demandCommand(1, 'Name a command: tlmigrate plan --help shows how to start.')
    .strict()
    .recommendCommands()
    .epilog(EPILOG)
    .version(VERSION)
    .alias('h', 'help')
    .wrap(Math.min(110, process.stdout.columns || 110))
    .exitProcess(false)
    .fail((message, error) => {
      if (error) throw error;
      throw new UsageError(message);
    });
  registerReportCommands(cli, { env, getLogger, setExitCode: (code) => (exitCode = code) });

  try {
    await cli.parseAsync();
    return exitCode;
  } catch (error) {
    return reportError(error, logToFile ? logger : undefined);
  } finally {
    logger?.flush();
  }
}

class UsageError extends TlmError {
  constructor(message: string) {
    super('usage', `${message} (see tlmigrate --help)`);
  }
}

function reportError(error: unknown, logger: Logger | undefined): number {
  if (error instanceof TlmError) {
    process.stderr.write(`tlmigrate: ${printable(redactUrls(error.message))}\n`);
    logger?.error({ code: error.code }, redactUrls(error.message));
    return error.exitCode;
  }
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`tlmigrate: unexpected error: ${redactUrls(text)}\n`);
  return 1;
}

async function requireState(path: string) {
  const state = await loadState(path);
  if (!state) throw new StateFileError('state_missing', `state file ${path} not found: run tlmigrate apply first, or pass --state`);
  return state;
}

interface StopNotice {
  /** Printed on the first signal. */
  stopping: string;
  /** The one line when the stop ends the command in an error (a request it aborted). */
  interrupted: string;
}

const PLAN_STOP: StopNotice = { stopping: 'stopping; no plan is written', interrupted: 'no plan was written; run the same command again' };
const APPLY_STOP: StopNotice = {
  stopping: 'finishing in-flight requests and checkpointing',
  interrupted: 'state checkpointed; run the same command again to resume',
};

/**
 * First SIGINT/SIGTERM aborts the run's signal: every pending S3 and API request stops, apply
 * finishes the POSTs in flight and checkpoints. A body that ends in the error of a request it
 * aborted exits 130 with one line. Second signal: exit now (temp files are removed on exit).
 */
async function withSignals<T>(notice: StopNotice, body: (stop: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (name: NodeJS.Signals) => {
    signals += 1;
    if (signals === 1) {
      process.stderr.write(`\ntlmigrate: ${name}: ${notice.stopping} (press Ctrl-C again to exit at once)\n`);
      controller.abort(new Error(name));
    } else process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await body(controller.signal);
  } catch (error) {
    const reason: unknown = controller.signal.reason;
    const aborted = error === reason || (error instanceof Error && (error.name === 'AbortError' || error.cause === reason));
    if (controller.signal.aborted && aborted) throw new TlmError('interrupted', `interrupted (${reason instanceof Error ? reason.message : 'signal'}): ${notice.interrupted}`, { exitCode: 130, cause: error });
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function applyAndReport(args: ApplyArgs, json: boolean, log: Logger, stop: AbortSignal): Promise<number> {
  const outcome = await runApply(args, process.env, log, createProgress(process.stderr), stop);
  if (json) {
    const r = outcome.result;
    process.stdout.write(`${JSON.stringify({ runId: outcome.runId, exitCode: outcome.exitCode, submitted: r.submitted, failed: r.failed, reconciled: r.reconciled, foundInIndex: r.foundInIndex, duplicates: r.duplicates, gone: r.gone, pending: r.pending, undecided: r.undecided, retries: r.retries, throttled: r.throttled, interrupted: r.interrupted, quota: r.quota ?? null, counts: outcome.counts })}\n`);
  } else process.stdout.write(`${outcome.message}\n`);
  if (outcome.exitCode === 130) process.stderr.write(`tlmigrate: ${outcome.message}\n`);
  return outcome.exitCode;
}

const S3_CONNECT_TIMEOUT = { type: 'number', default: DEFAULT_S3_CONNECT_TIMEOUT_S, describe: `Seconds to connect to S3 before an attempt fails (${S3_MAX_ATTEMPTS} attempts per request)` } as const;
const S3_REQUEST_TIMEOUT = { type: 'number', default: DEFAULT_S3_REQUEST_TIMEOUT_S, describe: 'Seconds S3 may stay silent (no answer, or a body that stops) before an attempt fails' } as const;

function applyOptions<T>(y: Argv<T>) {
  return y
    .option('state', { type: 'string', default: 'tlmigrate-state.json', describe: 'State file: checkpoints every step; one run at a time' })
    .option('concurrency', { type: 'number', default: 4, describe: 'Requests in flight at once (1-64)' })
    .option('max-rpm', { type: 'number', describe: 'Cap on requests per minute (the run also learns from 429s)' })
    .option('metadata', { type: 'string', array: true, default: [] as string[], describe: 'user_metadata KEY=VALUE on every video (repeatable; types inferred)' })
    .option('metadata-json', { type: 'string', describe: 'user_metadata from a JSON file (exact types; scalars only)' })
    .option('video-stream', { type: 'boolean', default: true, describe: 'enable_video_stream (--no-video-stream to turn it off)' })
    .option('presign-expires', { type: 'string', default: '6h', describe: 'Lifetime of each presigned URL (max 7d)' })
    .option('wait', { type: 'boolean', default: false, describe: 'Follow tasks until ready or failed' })
    .option('retry-failed', { type: 'boolean', default: false, describe: 'Resubmit items that failed in earlier runs' })
    .option('via', { choices: ['tasks', 'assets'] as const, describe: "Upload path; must match the plan's (default: the plan's, recorded when it was made)" })
    .option('request-timeout', { type: 'number', default: 60, describe: 'Seconds before a request counts as timed out (its outcome is then reconciled)' })
    .option('poll-interval', { type: 'number', default: 10, describe: 'Seconds between polls with --wait' })
    .option('reconcile-lag', { type: 'number', default: 5, describe: 'Seconds before the first search again for a task whose POST answer was lost (later searches wait longer)' })
    .option('reconcile-min-age', { type: 'string', default: process.env['TLMIGRATE_RECONCILE_MIN_AGE'] ?? '2m', describe: 'A POST whose answer was lost is resubmitted only after two empty searches, the last this long after it was sent (at least 30s; env TLMIGRATE_RECONCILE_MIN_AGE)' })
    .option('api-url', { type: 'string', describe: 'Twelve Labs API base URL (default TWELVELABS_BASE_URL, else the real API)' })
    .option('s3-endpoint', { type: 'string', describe: 'S3-compatible endpoint (default AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL)' })
    .option('s3-region', { type: 'string', describe: 'S3 region (default AWS_REGION, else us-east-1)' })
    .option('s3-connect-timeout', S3_CONNECT_TIMEOUT)
    .option('s3-request-timeout', S3_REQUEST_TIMEOUT)
    .option('json', { type: 'boolean', default: false, describe: 'Print one JSON object with the run result' });
}

function toApplyArgs(a: Record<string, unknown>, plan: string): ApplyArgs {
  return {
    plan,
    state: a.state as string,
    concurrency: a.concurrency as number,
    maxRpm: a['max-rpm'] as number | undefined,
    metadata: (a.metadata as string[]) ?? [],
    metadataJson: a['metadata-json'] as string | undefined,
    videoStream: a['video-stream'] as boolean,
    presignExpires: a['presign-expires'] as string,
    wait: a.wait as boolean,
    retryFailed: a['retry-failed'] as boolean,
    via: a.via as 'tasks' | 'assets' | undefined,
    apiUrl: a['api-url'] as string | undefined,
    s3Endpoint: a['s3-endpoint'] as string | undefined,
    s3Region: a['s3-region'] as string | undefined,
    s3ConnectTimeoutMs: (a['s3-connect-timeout'] as number) * 1000,
    s3RequestTimeoutMs: (a['s3-request-timeout'] as number) * 1000,
    requestTimeoutMs: (a['request-timeout'] as number) * 1000,
    pollMs: (a['poll-interval'] as number) * 1000,
    reconcileLagMs: (a['reconcile-lag'] as number) * 1000,
    reconcileMinAge: a['reconcile-min-age'] as string,
  };
}

function planOptions<T>(y: Argv<T>) {
  return y
    .option('source', { type: 'string', demandOption: true, describe: 'Where the videos are: s3://BUCKET[/PREFIX]' })
    .option('index', { type: 'string', demandOption: true, describe: 'Target Twelve Labs index id' })
    .option('out', { type: 'string', default: 'plan.json', describe: 'Plan file to write (atomically)' })
    .option('state', { type: 'string', default: 'tlmigrate-state.json', describe: 'State file of earlier runs (its ledger counts as already indexed)' })
    .option('include', { type: 'string', array: true, default: [] as string[], describe: 'Only keys matching this glob (repeatable), e.g. "**/*.mp4"' })
    .option('exclude', { type: 'string', array: true, default: [] as string[], describe: 'Skip keys matching this glob (repeatable)' })
    .option('min-size', { type: 'number', describe: 'Skip objects smaller than BYTES' })
    .option('max-size', { type: 'number', describe: 'Skip objects larger than BYTES' })
    .option('incremental', { type: 'boolean', default: true, describe: 'Skip what the index already holds (--no-incremental plans everything)' })
    .option('match', { choices: ['filename', 'fingerprint'] as const, default: 'filename' as const, describe: 'fingerprint: only our user_metadata proves a video is indexed; filename: also filename+size (legacy imports)' })
    .option('probe', { type: 'boolean', default: false, describe: 'Run ffprobe on each video to upload (Range reads) and fail short, low-res or broken files before spending credits' })
    .option('probe-concurrency', { type: 'number', default: 8, describe: 'Parallel probes and metadata lookups' })
    .option('all-files', { type: 'boolean', default: false, describe: 'Send non-video extensions to preflight (they fail unsupported_file_type) instead of excluding them' })
    .option('extensions', { type: 'string', array: true, describe: 'Video extensions to consider (default: mp4 mov mkv webm avi m4v mpg ts ...)' })
    .option('inventory', { type: 'string', describe: 'Read an S3 Inventory report (s3://bucket/path/manifest.json, CSV) instead of listing' })
    .option('api-url', { type: 'string', describe: 'Twelve Labs API base URL (default TWELVELABS_BASE_URL, else the real API)' })
    .option('s3-endpoint', { type: 'string', describe: 'S3-compatible endpoint (default AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL); path-style addressing' })
    .option('s3-region', { type: 'string', describe: 'S3 region (default AWS_REGION, else us-east-1)' })
    .option('s3-connect-timeout', S3_CONNECT_TIMEOUT)
    .option('s3-request-timeout', S3_REQUEST_TIMEOUT)
    .option('min-duration', { type: 'number', describe: 'Requirements: minimum seconds (default 4)' })
    .option('max-duration', { type: 'number', describe: "Requirements: maximum seconds (default 7200, tightened by the index's models)" })
    .option('max-file-size', { type: 'number', describe: 'Requirements: maximum bytes (default 2 GiB)' })
    .option('via', { choices: ['tasks', 'assets'] as const, default: 'tasks' as const, describe: 'Upload path the plan is for: tasks (POST /tasks, up to 2 GB) or assets (POST /assets by URL + indexed-assets, up to 4 GB)' })
    .option('json', { type: 'boolean', default: false, describe: 'Print one JSON object on stdout instead of the summary' })
    .option('detailed-exitcode', { type: 'boolean', default: false, describe: 'Exit 0 when there is nothing to upload, 2 when there is work to do' })
    .check((a) => {
      for (const name of ['min-size', 'max-size', 'probe-concurrency', 'min-duration', 'max-duration', 'max-file-size'] as const) {
        const v = (a as Record<string, unknown>)[name];
        if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) throw new UsageError(`--${name} must be a non-negative number`);
      }
      if ((a as Record<string, unknown>)['probe-concurrency'] === 0) throw new UsageError('--probe-concurrency must be at least 1');
      return true;
    });
}

type PlanCliArgs = Awaited<ReturnType<ReturnType<typeof planOptions>['parseAsync']>>;

function toPlanArgs(a: PlanCliArgs): PlanArgs {
  return {
    source: a.source,
    index: a.index,
    out: a.out,
    state: a.state,
    include: a.include,
    exclude: a.exclude,
    minSize: a['min-size'],
    maxSize: a['max-size'],
    incremental: a.incremental,
    match: a.match,
    probe: a.probe,
    allFiles: a['all-files'],
    extensions: a.extensions,
    inventory: a.inventory,
    apiUrl: a['api-url'],
    s3Endpoint: a['s3-endpoint'],
    s3Region: a['s3-region'],
    s3ConnectTimeoutMs: a['s3-connect-timeout'] * 1000,
    s3RequestTimeoutMs: a['s3-request-timeout'] * 1000,
    probeConcurrency: a['probe-concurrency'],
    via: a.via ?? 'tasks',
    requirements: {
      ...(a['min-duration'] === undefined ? {} : { minDurationSeconds: a['min-duration'] }),
      ...(a['max-duration'] === undefined ? {} : { maxDurationSeconds: a['max-duration'] }),
      ...(a['max-file-size'] === undefined ? {} : { maxFileSizeBytes: a['max-file-size'] }),
    },
  };
}
