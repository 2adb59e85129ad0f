import { NOT_SUBMITTED } from './lifecycle.js';
import type { RunRecord, StateFile } from './types.js';

/**
 * Runs that never ended (killed, or the machine went down) are closed as `interrupted` by the next
 * command that takes the lock: no other process can still be running them. Their counters are
 * rebuilt from the items they touched, since a killed run never wrote its own.
 */
export function closeAbandonedRuns(state: StateFile, now: string): RunRecord[] {
  const closed: RunRecord[] = [];
  for (const run of state.runs) {
    if (run.endedAt) continue;
    const items = Object.values(state.items).filter((item) => item.runId === run.runId);
    const submitted = items.filter((item) => !NOT_SUBMITTED.has(item.status) && (item.taskId !== undefined || item.indexedAssetId !== undefined)).length;
    const failed = items.filter((item) => item.status === 'failed').length;
    const counters = { ...run.counters, submitted: Math.max(run.counters.submitted, submitted), failed: Math.max(run.counters.failed, failed) };
    const last = items.reduce((at, item) => (item.updatedAt > at ? item.updatedAt : at), run.startedAt);
    Object.assign(run, { endedAt: last < now ? last : now, outcome: 'interrupted', counters });
    closed.push(run);
  }
  return closed;
}
