import { barChart, escapeHtml, progressChart, shortTime, type Bar } from './charts.js';
import { MATCH_LABEL, formatBytes, formatDuration, num, orderedStatuses } from './format.js';
import { IN_FLIGHT, statusIn } from '../state/lifecycle.js';
import type { Group } from './groups.js';
import type { PlanReport } from './plan-report.js';
import type { RunReport } from './run-report.js';
import { runNotes } from './run-notes.js';

/** Keys per group in the page: a phone does not scroll through a million keys; the CSV has them. */
const SHOWN = 20;

const COLOR = { upload: '#2563eb', indexed: '#16a34a', ready: '#16a34a', fail: '#dc2626', flight: '#d97706', skip: '#6b7280', pending: '#9ca3af' };

const CSS = `
:root{color-scheme:light dark;--fg:#111827;--muted:#6b7280;--bg:#fff;--card:#f3f4f6;--line:#e5e7eb;--accent:#2563eb}
@media (prefers-color-scheme:dark){:root{--fg:#f3f4f6;--muted:#9ca3af;--bg:#111827;--card:#1f2937;--line:#374151;--accent:#60a5fa}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
main{max-width:60rem;margin:0 auto;padding:1rem}
h1{font-size:1.4rem;margin:.2rem 0}h2{font-size:1.1rem;margin:1.6rem 0 .5rem;border-bottom:1px solid var(--line);padding-bottom:.2rem}
.sub{color:var(--muted);margin:0;overflow-wrap:anywhere}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(8.5rem,1fr));gap:.5rem;margin:1rem 0}
.card{background:var(--card);border-radius:.5rem;padding:.6rem .75rem;border-left:4px solid var(--c,var(--accent))}
.card b{display:block;font-size:1.5rem;font-variant-numeric:tabular-nums}.card span{color:var(--muted);font-size:.85rem}
.chart{width:100%;height:auto;max-width:40rem;display:block}
.chart .lbl{font-size:13px;fill:var(--fg)}.chart .val{font-size:12px;fill:var(--muted)}
.chart .axis{stroke:var(--line)}.chart .line{fill:none;stroke:var(--accent);stroke-width:2}.chart .step{fill:var(--accent);opacity:.35}
details{background:var(--card);border-radius:.5rem;padding:.4rem .75rem;margin:.4rem 0}
summary{cursor:pointer;font-weight:600;overflow-wrap:anywhere}
ul.keys{list-style:none;padding:0;margin:.4rem 0}ul.keys li{padding:.2rem 0;border-top:1px solid var(--line);overflow-wrap:anywhere}
ul.keys code{font-size:.9em}.why{color:var(--muted);font-size:.9em;display:block}
.more{color:var(--muted);font-style:italic}
.table{overflow-x:auto}table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{text-align:left;padding:.3rem .4rem;border-bottom:1px solid var(--line);white-space:nowrap}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
ol.next li{margin:.4rem 0}ol.next code{display:block;background:var(--card);padding:.3rem .5rem;border-radius:.3rem;white-space:pre-wrap;overflow-wrap:anywhere}
.warn{background:#fef3c7;color:#78350f;padding:.5rem .75rem;border-radius:.5rem}
footer{color:var(--muted);font-size:.8rem;margin-top:2rem}
`;

/** One self-contained page (inline CSS and SVG, no script, no network) that reads well on a phone. */
export function* renderHtml(report: PlanReport | RunReport): Generator<string> {
  const title = report.kind === 'plan' ? 'Migration plan' : 'Migration run';
  yield '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">';
  yield '<meta name="viewport" content="width=device-width, initial-scale=1">';
  yield `<title>${escapeHtml(`${title}: ${report.source.uri}`)}</title><style>${CSS}</style></head>\n<body><main>`;
  yield `<header><h1>${title}</h1><p class="sub">${escapeHtml(report.source.uri)} → index <code>${escapeHtml(report.indexId)}</code>${report.indexName ? ` (${escapeHtml(report.indexName)})` : ''}</p>`;
  yield* report.kind === 'plan' ? planBody(report) : runBody(report);
  yield `<footer>Generated ${escapeHtml(report.generatedAt)} by tlmigrate from ${report.kind === 'plan' ? 'a plan file' : 'a state file'}. Counts are exact; lists show the first ${SHOWN} keys of each group, the CSV report lists every object.</footer>`;
  yield '</main></body></html>\n';
}

function card(name: string, label: string, value: number, color: string, note = ''): string {
  return `<div class="card" style="--c:${color}"><b data-total="${name}">${num(value)}</b><span>${escapeHtml(label)}${note ? ` · ${escapeHtml(note)}` : ''}</span></div>`;
}

function* planBody(r: PlanReport): Generator<string> {
  yield `<p class="sub">Dry run: nothing was submitted. Plan created ${escapeHtml(r.planCreatedAt)}.</p></header>`;
  const t = r.totals;
  yield '<section class="cards">';
  yield card('objects', 'objects', t.objects, COLOR.skip, formatBytes(t.bytes.total));
  yield card('upload', 'to upload', t.upload, COLOR.upload, formatBytes(t.bytes.upload));
  yield card('indexed', 'already indexed', r.indexed.count, COLOR.indexed);
  yield card('fail', 'will fail', t.fail, COLOR.fail);
  yield card('duplicate', 'duplicates', r.duplicates.count, COLOR.skip);
  yield card('excluded', 'excluded', r.excluded.count, COLOR.pending);
  if (r.inProgress.count) yield card('in_progress', 'in progress', r.inProgress.count, COLOR.flight);
  if (r.video) yield card('hours', 'video hours to upload', Math.round(r.video.hours * 100) / 100, COLOR.upload, `${num(r.video.uploadsProbed)} probed`);
  yield '</section>';
  if (r.estimate) yield `<p>Time to submit: <b data-estimate>${escapeHtml(formatDuration(r.estimate.seconds))}</b> for ${num(r.estimate.requests)} tasks at ${num(r.estimate.maxRpm)} requests/min.</p>`;
  const by = Object.entries(r.indexed.by).map(([how, n]) => `${num(n)} ${MATCH_LABEL[how] ?? `by ${how}`}`);
  if (by.length) yield `<p>Already indexed ${escapeHtml(by.join(', '))}.</p>`;
  for (const m of r.summaryMismatch) yield `<p class="warn">${escapeHtml(m)}; this report counts the items.</p>`;

  const bars: Bar[] = [
    { label: 'upload', value: t.upload, color: COLOR.upload },
    { label: 'skip: indexed', value: r.indexed.count, color: COLOR.indexed },
    { label: 'skip: in_progress', value: r.inProgress.count, color: COLOR.flight },
    { label: 'skip: duplicate', value: r.duplicates.count, color: COLOR.skip },
    { label: 'skip: excluded', value: r.excluded.count, color: COLOR.pending },
    ...r.failures.map((g) => ({ label: `fail: ${g.name}`, value: g.count, color: COLOR.fail })),
  ].filter((b) => b.value > 0);
  yield `<section><h2>Outcomes by reason</h2>${barChart(bars, 'Objects per planned action and reason')}</section>`;

  if (r.failures.length) {
    yield '<section><h2>Will fail</h2>';
    for (const g of r.failures) yield keyList(g, g.name, (e) => [e.key, e.detail]);
    yield '</section>';
  }
  if (r.duplicates.count) yield `<section><h2>Duplicates in the source</h2>${keyList(r.duplicates, 'same content at another key: uploaded once', (e) => [e.key, `same as ${e.duplicateOf}`])}</section>`;
  if (r.collisions.count) yield `<section><h2>Basename collisions</h2>${keyList(r.collisions, 'uploaded, not guessed', (e) => [e.key, `also ${e.with.join(', ')}`])}</section>`;
  if (r.inProgress.count) yield `<section><h2>Already in progress</h2>${keyList(r.inProgress, 'tasks already running', (e) => [e.key, e.taskId ? `task ${e.taskId}` : ''])}</section>`;
  if (r.excluded.count) {
    yield `<section><h2>Excluded</h2><div class="table"><table><tr><th class="n">objects</th><th>why</th></tr>`;
    for (const d of r.excluded.byDetail) yield `<tr><td class="n">${num(d.count)}</td><td>${escapeHtml(d.detail)}</td></tr>`;
    yield '</table></div></section>';
  }
}


function statusColor(status: string): string {
  if (status === 'ready') return COLOR.ready;
  if (status === 'failed') return COLOR.fail;
  if (statusIn(IN_FLIGHT, status)) return COLOR.flight;
  if (status === 'skipped') return COLOR.pending;
  return COLOR.skip;
}

function* runBody(r: RunReport): Generator<string> {
  yield `<p class="sub">${plural(r.runs.length, 'run')} · started ${escapeHtml(r.startedAt ?? '-')} · ${r.endedAt ? `ended ${escapeHtml(r.endedAt)}` : 'not ended'}</p></header>`;
  yield '<section class="cards">';
  yield card('objects', 'objects', r.totals.objects, COLOR.skip, formatBytes(r.totals.bytes));
  for (const [status, n] of orderedStatuses(r.totals.byStatus)) yield card(status, status, n, statusColor(status));
  yield card('retries', 'retries', r.counters.retries, COLOR.pending);
  yield card('throttled', '429s', r.counters.throttled, COLOR.pending);
  yield '</section>';

  yield '<section><h2>What to do next</h2><ol class="next">';
  for (const s of r.next) yield `<li data-next="${s.step}">${s.count ? `<b>${num(s.count)}</b> ` : ''}${escapeHtml(s.why)}<code>${escapeHtml(s.command)}</code></li>`;
  yield '</ol></section>';

  const bars: Bar[] = [
    ...orderedStatuses(r.totals.byStatus)
      .filter(([s]) => s !== 'failed')
      .map(([s, n]) => ({ label: s, value: n, color: statusColor(s) })),
    ...r.failures.map((g) => ({ label: `failed: ${g.name}`, value: g.count, color: COLOR.fail })),
  ];
  yield `<section><h2>Outcomes by reason</h2>${barChart(bars, 'Objects per status and failure code')}</section>`;
  if (r.throughput.points.length) {
    yield `<section><h2>Progress over time</h2><p>${r.throughput.perMinute.toFixed(1)} submissions/min, intervals of ${escapeHtml(formatDuration(r.throughput.intervalSeconds))}.</p>`;
    yield progressChart(r.throughput.points.map((p) => ({ at: p.at, value: p.cumulative, step: p.submitted })), 'Submissions over time', r.throughput.intervalSeconds);
    yield '</section>';
  }
  if (r.failures.length) {
    yield '<section><h2>Failures by error code</h2>';
    for (const g of r.failures) yield keyList(g, g.name, (e) => [e.key, e.message]);
    yield '</section>';
  }
  if (r.unfinished.length) {
    yield '<section><h2>Not submitted yet (last error)</h2>';
    for (const g of r.unfinished) yield keyList(g, g.name, (e) => [e.key, e.message]);
    yield '</section>';
  }
  if (r.runs.length) {
    yield '<section><h2>Runs</h2><div class="table"><table><tr><th>started</th><th>ended</th><th>outcome</th><th class="n">submitted</th><th class="n">failed</th><th class="n">retries</th><th class="n">429s</th></tr>';
    for (const run of r.runs) {
      const k = run.counters;
      yield `<tr><td>${escapeHtml(shortTime(run.startedAt))}</td><td>${escapeHtml(run.endedAt ? shortTime(run.endedAt) : '-')}</td><td>${escapeHtml(run.outcome ?? '-')}</td><td class="n">${num(k.submitted)}</td><td class="n">${num(k.failed)}</td><td class="n">${num(k.retries)}</td><td class="n">${num(k.throttled)}</td></tr>`;
    }
    yield '</table></div>';
    for (const run of r.runs) for (const line of runNotes(run)) yield `<p class="sub">${escapeHtml(shortTime(run.startedAt))}: ${escapeHtml(line)}</p>`;
    yield '</section>';
  }
}

function keyList<T>(group: Group<T>, title: string, cells: (entry: T) => [string, string]): string {
  const items = group.items.slice(0, SHOWN).map((e) => {
    const [key, why] = cells(e);
    return `<li><code>${escapeHtml(key)}</code>${why ? `<span class="why">${escapeHtml(why)}</span>` : ''}</li>`;
  });
  const more = group.count - Math.min(group.items.length, SHOWN);
  if (more > 0) items.push(`<li class="more">and ${num(more)} more</li>`);
  return `<details open><summary>${escapeHtml(title)} <span data-group="${escapeHtml(group.name)}">(${num(group.count)})</span></summary><ul class="keys">${items.join('')}</ul></details>`;
}

function plural(n: number, word: string): string {
  return `${num(n)} ${word}${n === 1 ? '' : 's'}`;
}
