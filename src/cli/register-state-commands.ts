import type { Argv, CommandModule } from 'yargs';
import type { Logger } from '../log.js';
import { jsonOption, stateOption } from './options.js';

export interface LogArgs {
  'log-level': string;
  'log-file'?: string | undefined;
}

export interface StateCommandsContext {
  env: NodeJS.ProcessEnv;
  getLogger(args: LogArgs): Logger;
}

/**
 * `status` (status-command.ts) and `logs` (logs-command.ts): what the state file says, in the old
 * import-status / import-logs shapes. Each command's module loads when it runs, not at start-up.
 */
export function registerStateCommands<T extends LogArgs>(cli: Argv<T>, ctx: StateCommandsContext): Argv<T> {
  return cli.command(statusCommand(ctx)).command(logsCommand(ctx));
}

interface StatusCliArgs extends LogArgs {
  state: string;
  refresh: boolean;
  'api-url'?: string | undefined;
  json: boolean;
}

function statusCommand(ctx: StateCommandsContext): CommandModule<LogArgs, StatusCliArgs> {
  return {
    command: 'status',
    describe: 'Where every object stands, grouped by state (the old import-status shape with --json)',
    builder: (y) =>
      jsonOption(stateOption(y, 'State file'), 'Print {not_imported, validating, pending, queued, indexing, ready, failed}')
        .option('refresh', { type: 'boolean', default: false, describe: 'Update task states from the API first' })
        .option('api-url', { type: 'string', describe: 'Twelve Labs API base URL (for --refresh)' }),
    handler: async (args) => {
      ctx.getLogger(args);
      const { printStatus, refresh } = await import('./status-command.js');
      if (args.refresh) await refresh(args.state, args['api-url'], ctx.env);
      await printStatus(args.state, args.json, process.stdout);
    },
  };
}

interface LogsCliArgs extends LogArgs {
  state: string;
  json: boolean;
}

function logsCommand(ctx: StateCommandsContext): CommandModule<LogArgs, LogsCliArgs> {
  return {
    command: 'logs',
    describe: 'One entry per run: counts by state and the files that failed on the platform, with their error codes; those that failed in preflight listed apart (the old import-logs shape with --json)',
    builder: (y) => jsonOption(stateOption(y, 'State file'), 'Print {data: [{index_id, index_name, created_at, ended_at, video_status, failed_files}], failed_in_preflight}'),
    handler: async (args) => {
      ctx.getLogger(args);
      const { printLogs } = await import('./logs-command.js');
      await printLogs(args.state, args.json, process.stdout);
    },
  };
}
