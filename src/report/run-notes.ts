import type { RunRecord } from '../state/index.js';
import { num } from './format.js';

/** A run's quota waits and budget stop, one line each: what `report` and `logs` say about a run left alone. */
export function runNotes(run: Pick<RunRecord, 'waits' | 'budget'>): string[] {
  const lines = (run.waits ?? []).map((w) => `waited for quota ${w.at} -> ${w.until} (${w.reason}${w.resetKnown ? '' : ', reset unknown'})`);
  if (run.budget) {
    const left = run.budget.left;
    const hours = left.videoSeconds === undefined ? '' : ` (${(left.videoSeconds / 3600).toFixed(2)} video h)`;
    lines.push(`stopped by budget ${run.budget.reason} after ${num(run.budget.used.items)} items; left for the next run: ${num(left.items)} items${hours}`);
  }
  return lines;
}
