import { MATCH_LABEL, displayKey, formatBytes, formatDuration, num, orderedStatuses } from './format.js';
import type { Group } from './groups.js';
import type { PlanReport } from './plan-report.js';
import type { RunReport } from './run-report.js';
import { runNotes } from './run-notes.js';

/** Keys listed per group in text; the report's JSON has more, its CSV has all. */
const SHOWN = 10;

/** A plain-text report for a terminal or an e-mail. */
export function* renderText(report: PlanReport | RunReport): Generator<string> {
  yield* report.kind === 'plan' ? planText(report) : runText(report);
}

function* header(title: string, report: PlanReport | RunReport): Generator<string> {
  yield `${title}\n`;
  yield `  source  ${report.source.uri}\n`;
  yield `  index   ${report.indexId}${report.indexName ? ` (${report.indexName})` : ''}\n`;
}

function* planText(r: PlanReport): Generator<string> {
  yield* header('Plan report (dry run: nothing was submitted)', r);
  yield `  plan    created ${r.planCreatedAt} by ${r.tool}\n\n`;
  const t = r.totals;
  const by = Object.entries(r.indexed.by).map(([how, n]) => `${num(n)} ${MATCH_LABEL[how] ?? `by ${how}`}`);
  const rows: Array<[string, number, string]> = [
    ['objects', t.objects, formatBytes(t.bytes.total)],
    ['to upload', t.upload, formatBytes(t.bytes.upload)],
    ['already indexed', r.indexed.count, by.join(', ')],
    ['in progress', r.inProgress.count, 'tasks already running for them'],
    ['will fail', t.fail, r.failures.map((g) => `${num(g.count)} ${g.name}`).join(', ')],
    ['duplicates', r.duplicates.count, 'same content at another key: uploaded once'],
    ['excluded', r.excluded.count, 'filters and non-video extensions'],
  ];
  for (const [label, n, note] of rows) yield `  ${label.padEnd(16)} ${num(n).padStart(9)}   ${note}\n`;
  if (t.ignored) yield `  (${num(t.ignored)} folder markers ignored)\n`;
  if (r.collisions.count) yield `  ${num(r.collisions.count)} basename collisions: a legacy video matches several keys by name and size; not guessed, uploaded\n`;

  if (r.video) {
    yield `\nVideo to upload: ${r.video.hours.toFixed(2)} h (${num(r.video.uploadsProbed)} of ${num(r.video.uploads)} uploads probed)\n`;
  }
  if (r.estimate) yield `Time to submit: ${formatDuration(r.estimate.seconds)} for ${num(r.estimate.requests)} tasks at ${num(r.estimate.maxRpm)} requests/min (indexing takes longer)\n`;
  else if (t.upload > 0) yield `Time to submit: pass --max-rpm N (your plan's request limit) to estimate it\n`;

  for (const g of r.failures) yield* groupText(`Will fail: ${g.name}`, g, (e) => `${displayKey(e.key)}${e.detail ? ` - ${e.detail}` : ''}`);
  yield* groupText('Duplicates in the source (uploaded once)', r.duplicates, (e) => `${displayKey(e.key)} = ${displayKey(e.duplicateOf)}`);
  yield* groupText('Basename collisions', r.collisions, (e) => `${displayKey(e.key)} (also ${e.with.map(displayKey).join(', ')})`);
  yield* groupText('Already in progress', r.inProgress, (e) => `${displayKey(e.key)}${e.taskId ? ` (task ${e.taskId})` : ''}`);
  if (r.excluded.count) {
    yield `\nExcluded (${num(r.excluded.count)}):\n`;
    for (const d of r.excluded.byDetail) yield `  ${num(d.count).padStart(7)}  ${d.detail}\n`;
  }
  for (const m of r.summaryMismatch) yield `\nWarning: ${m} (was the plan edited?); this report counts the items.\n`;
  yield `\nNext: review the keys above, then: ${r.applyCommand}\n`;
}

function* runText(r: RunReport): Generator<string> {
  yield* header('Run report', r);
  yield `  runs    ${num(r.runs.length)}, started ${r.startedAt ?? '-'}, ${r.endedAt ? `ended ${r.endedAt}` : r.runs.length ? 'not ended (running, or killed: resume it)' : 'none yet'}\n\n`;
  yield `  ${'objects'.padEnd(16)} ${num(r.totals.objects).padStart(9)}   ${formatBytes(r.totals.bytes)}\n`;
  for (const [status, n] of orderedStatuses(r.totals.byStatus)) yield `  ${status.padEnd(16)} ${num(n).padStart(9)}\n`;
  yield* skippedText(r.skipped);
  const c = r.counters;
  const count = (n: number, one: string, many: string) => `${num(n)} ${n === 1 ? one : many}`;
  yield `\nRequests: ${count(c.submitted, 'task', 'tasks')} created (${num(c.reconciled)} found again by reconciliation), ${count(c.retries, 'retry', 'retries')}, ${num(c.throttled)} rate-limited (429) and retried\n`;
  if (r.throughput.points.length) {
    yield `Throughput: ${r.throughput.perMinute.toFixed(1)} submissions/min from ${r.throughput.first} to ${r.throughput.last}\n`;
    const peak = Math.max(...r.throughput.points.map((p) => p.submitted));
    for (const p of r.throughput.points) yield `  ${p.at}  ${'#'.repeat(peak ? Math.round((p.submitted / peak) * 40) : 0).padEnd(40)} ${num(p.submitted)}\n`;
  }
  for (const g of r.failures) yield* groupText(`Failed: ${g.name}`, g, (e) => `${displayKey(e.key)}${e.message ? ` - ${e.message}` : ''}`);
  for (const g of r.unfinished) yield* groupText(`Not submitted yet, last error ${g.name}`, g, (e) => `${displayKey(e.key)} - ${e.message}`);
  if (r.runs.length) {
    yield '\nRuns:\n';
    for (const run of r.runs) {
      yield `  ${run.startedAt} -> ${run.endedAt ?? 'not ended'}  ${run.command} ${run.outcome ?? ''}  submitted ${num(run.counters.submitted)}, failed ${num(run.counters.failed)}, retries ${num(run.counters.retries)}, 429s ${num(run.counters.throttled)}\n`;
      for (const line of runNotes(run)) yield `      ${line}\n`;
    }
  }
  yield '\nWhat to do next:\n';
  for (const s of r.next) yield `  ${s.count ? `${num(s.count)} ` : ''}${s.why}\n      ${s.command}\n`;
}

/** Why the plan left objects out, with the status each is counted under above (an indexed one is `ready`). */
function* skippedText(skipped: Record<string, number>): Generator<string> {
  const { indexed = 0, ...rest } = skipped;
  const words = (reason: string, n: number) =>
    reason === 'duplicate' ? (n === 1 ? 'duplicate of another key' : 'duplicates of other keys') : reason === 'in_progress' ? 'in progress when planned' : reason;
  const left = Object.entries(rest).map(([reason, n]) => `${num(n)} ${words(reason, n)}`);
  const parts = [...(left.length ? [`${left.join(', ')}: counted as skipped`] : []), ...(indexed ? [`${num(indexed)} already in the index: counted as ready`] : [])];
  if (parts.length) yield `  (not uploaded, as the plan decided: ${parts.join('; ')})\n`;
}

function* groupText<T>(title: string, group: Group<T>, line: (entry: T) => string): Generator<string> {
  if (group.count === 0) return;
  yield `\n${title} (${num(group.count)}):\n`;
  for (const entry of group.items.slice(0, SHOWN)) yield `  ${line(entry)}\n`;
  const more = group.count - Math.min(group.items.length, SHOWN);
  if (more > 0) yield `  ... and ${num(more)} more (--format csv lists every object)\n`;
}

