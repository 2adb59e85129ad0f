import type { ItemState, RunRecord, StateFile } from './types.js';

/**
 * What the executor and `--wait` ask of a migration's state: read an item, walk the items, record a
 * change (durably when a crash must not lose it), record a run, and make everything so far durable.
 * `StateStore` keeps it in a JSON file with a journal; `PartedStore` in parts (issue 15), where
 * `item()` answers for the parts loaded and the items held; `MemoryStore` in memory, for tests and
 * for code that embeds tlmigrate.
 */
export interface ItemStore {
  item(uri: string): ItemState | undefined;
  /** Every item with its source URI, as a stream: a store in parts reads one part at a time. */
  scan(): AsyncIterable<[string, ItemState]>;
  /** Records a change; with `durable`, resolves only once a crash can no longer lose it. */
  setItem(uri: string, patch: Partial<ItemState>, options?: { durable?: boolean }): Promise<void>;
  setRun(run: RunRecord, options?: { durable?: boolean }): Promise<void>;
  /** Folds every change so far into one durable copy. */
  checkpoint(): Promise<void>;
}

/**
 * What a whole apply run asks beyond the items: the plan last applied (a stale plan is refused),
 * forgetting a run that had nothing to do, and a count of recorded changes (did this run change
 * anything?). Both stores implement it.
 */
export interface RunStore extends ItemStore {
  readonly lastPlan: StateFile['lastPlan'];
  setLastPlan(plan: NonNullable<StateFile['lastPlan']>): Promise<void>;
  forgetRun(runId: string): Promise<void>;
  /** Changes recorded since the store was opened. */
  readonly changeCount: number;
}
