import { printable } from '../errors.js';

export { formatBytes } from '../planner/index.js';

/** 12,345 */
export function num(n: number): string {
  return n.toLocaleString('en-US');
}

/**
 * A duration in human units, the two largest that matter: `40 s`, `3 min 20 s`, `5 h 12 min`, `2 d 4 h`.
 * Rounded to the smaller unit first, so 119.6 s reads `2 min`, never `1 min 60 s`.
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '-';
  const pair = (big: number, bigUnit: string, small: number, smallUnit: string) => `${big} ${bigUnit}${small ? ` ${small} ${smallUnit}` : ''}`;
  const totalSeconds = Math.round(seconds);
  if (totalSeconds < 60) return `${totalSeconds} s`;
  if (totalSeconds < 3600) return pair(Math.floor(totalSeconds / 60), 'min', totalSeconds % 60, 's');
  const totalMinutes = Math.round(seconds / 60);
  if (totalMinutes < 1440) return pair(Math.floor(totalMinutes / 60), 'h', totalMinutes % 60, 'min');
  const totalHours = Math.round(seconds / 3600);
  return pair(Math.floor(totalHours / 24), 'd', totalHours % 24, 'h');
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

export const STATUS_ORDER = ['ready', 'failed', 'indexing', 'queued', 'pending', 'validating', 'uploading', 'submitted', 'asset_ready', 'asset_processing', 'asset_uploading', 'unknown', 'intent', 'planned', 'skipped'];

/** Statuses in lifecycle order, then any others. */
export function orderedStatuses(byStatus: Record<string, number>): Array<[string, number]> {
  const known = STATUS_ORDER.filter((s) => byStatus[s]).map((s): [string, number] => [s, byStatus[s] ?? 0]);
  const others = Object.entries(byStatus).filter(([s]) => !STATUS_ORDER.includes(s));
  return [...known, ...others];
}
