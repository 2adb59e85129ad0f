import { systemClock } from '../clock.js';
import { printable } from '../errors.js';
import { followTasks } from '../executor/follow.js';
import { followRecordsFile } from '../executor/open-items.js';
import { formatEta, quotaWaitLine, statusEta } from '../report/eta.js';
import { formatDuration } from '../report/format.js';
import { STATUS_GROUPS, tallyStatus, writeImportStatus, type StatusTally } from '../report/status-json.js';
import { streamSink, type TextSink } from '../report/text-sink.js';
import { PartedStore, StateStore, stateLayout, type FailureStage, type RunRecord, type StateHeader } from '../state/index.js';
import { createApiClient, resolveBaseUrl } from './config.js';
import { formatCommand, stateFlag } from './shell.js';
import { requireStateView } from './file-kind.js';
import { VERSION } from './version.js';

/**
 * `status` (or `status --json`) of a state file to `stdout`. The items are streamed from the file,
 * never held: the counts and the first failures in one pass, or the groups spooled to temporary
 * files for `--json`.
 */
export async function printStatus(path: string, json: boolean, stdout: NodeJS.WritableStream): Promise<void> {
  const view = await requireStateView(path);
  const out = streamSink(stdout);
  try {
    if (json) await writeImportStatus(view.items(), out);
    else await writeStatusText(view.header, await tallyStatus(view.items(), view.header.runs.at(-1)?.runId, SHOWN_FAILURES), path, out);
    await out.flush();
  } finally {
    await view.close();
  }
}

const SHOWN_FAILURES = 20;

async function writeStatusText(header: StateHeader, tally: StatusTally, path: string, out: TextSink): Promise<void> {
  await out.write(`${header.source.uri} -> index ${header.indexId}${header.indexName ? ` (${header.indexName})` : ''}\n`);
  const last = header.runs.at(-1);
  if (last) await out.write(`  last run: ${lastRunLine(last, Date.now())}\n`);
  const eta = statusEta(tally, header.runs, Date.now());
  if (last && eta.remaining > 0) {
    const wait = eta.waitUntil === undefined ? '' : `; ${quotaWaitLine(eta.waitUntil, Date.now())}`;
    await out.write(`  ETA ${formatEta(eta.seconds)} for ${eta.remaining} items not created yet, at the last run's pace${wait}\n`);
  }
  for (const group of STATUS_GROUPS) await out.write(`  ${group.padEnd(13)} ${String(tally.counts[group]).padStart(7)}${group === 'failed' ? stagesNote(tally) : ''}\n`);
  for (const f of tally.failures) await out.write(`  ${STAGE_WORDS[f.stage]}: ${printable(f.filename)}: ${printable(f.error_message)}\n`);
  if (tally.counts.failed > tally.failures.length) {
    await out.write(`  ... ${tally.counts.failed - tally.failures.length} more failures: ${formatCommand(['tlmigrate', 'status', '--json', ...stateFlag(path)])}\n`);
  }
}

/** One vocabulary for failures across status, logs and apply's summary. */
export const STAGE_WORDS: Record<FailureStage, string> = { preflight: 'failed in preflight', platform: 'failed on the platform' };

/** `   (3 in preflight: never sent; 1 on the platform)` after the failed count, when there are failures. */
function stagesNote(tally: StatusTally): string {
  if (tally.counts.failed === 0) return '';
  return `   (${tally.preflightFailures} in preflight: never sent; ${tally.counts.failed - tally.preflightFailures} on the platform)`;
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

/** `status --refresh`: the task states of the state file brought up to date from the API. */
export async function refresh(path: string, apiUrl: string | undefined, env: NodeJS.ProcessEnv): Promise<void> {
  const api = createApiClient({ apiUrl: resolveBaseUrl(apiUrl, env), env });
  const view = await requireStateView(path);
  await view.close();
  const before = view.header;
  const identity = { uri: before.source.uri, bucket: before.source.bucket, prefix: before.source.prefix, indexId: before.indexId };
  // A state in parts takes the changes without loading a part (they go to its journal).
  const store = (await stateLayout(path)) === 'parts' ? await PartedStore.open(path, identity, 'status --refresh', `tlmigrate ${VERSION}`) : await StateStore.open(path, identity, 'status --refresh', `tlmigrate ${VERSION}`);
  try {
    const records = followRecordsFile(path);
    await followTasks({ api, store, clock: systemClock, indexId: before.indexId, pollMs: 0, once: true, records });
  } finally {
    await store.close();
  }
}

