import { renderCsv } from './csv.js';
import { renderHtml } from './html.js';
import { renderMarkdown } from './markdown.js';
import type { PlanReport } from './plan-report.js';
import type { ReportRow } from './rows.js';
import type { RunReport } from './run-report.js';
import { renderText } from './text.js';

import type { ReportFormat } from './formats.js';

export { REPORT_FORMATS, type ReportFormat } from './formats.js';

/** Bump when a field of the JSON report changes meaning or goes away. */
export const REPORT_JSON_VERSION = 1;

/** A summary format (all but csv): rendered from the report's model, which is small whatever the input. */
export function renderSummary(report: PlanReport | RunReport, format: Exclude<ReportFormat, 'csv'>): Iterable<string> {
  switch (format) {
    case 'text':
      return renderText(report);
    case 'md':
      return renderMarkdown(report);
    case 'html':
      return renderHtml(report);
    case 'json':
      return [`${JSON.stringify({ reportVersion: REPORT_JSON_VERSION, ...report }, null, 2)}\n`];
  }
}

/** The csv format: one row per object, streamed. */
export function renderRows(rows: AsyncIterable<ReportRow> | Iterable<ReportRow>): AsyncIterable<string> {
  return renderCsv(rows);
}

/** The format an output file name implies (`report.html` -> html), if any. */
export function formatFromFileName(path: string): ReportFormat | undefined {
  const ext = /\.([a-z]+)$/i.exec(path)?.[1]?.toLowerCase();
  if (ext === 'htm' || ext === 'html') return 'html';
  if (ext === 'markdown' || ext === 'md') return 'md';
  if (ext === 'txt') return 'text';
  return ext === 'csv' || ext === 'json' ? ext : undefined;
}

/**
 * Whether a file's first bytes are a plan (items is an array) or a state file (items keyed by
 * source URI). Looks at the first top-level "items" member; no key inside a JSON string can fake it.
 */
export function detectInputKind(head: string): 'plan' | 'state' | undefined {
  const match = /"items"\s*:\s*([[{])/.exec(head);
  // A state in parts: its manifest has no items, a list of part files instead (`state/parts.ts`).
  if (!match) return /"parts"\s*:\s*\[\s*(\{\s*"file"\s*:|\])/.test(head) ? 'state' : undefined;
  return match[1] === '[' ? 'plan' : 'state';
}
