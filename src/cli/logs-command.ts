import type { CommandModule } from 'yargs';
import { printable } from '../errors.js';
import { importLogs } from '../report/status-json.js';
import { liveHolder } from '../state/index.js';
import { jsonOption, stateOption } from './options.js';
import { formatCommand, stateFlag } from './shell.js';
import { requireState } from './file-kind.js';
import type { LogArgs, StateCommandsContext } from './register-state-commands.js';
import { STAGE_WORDS } from './status-command.js';

interface LogsCliArgs extends LogArgs {
  state: string;
  json: boolean;
}

export function logsCommand(ctx: StateCommandsContext): CommandModule<LogArgs, LogsCliArgs> {
  return {
    command: 'logs',
    describe: 'One entry per run: counts by state and the files that failed on the platform, with their error codes; those that failed in preflight listed apart (the old import-logs shape with --json)',
    builder: (y) => jsonOption(stateOption(y, 'State file'), 'Print {data: [{index_id, index_name, created_at, ended_at, video_status, failed_files}], failed_in_preflight}'),
    handler: async (args) => {
      ctx.getLogger(args);
      const state = await requireState(args.state);
      const logs = importLogs(state);
      if (args.json) {
        process.stdout.write(`${JSON.stringify(logs)}\n`);
        return;
      }
      const holder = await liveHolder(args.state);
      for (const entry of logs.data) {
        const counts = Object.entries(entry.video_status).map(([k, v]) => `${k === 'failed' ? STAGE_WORDS.platform : k} ${v}`).join(', ');
        const running = holder !== undefined && holder.pid === state.runs.find((r) => r.startedAt === entry.created_at)?.pid;
        const end = entry.ended_at ?? (running ? 'running' : 'not ended (stopped without closing: the next apply records it as interrupted)');
        process.stdout.write(`run ${entry.created_at} -> ${end}: ${counts}\n`);
        for (const f of entry.failed_files) process.stdout.write(`  ${STAGE_WORDS.platform}: ${printable(f.filename)}: ${printable(f.error_message)}\n`);
        for (const w of entry.quota_waits ?? []) process.stdout.write(`  waited for quota: ${w.at} -> ${w.until} (${w.reason})\n`);
        if (entry.budget) process.stdout.write(`  stopped by budget ${entry.budget.reason}: ${entry.budget.left_items} items left for the next run\n`);
      }
      const preflight = logs.failed_in_preflight;
      if (preflight.length) process.stdout.write(`${STAGE_WORDS.preflight} (never sent: the plan found them unfit): ${preflight.length}\n`);
      for (const f of preflight.slice(0, 20)) process.stdout.write(`  ${STAGE_WORDS.preflight}: ${printable(f.filename)}: ${printable(f.error_message)}\n`);
      if (preflight.length > 20) process.stdout.write(`  ... ${preflight.length - 20} more: ${formatCommand(['tlmigrate', 'logs', '--json', ...stateFlag(args.state)])}\n`);
    },
  };
}
