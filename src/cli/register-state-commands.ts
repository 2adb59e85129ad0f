import type { Argv } from 'yargs';
import type { Logger } from '../log.js';
import { logsCommand } from './logs-command.js';
import { statusCommand } from './status-command.js';

export interface LogArgs {
  'log-level': string;
  'log-file'?: string | undefined;
}

export interface StateCommandsContext {
  env: NodeJS.ProcessEnv;
  getLogger(args: LogArgs): Logger;
}

/** `status` (status-command.ts) and `logs` (logs-command.ts): what the state file says, in the old import-status / import-logs shapes. */
export function registerStateCommands<T extends LogArgs>(cli: Argv<T>, ctx: StateCommandsContext): Argv<T> {
  return cli.command(statusCommand(ctx)).command(logsCommand(ctx));
}


