import yargs, { type Argv } from 'yargs';
import { NotSentError, TlmError, printable, redactUrls } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import { formatPlanSummary } from '../planner/index.js';
import type { ApplyArgs } from './apply-command.js';
import { requirePlanFile, requireStateFile } from './file-kind.js';
import { PLAN_DEFAULTS, applyEndpointOptions, planOnlyOptions, planOptions, runOptions, toApplyArgs, toPlanArgs, type PlanCliArgs } from './options.js';
import { endQuietlyOnClosedPipe } from './pipes.js';
import type { PlanOutcome } from './plan-command.js';
import { createProgress } from './progress.js';
import { registerReportCommands } from './register-report-commands.js';
import { commandPath, formatCommand, stateFlag } from './shell.js';
import { registerStateCommands } from './register-state-commands.js';
import { usageMessage } from './usage.js';
import { VERSION } from './version.js';

const EPILOG = `Environment:
  TWELVELABS_API_KEY     your Twelve Labs API key (TWELVE_LABS_API_KEY also works)
  TWELVELABS_BASE_URL    API base URL (default https://api.twelvelabs.io/v1.3)
  AWS_*                  S3 credentials from the AWS default chain (env, profile, SSO, role);
                         AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL for S3-compatible stores
Exit codes: 0 ok, 1 finished with failed items, 2 bad input or configuration, 130 interrupted;
  with --detailed-exitcode (plan, migrate): 0 nothing to upload, 2 work to do, 1 any error.
Sizes: bytes, 500MB (MB = 10^6 B), 1.5GiB (GiB = 2^30 B). Durations: 30s, 2m, 1h (plain number: seconds).
Docs: README.md (Quick start, Runbook, Rehearse before you spend credits).`;

export const COMMANDS = ['plan', 'apply', 'migrate', 'status', 'logs', 'report', 'verify', 'dedupe'] as const;

interface GlobalArgs {
  'log-level': string;
  'log-file'?: string | undefined;
}

/** The CLI's one entry: parses argv, runs a command, maps errors to one line and an exit code. */
export async function run(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  endQuietlyOnClosedPipe(process.stdout);
  endQuietlyOnClosedPipe(process.stderr);
  let exitCode = 0;
  let logger: Logger | undefined;
  let logToFile = false;
  const getLogger = (args: GlobalArgs) => {
    logToFile = Boolean(args['log-file']);
    return (logger ??= createLogger({ level: logLevel(args['log-level']), file: args['log-file'] }));
  };

  const cli = yargs(argv)
    .scriptName('tlmigrate')
    .usage('$0 <command> [options]\n\nMove video collections from S3 into Twelve Labs indexes: plan, review, apply exactly once, resume after a crash.')
    .option('log-level', { type: 'string', default: env.TLMIGRATE_LOG_LEVEL ?? 'warn', choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], describe: 'Log level (JSON lines on stderr, or --log-file)', global: true })
    .option('log-file', { type: 'string', describe: 'Write JSON logs to this file instead of stderr', global: true })
    .demandCommand(1, 'Name a command: tlmigrate plan --help shows how to start.')
    .strict()
    .recommendCommands()
    .epilog(EPILOG)
    .version(VERSION)
    .alias('h', 'help')
    .wrap(Math.min(110, process.stdout.columns || 110))
    .exitProcess(false)
    .fail((message, error, usage) => {
      if (error) throw error;
      throw new UsageError(usageMessage(message, argv, COMMANDS, describedOptions(usage)));
    });
  skipHelpRendering(cli);
  const ctx = { env, getLogger, setExitCode: (code: number) => (exitCode = code) };
  registerRunCommands(cli, ctx);
  registerStateCommands(cli, ctx);
  registerReportCommands(cli, ctx);

  try {
    await cli.parseAsync();
    return exitCode;
  } catch (error) {
    const code = reportError(error, logToFile ? logger : undefined);
    // Terraform's -detailed-exitcode: 2 means "work to do", so an error must not say 2 as well.
    return code === 2 && wantsDetailedExitCode(argv) ? 1 : code;
  } finally {
    logger?.flush();
  }
}

interface CommandContext {
  env: NodeJS.ProcessEnv;
  getLogger(args: GlobalArgs): Logger;
  setExitCode(code: number): void;
}

/** `plan`, `apply` and `migrate`: the commands that read the source and the index and change the state. */
function registerRunCommands<T extends GlobalArgs>(cli: Argv<T>, ctx: CommandContext): Argv<T> {
  return cli
    .command(
      'plan',
      'Diff an S3 bucket against a Twelve Labs index and write a reviewable plan (no credits spent)',
      (y) =>
        planOnlyOptions(planOptions(y))
          .example('$0 plan --source s3://my-bucket/videos/ --index 6650f1a2b3c4d5e6f7a8b9c0', 'write plan.json and print the summary')
          .example("$0 plan --source s3://my-bucket/videos/ --index 6650f1a2b3c4d5e6f7a8b9c0 --include 'videos/**/*.mp4' --min-size 10MB", 'globs match the whole key, prefix included'),
      async (args) => {
        const planned = await withSignals(PLAN_STOP, (stop) => planAndWarn(args, ctx.env, ctx.getLogger(args), stop));
        if (args.json) process.stdout.write(`${JSON.stringify(planJson(planned))}\n`);
        else process.stdout.write(`${formatPlanSummary(planned.summary)}\nPlan written to ${planned.planFile}. Review it, then: ${applyCommand(args, planned.planFile)}\n`);
        if (args['detailed-exitcode']) ctx.setExitCode(planned.summary.counts.upload > 0 ? 2 : 0);
      },
    )
    .command(
      'apply <plan>',
      'Apply a plan: one task per video to upload, exactly once, checkpointed (resume by running it again)',
      (y) =>
        runOptions(applyEndpointOptions(y.positional('plan', { type: 'string', demandOption: true, describe: 'Plan file written by tlmigrate plan' }))).example(
          '$0 apply plan.json --concurrency 8 --metadata project=archive --wait',
          'upload and follow to ready',
        ),
      async (args) => {
        const applyArgs = toApplyArgs(args, args.plan);
        await requirePlanFile(args.plan);
        await requireStateFile(args.state);
        const log = ctx.getLogger(args);
        ctx.setExitCode(await withSignals(APPLY_STOP, (stop) => applyAndReport(applyArgs, args.json, log, stop)));
      },
    )
    .command(
      'migrate',
      'Plan, then apply that plan, in one command (the plan file is still written, for the record)',
      (y) =>
        runOptions(planOptions(y))
          .option('via', { choices: ['tasks', 'assets'] as const, default: PLAN_DEFAULTS.via, describe: 'Upload path: tasks (POST /tasks, up to 2 GB) or assets (POST /assets by URL + indexed-assets, up to 4 GB; 4-10 GB in parts, streamed from S3)' })
          .option('json', { type: 'boolean', default: false, describe: 'Print one JSON object with the run result (instead of the plan summary and the run summary)' })
          .example('$0 migrate --source s3://my-bucket/videos/ --index 6650f1a2b3c4d5e6f7a8b9c0 --wait', 'plan, apply, follow'),
      async (args) => {
        toApplyArgs(args, args.out);
        const log = ctx.getLogger(args);
        const { planned, code } = await withSignals(APPLY_STOP, async (stop) => {
          const planned = await planAndWarn(args, ctx.env, log, stop);
          if (!args.json) process.stdout.write(`${formatPlanSummary(planned.summary)}\n`);
          return { planned, code: await applyAndReport(toApplyArgs(args, planned.planFile), args.json, log, stop) };
        });
        ctx.setExitCode(args['detailed-exitcode'] && code === 0 && planned.summary.counts.upload > 0 ? 2 : code);
      },
    );
}

/**
 * yargs renders the command's whole help text on every run (~100 ms of CPU), in case the command
 * fails later; our `fail` handler prints one line instead, so that text is never shown. --help
 * renders it as before. (Reached through yargs' internal methods, hence the checks.)
 */
function skipHelpRendering(cli: unknown): void {
  if (typeof cli !== 'object' || cli === null || !('getInternalMethods' in cli) || typeof cli.getInternalMethods !== 'function') return;
  const internal: unknown = cli.getInternalMethods();
  if (typeof internal !== 'object' || internal === null || !('getUsageInstance' in internal) || typeof internal.getUsageInstance !== 'function') return;
  const usage: unknown = internal.getUsageInstance();
  if (typeof usage === 'object' && usage !== null && 'cacheHelpMessage' in usage) Object.assign(usage, { cacheHelpMessage: () => undefined });
}

class UsageError extends TlmError {
  constructor(message: string) {
    super('usage', message);
  }
}

function logLevel(level: string): 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent' {
  const levels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
  return levels.find((l) => l === level) ?? 'warn';
}

/** The options of the command being parsed: yargs hands its usage object (typed as Argv) to `fail`. */
function describedOptions(usage: unknown): string[] {
  if (typeof usage !== 'object' || usage === null || !('getDescriptions' in usage) || typeof usage.getDescriptions !== 'function') return [];
  const descriptions: unknown = usage.getDescriptions();
  return typeof descriptions === 'object' && descriptions !== null ? Object.keys(descriptions) : [];
}

/** Read from the words themselves: a usage error happens before yargs hands over any flag. */
function wantsDetailedExitCode(argv: readonly string[]): boolean {
  return argv.some((a) => /^--detailed-?exitcode(=true)?$/i.test(a));
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

/** Plans, then prints the warnings a user would otherwise not notice (globs that match nothing, an empty listing). */
async function planAndWarn(args: PlanCliArgs, env: NodeJS.ProcessEnv, log: Logger, stop?: AbortSignal): Promise<PlanOutcome> {
  const planArgs = toPlanArgs(args);
  await requireStateFile(args.state);
  // Each command's module (and the AWS SDK behind it) loads when that command runs, not at start-up.
  const { runPlan } = await import('./plan-command.js');
  const planned = await runPlan(planArgs, { env, log, progress: createProgress(process.stderr), stop: stop ?? new AbortController().signal });
  for (const warning of planned.warnings) process.stderr.write(`tlmigrate: warning: ${printable(warning)}\n`);
  return planned;
}

function planJson(o: PlanOutcome) {
  const s = o.summary;
  return { counts: s.counts, bytes: s.bytes, reasons: s.reasons, indexedBy: s.indexedBy, collisions: s.collisions, ignored: s.ignored, total: s.total, planFile: o.planFile, indexId: o.header.indexId, source: o.header.source.uri, missing: o.missing };
}

/** The apply to run next, with the flags plan was given that apply needs too. */
function applyCommand(args: PlanCliArgs, planFile: string): string {
  const endpoints = (['api-url', 's3-endpoint', 's3-region'] as const).flatMap((flag) => {
    const value = args[flag];
    return value === undefined ? [] : [`--${flag}`, value];
  });
  return formatCommand(['tlmigrate', 'apply', commandPath(planFile), ...stateFlag(args.state), ...endpoints]);
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
    const aborted = error === reason || error instanceof NotSentError || (error instanceof Error && (error.name === 'AbortError' || error.cause === reason));
    if (controller.signal.aborted && aborted) throw new TlmError('interrupted', `interrupted (${reason instanceof Error ? reason.message : 'signal'}): ${notice.interrupted}`, { exitCode: 130, cause: error });
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function applyAndReport(args: ApplyArgs, json: boolean, log: Logger, stop: AbortSignal): Promise<number> {
  const { runApply } = await import('./apply-command.js');
  const outcome = await runApply(args, { env: process.env, log, progress: createProgress(process.stderr), stop });
  if (json) {
    const r = outcome.result;
    const f = outcome.failures;
    process.stdout.write(
      `${JSON.stringify({ runId: outcome.runId, exitCode: outcome.exitCode, submitted: r.submitted, failed: r.failed, reconciled: r.reconciled, foundInIndex: r.foundInIndex, duplicates: r.duplicates, gone: r.gone, pending: r.pending, undecided: r.undecided, retries: r.retries, throttled: r.throttled, interrupted: r.interrupted, quota: r.quota ?? null, budget: r.budget?.reason ?? null, quotaWaits: r.quotaWaits ?? 0, counts: outcome.counts, failedOnPlatform: f.platform, failedEarlier: f.earlier, failedInPreflight: f.preflight })}\n`,
    );
  }
  // Interrupted: said once, on stderr beside the signal's own line; otherwise the summary is the output.
  if (outcome.exitCode === 130) process.stderr.write(`tlmigrate: ${outcome.message}\n`);
  else if (!json) process.stdout.write(`${outcome.message}\n`);
  return outcome.exitCode;
}
