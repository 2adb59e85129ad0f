import type { CommandModule } from 'yargs';
import { systemClock } from '../clock.js';
import { printable } from '../errors.js';
import { followTasks } from '../executor/follow.js';
import { formatEta, quotaWaitLine, statusEta } from '../report/eta.js';
import { formatDuration } from '../report/format.js';
import { importStatus } from '../report/status-json.js';
import { StateStore, type FailureStage, type RunRecord } from '../state/index.js';
import { createApiClient, resolveBaseUrl } from './config.js';
import { jsonOption, stateOption } from './options.js';
import { formatCommand, stateFlag } from './shell.js';
import { requireState } from './file-kind.js';
import type { LogArgs, StateCommandsContext } from './register-state-commands.js';
import { VERSION } from './version.js';

interface StatusCliArgs extends LogArgs {
  state: string;
  refresh: boolean;
  'api-url'?: string | undefined;
  json: boolean;
}

export function statusCommand(ctx: StateCommandsContext): CommandModule<LogArgs, StatusCliArgs> {
  return {
    command: 'status',
    describe: 'Where every object stands, grouped by state (the old import-status shape with --json)',
    builder: (y) =>
      jsonOption(stateOption(y, 'State file'), 'Print {not_imported, validating, pending, queued, indexing, ready, failed}')
        .option('refresh', { type: 'boolean', default: false, describe: 'Update task states from the API first' })
        .option('api-url', { type: 'string', describe: 'Twelve Labs API base URL (for --refresh)' }),
    handler: async (args) => {
      ctx.getLogger(args);
      if (args.refresh) await refresh(args.state, args['api-url'], ctx.env);
      const state = await requireState(args.state);
      const status = importStatus(state);
      if (args.json) {
        process.stdout.write(`${JSON.stringify(status)}\n`);
        return;
      }
      process.stdout.write(`${state.source.uri} -> index ${state.indexId}${state.indexName ? ` (${state.indexName})` : ''}\n`);
      const last = state.runs.at(-1);
      if (last) process.stdout.write(`  last run: ${lastRunLine(last, Date.now())}\n`);
      const eta = statusEta(state, Date.now());
      if (last && eta.remaining > 0) {
        const wait = eta.waitUntil === undefined ? '' : `; ${quotaWaitLine(eta.waitUntil, Date.now())}`;
        process.stdout.write(`  ETA ${formatEta(eta.seconds)} for ${eta.remaining} items not created yet, at the last run's pace${wait}\n`);
      }
      for (const [name, list] of Object.entries(status)) process.stdout.write(`  ${name.padEnd(13)} ${String(list.length).padStart(7)}${name === 'failed' ? stagesNote(status.failed) : ''}\n`);
      for (const f of status.failed.slice(0, 20)) process.stdout.write(`  ${STAGE_WORDS[f.stage]}: ${printable(f.filename)}: ${printable(f.error_message)}\n`);
      if (status.failed.length > 20) {
        process.stdout.write(`  ... ${status.failed.length - 20} more failures: ${formatCommand(['tlmigrate', 'status', '--json', ...stateFlag(args.state)])}\n`);
      }
    },
  };
}

/** One vocabulary for failures across status, logs and apply's summary. */
export const STAGE_WORDS: Record<FailureStage, string> = { preflight: 'failed in preflight', platform: 'failed on the platform' };

/** `   (3 in preflight: never sent; 1 on the platform)` after the failed count, when there are failures. */
function stagesNote(failed: ReadonlyArray<{ stage: FailureStage }>): string {
  if (failed.length === 0) return '';
  const preflight = failed.filter((f) => f.stage === 'preflight').length;
  return `   (${preflight} in preflight: never sent; ${failed.length - preflight} on the platform)`;
}

/** `apply, completed in 3 min 20 s (ended ...)`, or how long ago a run that has not ended started. */
export function lastRunLine(run: Pick<RunRecord, 'command' | 'startedAt' | 'endedAt' | 'outcome'>, now: number): string {
  const started = Date.parse(run.startedAt);
  if (run.endedAt) {
    const took = (Date.parse(run.endedAt) - started) / 1000;
    return `${run.command}, ${run.outcome ?? 'ended'} in ${formatDuration(took)} (ended ${run.endedAt})`;
  }
  return `${run.command}, started ${formatDuration((now - started) / 1000)} ago (${run.startedAt}), not ended`;
}

async function refresh(path: string, apiUrl: string | undefined, env: NodeJS.ProcessEnv): Promise<void> {
  const api = createApiClient({ apiUrl: resolveBaseUrl(apiUrl, env), env });
  const before = await requireState(path);
  const store = await StateStore.open(path, { uri: before.source.uri, bucket: before.source.bucket, prefix: before.source.prefix, indexId: before.indexId }, 'status --refresh', `tlmigrate ${VERSION}`);
  try {
    await followTasks({ api, store, clock: systemClock, indexId: before.indexId, pollMs: 0, once: true });
  } finally {
    await store.close();
  }
}

