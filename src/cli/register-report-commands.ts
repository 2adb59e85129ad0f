import type { Argv, CommandModule } from 'yargs';
import type { Logger } from '../log.js';
// The formats alone, not the report door: the renderers load with the command that uses them.
import { REPORT_FORMATS } from '../report/formats.js';
import type { VerifyNextCommands } from '../verify/index.js';
import { noStrings, parsePositiveNumber, parseWholeNumber, type FlagInput } from './flags.js';
import { requireStateFile } from './file-kind.js';
import { FLAG_LIMITS, indexOptions, jsonOption } from './options.js';
import { createProgress } from './progress.js';
import { formatCommand, stateFlag } from './shell.js';

interface LogArgs {
  'log-level': string;
  'log-file'?: string | undefined;
}

export interface ReportCommandsContext {
  env: NodeJS.ProcessEnv;
  getLogger(args: LogArgs): Logger;
  setExitCode(code: number): void;
}

/** `report`, `verify` and `dedupe`: what people who sign a migration off read, and the proof. */
export function registerReportCommands<T extends LogArgs>(cli: Argv<T>, ctx: ReportCommandsContext): Argv<T> {
  return cli.command(reportCommand(ctx)).command(verifyCommand(ctx)).command(dedupeCommand(ctx));
}

interface ReportCliArgs extends LogArgs {
  file: string;
  format?: string;
  out?: string;
  'max-rpm'?: FlagInput;
  'max-keys': FlagInput;
}

function reportCommand(ctx: ReportCommandsContext): CommandModule<LogArgs, ReportCliArgs> {
  return {
    command: 'report <file>',
    describe: 'A report people can read from a plan (dry run: cost, what will fail) or a state file (run: outcomes, failures, what next)',
    builder: (y) =>
      y
        .positional('file', { type: 'string', demandOption: true, describe: 'A plan file (tlmigrate plan --out) or a state file (tlmigrate-state.json); told apart by content' })
        .option('format', { type: 'string', choices: REPORT_FORMATS, describe: 'text, json, csv (one row per object), md or html (one self-contained page); default: from --out\'s extension, else text' })
        .option('out', { type: 'string', describe: 'Write the report to this file (atomically) instead of stdout' })
        .option('max-rpm', { type: 'string', describe: 'Requests per minute your plan allows, a number above 0: estimates the time to submit a plan' })
        .option('max-keys', { type: 'string', default: '1000', describe: 'Keys kept per group (failures of one reason...) in json/md/html/text, a whole number; counts stay exact; 0 keeps all' })
        .example('$0 report plan.json', 'what the plan will do: uploads, bytes, failures per reason with keys')
        .example('$0 report plan.json --max-rpm 60 --out plan.html', 'a phone-friendly page for sign-off, with the time to submit at 60 requests/min')
        .example('$0 report tlmigrate-state.json', 'a run report: outcomes, failures by code, retries and 429s, what to do next')
        .example('$0 report tlmigrate-state.json --format csv --out run.csv', 'one row per object (bucket, key, size, action, reason, task_id, video_id, status, error_code, error_message)'),
    handler: async (args) => {
      const maxRpm = args['max-rpm'] === undefined ? undefined : parsePositiveNumber('--max-rpm', args['max-rpm'], { unit: 'requests per minute', example: 60 });
      const maxKeys = parseWholeNumber('--max-keys', args['max-keys'], FLAG_LIMITS.maxKeys);
      ctx.getLogger(args);
      const { runReport } = await import('./report-command.js');
      const outcome = await runReport({ input: args.file, format: REPORT_FORMATS.find((f) => f === args.format), out: args.out, maxRpm, maxKeys }, process.stdout);
      if (outcome.out) process.stdout.write(`Wrote the ${outcome.kind === 'plan' ? 'plan' : 'run'} report (${outcome.format}) to ${outcome.out}\n`);
    },
  };
}

/** The flags of the commands that read an index by its id (`indexOptions`, `jsonOption`, an optional state). */
interface IndexCliArgs extends LogArgs {
  index: string;
  'api-url'?: string;
  state?: string;
  json: boolean;
}

interface VerifyCliArgs extends IndexCliArgs {
  source: string;
  include: string[];
  exclude: string[];
  extensions?: string[];
  's3-endpoint'?: string;
  's3-region'?: string;
}

function verifyCommand(ctx: ReportCommandsContext): CommandModule<LogArgs, VerifyCliArgs> {
  return {
    command: 'verify',
    describe: 'Prove the index holds every object of the source exactly once (independently of the state file); exit 0 only then',
    builder: (y) =>
      jsonOption(indexOptions(y), 'Print one JSON object: {ok, counts, missing, inProgress, failed, duplicated, coveredByDuplicate, unmatched, cost}')
        .option('source', { type: 'string', demandOption: true, describe: 'Where the videos are: s3://BUCKET[/PREFIX]' })
        .option('state', { type: 'string', describe: 'State file, for the error codes of failed tasks (default: ./tlmigrate-state.json when it exists and is of this index)' })
        .option('include', { type: 'string', array: true, default: noStrings(), describe: 'Only keys matching this glob (repeatable), as in plan' })
        .option('exclude', { type: 'string', array: true, default: noStrings(), describe: 'Leave out keys matching this glob (repeatable), as in plan' })
        .option('extensions', { type: 'string', array: true, describe: 'Video extensions expected in the index (default: as plan)' })
        .option('s3-endpoint', { type: 'string', describe: 'S3-compatible endpoint (default AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL)' })
        .option('s3-region', { type: 'string', describe: 'S3 region (default AWS_REGION, else us-east-1)' })
        .example('$0 verify --source s3://my-bucket/videos/ --index 6650f1a2b3c4d5e6f7a8b9c0', 'missing, in progress, failed and duplicated objects; exit 0 when every object is there once')
        .example('$0 verify --source s3://my-bucket/videos/ --index 6650f1a2b3c4d5e6f7a8b9c0 --json | jq .counts', 'for scripts'),
    handler: async (args) => {
      await requireStateFile(args.state);
      const log = ctx.getLogger(args);
      const [{ runVerify }, { formatVerify, isClean }] = await Promise.all([import('./verify-command.js'), import('../verify/index.js')]);
      const outcome = await runVerify(
        { source: args.source, index: args.index, state: args.state, include: args.include, exclude: args.exclude, extensions: args.extensions, apiUrl: args['api-url'], s3Endpoint: args['s3-endpoint'], s3Region: args['s3-region'] },
        { env: ctx.env, log, progress: createProgress(process.stderr), stop: new AbortController().signal },
      );
      const r = outcome.result;
      const ok = isClean(r);
      if (args.json) {
        const counts = {
          objects: r.objects,
          excluded: r.excluded,
          indexed: r.indexed,
          coveredByDuplicate: r.coveredByDuplicate.length,
          missing: r.missing.length,
          inProgress: r.inProgress.length,
          failed: r.failed.length,
          duplicated: r.duplicated.length,
          unmatchedVideos: r.unmatched.length,
        };
        const { missing, inProgress, failed, duplicated, coveredByDuplicate, unmatched } = r;
        process.stdout.write(`${JSON.stringify({ ok, source: r.source, indexId: outcome.indexId, indexName: outcome.indexName, state: outcome.statePath ?? null, counts, missing, inProgress, failed, duplicated, coveredByDuplicate, unmatched, cost: outcome.cost })}\n`);
      } else for (const chunk of formatVerify(r, { id: outcome.indexId, name: outcome.indexName }, verifyNext(args, outcome.statePath))) process.stdout.write(chunk);
      ctx.setExitCode(ok ? 0 : 1);
    },
  };
}

interface DedupeCliArgs extends IndexCliArgs {
  yes: boolean;
}

function dedupeCommand(ctx: ReportCommandsContext): CommandModule<LogArgs, DedupeCliArgs> {
  return {
    command: 'dedupe',
    describe: 'Find copies of the same object in an index (by the fingerprint each video carries) and, with --yes, delete all but the oldest ready one (dry run by default); videos that share only a file name and size are listed, never deleted',
    handler: async (args) => {
      await requireStateFile(args.state);
      const log = ctx.getLogger(args);
      const [{ runDedupe }, { formatDedupe, isDeletable }] = await Promise.all([import('./dedupe-command.js'), import('../verify/index.js')]);
      const o = await runDedupe({ index: args.index, state: args.state, yes: args.yes, apiUrl: args['api-url'] }, { env: ctx.env, log, progress: createProgress(process.stderr), stop: new AbortController().signal });
      const errors = o.deleted.filter((d) => d.error).length;
      if (args.json) {
        const counts = {
          groups: o.groups.length,
          copies: o.groups.filter(isDeletable).reduce((n, g) => n + g.remove.length, 0),
          reportedOnly: o.groups.filter((g) => !isDeletable(g)).reduce((n, g) => n + g.remove.length, 0),
          videosDeleted: o.deleted.filter((d) => d.videoDeleted).length,
          tasksDeleted: o.deleted.filter((d) => d.taskDeleted).length,
          errors,
        };
        process.stdout.write(`${JSON.stringify({ indexId: o.indexId, dryRun: o.dryRun, counts, groups: o.groups, deleted: o.deleted, recordedIn: o.recordedIn ?? null, cost: { metadataFetches: o.metadataFetches } })}\n`);
      } else for (const chunk of formatDedupe(o, { delete: formatCommand(['tlmigrate', 'dedupe', '--index', args.index, '--yes', ...stateFlag(args.state), ...flagPairs(args, ['api-url'])]) })) process.stdout.write(chunk);
      ctx.setExitCode(errors > 0 ? 1 : 0);
    },
    // The flags last: a reader of this file sees what dedupe does first.
    builder: (y) =>
      jsonOption(indexOptions(y), 'Print one JSON object: {indexId, dryRun, groups, deleted, counts, recordedIn}')
        .option('yes', { type: 'boolean', default: false, describe: 'Delete the copies (each video, then its task); without it nothing is deleted' })
        .option('state', { type: 'string', describe: 'State file whose history records each deletion (default: ./tlmigrate-state.json when it exists and is of this index)' })
        .example('$0 dedupe --index 6650f1a2b3c4d5e6f7a8b9c0', 'list the copies it would delete and the one it keeps per object')
        .example('$0 dedupe --index 6650f1a2b3c4d5e6f7a8b9c0 --yes', 'delete them, recording each deletion in the state file\'s history'),
  };
}

/** `--flag value` for each of these flags the user gave, so a printed command keeps them. */
function flagPairs<K extends string>(args: Partial<Record<K, string | string[] | undefined>>, flags: readonly K[]): string[] {
  return flags.flatMap((flag) => {
    const value = args[flag];
    if (value === undefined) return [];
    return (Array.isArray(value) ? value : [value]).flatMap((v) => [`--${flag}`, v]);
  });
}

/** The commands verify suggests, with the source, index, state and endpoints the user gave it. */
function verifyNext(args: VerifyCliArgs, statePath: string | undefined): VerifyNextCommands {
  const endpoints = flagPairs(args, ['api-url', 's3-endpoint', 's3-region']);
  const state = statePath === undefined ? [] : stateFlag(statePath);
  const scope = ['--source', args.source, '--index', args.index, ...flagPairs(args, ['include', 'exclude'])];
  const verify = formatCommand(['tlmigrate', 'verify', ...scope, ...flagPairs(args, ['extensions']), ...state, ...endpoints]);
  return {
    plan: formatCommand(['tlmigrate', 'plan', ...scope, ...state, ...endpoints]),
    refresh: statePath === undefined ? verify : formatCommand(['tlmigrate', 'status', '--refresh', ...state, ...flagPairs(args, ['api-url'])]),
    dedupe: formatCommand(['tlmigrate', 'dedupe', '--index', args.index, ...state, ...flagPairs(args, ['api-url'])]),
  };
}
