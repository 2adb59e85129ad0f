import type { ItemState, ItemStatus } from './types.js';

/** Every status an item can have, so a table below that forgets one is a compile error where it matters. */
export const ALL_STATUSES = ['planned', 'intent', 'unknown', 'asset_uploading', 'asset_processing', 'asset_ready', 'submitted', 'uploading', 'validating', 'pending', 'queued', 'indexing', 'ready', 'failed', 'skipped'] as const satisfies readonly ItemStatus[];

/** A POST may have left and its outcome is not known yet: searched for before any new POST. */
export const AWAITING_OUTCOME: ReadonlySet<ItemStatus> = new Set<ItemStatus>(['intent', 'unknown']);

/** Nothing created for the item yet, not even an asset: what a budget or an ETA counts as left. */
export const NOT_CREATED: ReadonlySet<ItemStatus> = new Set<ItemStatus>(['planned', ...AWAITING_OUTCOME]);

/** No task or indexed asset exists yet for the item (as far as the state knows). */
export const NOT_SUBMITTED: ReadonlySet<ItemStatus> = new Set<ItemStatus>(['planned', 'intent', 'unknown', 'asset_uploading', 'asset_processing', 'asset_ready']);

/** A task or indexed asset exists and has not ended. */
export const IN_FLIGHT: ReadonlySet<ItemStatus> = new Set<ItemStatus>(['submitted', 'uploading', 'validating', 'pending', 'queued', 'indexing']);

/** A task (or asset) may exist and has not ended: a plan must not send the object again. */
export const UNFINISHED: ReadonlySet<ItemStatus> = new Set<ItemStatus>([...AWAITING_OUTCOME, 'asset_uploading', 'asset_processing', 'asset_ready', ...IN_FLIGHT]);

/** The index holds, or may soon hold, a copy of the item's content: another key with that content is a duplicate. */
export const CREATED_STATUSES: ReadonlySet<ItemStatus> = new Set<ItemStatus>([...UNFINISHED, 'ready']);

/** A followed task or indexed asset has ended: nothing more will change it. */
export const ENDED: ReadonlySet<ItemStatus> = new Set<ItemStatus>(['ready', 'failed']);

/** Whether a status read as text (a report row, an API answer) is one of the set. */
export function statusIn(set: ReadonlySet<ItemStatus>, status: string | undefined): boolean {
  return (set as ReadonlySet<string>).has(status ?? '');
}

/** Why the plan set an item aside without uploading it; any other reason on an item is a preflight failure. */
export const PLAN_SKIP_REASONS: ReadonlySet<string> = new Set(['indexed', 'duplicate', 'excluded', 'in_progress']);

/**
 * Where a failed item failed, in the words status, logs and apply share: `preflight` when the plan
 * found it unfit (never sent), `platform` when apply sent it, or tried to, and it failed.
 */
export type FailureStage = 'preflight' | 'platform';

export function failureStage(item: Pick<ItemState, 'reason' | 'runId'>): FailureStage {
  // A run that worked on it (a --retry-failed of a preflight failure) makes it the run's failure.
  return item.runId === undefined && item.reason !== undefined && !PLAN_SKIP_REASONS.has(item.reason) ? 'preflight' : 'platform';
}
