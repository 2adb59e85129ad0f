import { printable } from '../errors.js';
import { collectLogs, writeImportLogs, type CollectedLogs } from '../report/status-json.js';
import { withSpools } from '../report/spool.js';
import { streamSink, type TextSink } from '../report/text-sink.js';
import { liveHolder, type StateHeader } from '../state/index.js';
import { formatCommand, stateFlag } from './shell.js';
import { requireStateView } from './file-kind.js';
import { STAGE_WORDS } from './status-command.js';

/**
 * `logs` (or `logs --json`) of a state file to `stdout`: one pass over the items streamed from the
 * file, each run's failed files and the preflight failures spooled to temporary files.
 */
export async function printLogs(path: string, json: boolean, stdout: NodeJS.WritableStream): Promise<void> {
  const view = await requireStateView(path);
  const out = streamSink(stdout);
  try {
    await withSpools('logs', async (spool) => {
      const logs = await collectLogs(view.header, view.items(), spool);
      if (json) await writeImportLogs(logs, out);
      else await writeLogsText(logs, view.header, path, out);
    });
    await out.flush();
  } finally {
    await view.close();
  }
}

async function writeLogsText(logs: CollectedLogs, header: StateHeader, path: string, out: TextSink): Promise<void> {
  const holder = await liveHolder(path);
  for (const { entry, failed } of logs.runs) {
    const counts = Object.entries(entry.video_status).map(([k, v]) => `${k === 'failed' ? STAGE_WORDS.platform : k} ${v}`).join(', ');
    const running = holder !== undefined && holder.pid === header.runs.find((r) => r.startedAt === entry.created_at)?.pid;
    const end = entry.ended_at ?? (running ? 'running' : 'not ended (stopped without closing: the next apply records it as interrupted)');
    await out.write(`run ${entry.created_at} -> ${end}: ${counts}\n`);
    for await (const f of failed.values<{ filename: string; error_message: string }>()) await out.write(`  ${STAGE_WORDS.platform}: ${printable(f.filename)}: ${printable(f.error_message)}\n`);
    for (const w of entry.quota_waits ?? []) await out.write(`  waited for quota: ${w.at} -> ${w.until} (${w.reason})\n`);
    if (entry.budget) await out.write(`  stopped by budget ${entry.budget.reason}: ${entry.budget.left_items} items left for the next run\n`);
  }
  const preflight = logs.preflight;
  if (preflight.count) await out.write(`${STAGE_WORDS.preflight} (never sent: the plan found them unfit): ${preflight.count}\n`);
  let shown = 0;
  for await (const f of preflight.values<{ filename: string; error_message: string }>()) {
    if (shown++ === 20) break;
    await out.write(`  ${STAGE_WORDS.preflight}: ${printable(f.filename)}: ${printable(f.error_message)}\n`);
  }
  if (preflight.count > 20) await out.write(`  ... ${preflight.count - 20} more: ${formatCommand(['tlmigrate', 'logs', '--json', ...stateFlag(path)])}\n`);
}
