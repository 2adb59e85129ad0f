import { MATCH_LABEL, formatBytes, formatDuration, num, orderedStatuses } from './format.js';
import type { Group } from './groups.js';
import type { PlanReport } from './plan-report.js';
import type { RunReport } from './run-report.js';
import { runNotes } from './run-notes.js';

const SHOWN = 50;

/** Markdown (GitHub flavour) for a ticket, a pull request or a wiki page. */
export function* renderMarkdown(report: PlanReport | RunReport): Generator<string> {
  yield* report.kind === 'plan' ? planMarkdown(report) : runMarkdown(report);
}

/** Text safe inside a table cell: no markup, no column breaks, one line. */
export function mdText(text: string): string {
  return text.replace(/[\\`*_[\]<>|~&]/g, '\\$&').replace(/\r\n|\r|\n/g, ' ');
}

function* planMarkdown(r: PlanReport): Generator<string> {
  yield `# Migration plan: ${mdText(r.source.uri)} → index ${mdText(r.indexName ?? r.indexId)}\n\n`;
  yield `Dry run: nothing was submitted. Plan created ${r.planCreatedAt} by ${mdText(r.tool)}; index \`${r.indexId}\`.\n\n`;
  const t = r.totals;
  const by = Object.entries(r.indexed.by).map(([how, n]) => `${num(n)} ${MATCH_LABEL[how] ?? `by ${how}`}`).join(', ');
  yield '| | objects | notes |\n|---|---:|---|\n';
  yield `| **Total** | ${num(t.objects)} | ${formatBytes(t.bytes.total)} |\n`;
  yield `| To upload | ${num(t.upload)} | ${formatBytes(t.bytes.upload)} |\n`;
  yield `| Already indexed | ${num(r.indexed.count)} | ${mdText(by)} |\n`;
  yield `| In progress | ${num(r.inProgress.count)} | |\n`;
  yield `| Will fail | ${num(t.fail)} | ${mdText(r.failures.map((g) => `${num(g.count)} ${g.name}`).join(', '))} |\n`;
  yield `| Duplicates in source | ${num(r.duplicates.count)} | uploaded once |\n`;
  yield `| Excluded | ${num(r.excluded.count)} | |\n`;
  if (r.collisions.count) yield `| Basename collisions | ${num(r.collisions.count)} | uploaded, not guessed |\n`;
  yield '\n';
  if (r.video) yield `**Video to upload:** ${r.video.hours.toFixed(2)} h (${num(r.video.uploadsProbed)} of ${num(r.video.uploads)} uploads probed).\n\n`;
  if (r.estimate) yield `**Time to submit:** ${formatDuration(r.estimate.seconds)} for ${num(r.estimate.requests)} tasks at ${num(r.estimate.maxRpm)} requests/min.\n\n`;
  if (r.failures.length) {
    yield '## Will fail\n\n';
    for (const g of r.failures) yield* table(`\`${g.name}\``, g, ['key', 'why'], (e) => [e.key, e.detail]);
  }
  if (r.duplicates.count) yield* table('## Duplicates in the source', r.duplicates, ['key', 'same content as'], (e) => [e.key, e.duplicateOf]);
  if (r.collisions.count) yield* table('## Basename collisions', r.collisions, ['key', 'other keys'], (e) => [e.key, e.with.join(', ')]);
  if (r.inProgress.count) yield* table('## Already in progress', r.inProgress, ['key', 'task'], (e) => [e.key, e.taskId ?? '']);
  if (r.excluded.count) {
    yield `## Excluded (${num(r.excluded.count)})\n\n| objects | why |\n|---:|---|\n`;
    for (const d of r.excluded.byDetail) yield `| ${num(d.count)} | ${mdText(d.detail)} |\n`;
    yield '\n';
  }
  for (const m of r.summaryMismatch) yield `> **Warning:** ${mdText(m)}; this report counts the items.\n\n`;
}

function* runMarkdown(r: RunReport): Generator<string> {
  yield `# Migration run: ${mdText(r.source.uri)} → index ${mdText(r.indexName ?? r.indexId)}\n\n`;
  yield `Index \`${r.indexId}\`. ${num(r.runs.length)} run${r.runs.length === 1 ? "" : "s"}, started ${r.startedAt ?? '-'}, ${r.endedAt ? `ended ${r.endedAt}` : 'not ended'}.\n\n`;
  yield '| status | objects |\n|---|---:|\n';
  yield `| **Total** | ${num(r.totals.objects)} |\n`;
  for (const [status, n] of orderedStatuses(r.totals.byStatus)) yield `| ${status} | ${num(n)} |\n`;
  yield '\n';
  const c = r.counters;
  yield `**Requests:** ${num(c.submitted)} tasks created (${num(c.reconciled)} found by reconciliation), ${num(c.retries)} retries, ${num(c.throttled)} rate-limited (429).`;
  if (r.throughput.points.length) yield ` **Throughput:** ${r.throughput.perMinute.toFixed(1)} submissions/min (${r.throughput.first} to ${r.throughput.last}).`;
  yield '\n\n## What to do next\n\n';
  for (const s of r.next) yield `- ${s.count ? `**${num(s.count)}** ` : ''}${mdText(s.why)}:\n  \`${s.command.replace(/`/g, "'")}\`\n`;
  yield '\n';
  if (r.failures.length) {
    yield '## Failures by error code\n\n';
    for (const g of r.failures) yield* table(`\`${g.name}\``, g, ['key', 'message'], (e) => [e.key, e.message]);
  }
  if (r.unfinished.length) {
    yield '## Not submitted yet (last error)\n\n';
    for (const g of r.unfinished) yield* table(`\`${g.name}\``, g, ['key', 'message'], (e) => [e.key, e.message]);
  }
  if (r.runs.length) {
    yield '## Runs\n\n| started | ended | command | outcome | submitted | failed | retries | 429s |\n|---|---|---|---|---:|---:|---:|---:|\n';
    for (const run of r.runs) {
      const k = run.counters;
      yield `| ${run.startedAt} | ${run.endedAt ?? '-'} | ${mdText(run.command)} | ${run.outcome ?? '-'} | ${num(k.submitted)} | ${num(k.failed)} | ${num(k.retries)} | ${num(k.throttled)} |\n`;
    }
    yield '\n';
    const notes = r.runs.flatMap((run) => runNotes(run).map((line) => `- ${run.startedAt}: ${mdText(line)}\n`));
    if (notes.length) yield `${notes.join('')}\n`;
  }
}

function* table<T>(title: string, group: Group<T>, columns: [string, string], cells: (entry: T) => [string, string]): Generator<string> {
  yield `${title} (${num(group.count)})\n\n| ${columns[0]} | ${columns[1]} |\n|---|---|\n`;
  for (const entry of group.items.slice(0, SHOWN)) {
    const [a, b] = cells(entry);
    yield `| ${mdText(a)} | ${mdText(b)} |\n`;
  }
  const more = group.count - Math.min(group.items.length, SHOWN);
  yield more > 0 ? `\n…and ${num(more)} more (the CSV report lists every object).\n\n` : '\n';
}
