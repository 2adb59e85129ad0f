import { printable } from '../errors.js';

export { formatBytes } from '../planner/index.js';

/** 12,345 */
export function num(n: number): string {
  return n.toLocaleString('en-US');
}

/** 1 h 05 min, 3 min 20 s, 42 s */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '-';
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const two = (big: number, bigUnit: string, small: number, smallUnit: string) => `${big} ${bigUnit}${small ? ` ${String(small).padStart(2, '0')} ${smallUnit}` : ''}`;
  if (seconds < 3600) return two(Math.floor(seconds / 60), 'min', Math.round(seconds % 60), 's');
  if (seconds < 86400) return two(Math.floor(seconds / 3600), 'h', Math.round((seconds % 3600) / 60), 'min');
  return two(Math.floor(seconds / 86400), 'd', Math.round((seconds % 86400) / 3600), 'h');
}

/** A key as one readable line: control and bidi characters (a newline in a key) shown escaped. */
export function displayKey(key: string): string {
  return printable(key);
}

/** How a plan found an object already indexed, in words. */
export const MATCH_LABEL: Record<string, string> = {
  ledger: 'by earlier runs',
  fingerprint: 'by fingerprint',
  filename_size: 'by filename+size',
  task: 'by task',
  source_content: 'by content',
};

export const STATUS_ORDER = ['ready', 'failed', 'indexing', 'queued', 'pending', 'validating', 'uploading', 'submitted', 'asset_ready', 'asset_processing', 'unknown', 'intent', 'planned', 'skipped'];

/** Statuses in lifecycle order, then any others. */
export function orderedStatuses(byStatus: Record<string, number>): Array<[string, number]> {
  const known = STATUS_ORDER.filter((s) => byStatus[s]).map((s): [string, number] => [s, byStatus[s] ?? 0]);
  const others = Object.entries(byStatus).filter(([s]) => !STATUS_ORDER.includes(s));
  return [...known, ...others];
}
