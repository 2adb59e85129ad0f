import type { ReportRow } from './rows.js';

export const CSV_HEADER = ['bucket', 'key', 'size', 'action', 'reason', 'task_id', 'video_id', 'status', 'error_code', 'error_message'] as const;

const NEEDS_QUOTES = /[",\r\n]|^\s|\s$/;

/** A spreadsheet reads a cell starting with one of these as a formula (CSV injection). */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * One RFC 4180 field: quoted when it holds a comma, a quote, a line break, or edge spaces (which
 * some readers trim); quotes doubled. Unicode passes through as UTF-8. A text cell that a
 * spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) gets a leading `'`.
 */
export function csvField(value: string | number): string {
  const text = typeof value === 'string' && FORMULA_START.test(value) ? `'${value}` : String(value);
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One record, CRLF-terminated as RFC 4180 says. */
export function csvRecord(fields: ReadonlyArray<string | number>): string {
  return `${fields.map(csvField).join(',')}\r\n`;
}

/** Every row, in input order, in chunks of about 64 KB so a million rows never become one string. */
export async function* renderCsv(rows: AsyncIterable<ReportRow> | Iterable<ReportRow>): AsyncGenerator<string> {
  let chunk = csvRecord(CSV_HEADER);
  for await (const r of rows) {
    chunk += csvRecord([r.bucket, r.key, r.size, r.action, r.reason, r.taskId, r.videoId, r.status, r.errorCode, r.errorMessage]);
    if (chunk.length >= 1 << 16) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}
