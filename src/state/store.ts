import { readFile, stat } from 'node:fs/promises';
import { StateFileError, errnoCode } from '../errors.js';
import { writeFileAtomic } from './atomic.js';
import type { RunStore } from './contract.js';
import { applyEvent, type JournalEvent } from './events.js';
import { CheckpointCadence, JournalWriter, NEXT_JOURNAL, readJournal, readJournalEvents, writeError, type StoreStats } from './journal.js';
import { readStateLines, stateText } from './state-file.js';
import { acquireLock, type StateLock } from './lock.js';
import { closeAbandonedRuns } from './runs.js';
import { refuseUnsafePath } from './safe-file.js';
import { STATE_VERSION, type HistoryEntry, type ItemState, type RunRecord, type StateFile } from './types.js';

export interface StateIdentity {
  uri: string;
  indexId: string;
}

export { readJournalEvents, type StoreStats };

/**
 * Reads a state file: the last checkpoint plus the journal written since. A torn last journal line
 * (a crash mid-append) is ignored; anything else unreadable is refused, never overwritten.
 */
export async function loadState(path: string): Promise<StateFile | undefined> {
  let state: StateFile | undefined;
  try {
    // The usual layout streams; any other (an older file, one a person reformatted) is parsed whole.
    state = (await readStateLines(path)) ?? parseWhole(await readFile(path, 'utf8'), path);
  } catch (error) {
    return stateMissing(path, error);
  }
  checkStateShape(state, path);
  for (const event of await readJournalEvents(path)) applyEvent(state, event);
  return state;
}

/** A state file that could not be opened: undefined when it does not exist (and no journal is left without it), else the error to show. */
export async function stateMissing(path: string, error: unknown): Promise<undefined> {
  if (error instanceof StateFileError) throw error;
  const code = errnoCode(error);
  if (code !== 'ENOENT') throw new StateFileError('state_unreadable', `cannot read state file ${path} (${code}): check its permissions`, { cause: error });
  // The journal holds changes made since the last checkpoint: without that checkpoint they cannot be replayed, and starting afresh would forget tasks already created.
  if ((await readJournal(path)).trim() !== '') {
    throw new StateFileError(
      'state_checkpoint_missing',
      `state file ${path} is missing but its journal ${path}.journal is not: restore ${path} from a backup (the journal was left untouched), or move both aside and re-plan (the index will be read to find what exists)`,
    );
  }
  return undefined;
}

/** Refuses what is not a tlmigrate state file of this version, naming the fix. */
export function checkStateShape(state: unknown, path: string): asserts state is StateFile {
  const file = state as (Partial<StateFile> & { parts?: unknown }) | null;
  if (file !== null && typeof file === 'object' && file.items === undefined && Array.isArray(file.parts)) {
    // A manifest of a state in parts (`parts.ts`): read by openStateView and PartedStore, not whole.
    throw new StateFileError('state_parted', `state file ${path} is kept in parts (its items are in ${path}.parts/): this command reads only a state in one file; apply, status (and --refresh), logs and report read it`);
  }
  if (typeof file !== 'object' || file === null || file.tool === undefined || typeof file.items !== 'object') {
    throw new StateFileError('state_foreign', `${path} is not a tlmigrate state file: it was left untouched; pass another --state`);
  }
  if (file.version !== STATE_VERSION) {
    throw new StateFileError('state_version', `state file ${path} has version ${JSON.stringify(file.version)}; this tlmigrate reads version ${STATE_VERSION}: use the tlmigrate that wrote it`);
  }
}

export function parseWhole(text: string, path: string): StateFile {
  try {
    return JSON.parse(text) as StateFile;
  } catch (cause) {
    throw new StateFileError('state_corrupt', `state file ${path} is not valid JSON: it was left untouched; restore it from a backup or pass another --state`, { cause });
  }
}

/** Refuses a state that belongs to another source or index. */
export function checkIdentity(state: StateFile, identity: StateIdentity, path: string): void {
  if (state.source.uri !== identity.uri || state.indexId !== identity.indexId) {
    throw new StateFileError(
      'state_mismatch',
      `state file ${path} belongs to ${state.source.uri} -> index ${state.indexId}, not ${identity.uri} -> index ${identity.indexId}: pass another --state`,
    );
  }
}

/**
 * The one writer of a state file: holds the lock, appends each change to a journal (fsync'd when
 * the change must survive a crash, such as an intent before its POST) and folds the journal into
 * an atomic checkpoint often enough to keep replays short and rarely enough to stay cheap.
 */
export class StateStore implements RunStore {
  readonly stats: StoreStats = { journalWrites: 0, syncs: 0, checkpoints: 0, writeMs: 0, journalsReopened: 0 };
  private readonly journal: JournalWriter;
  /** Journal lines written when the last checkpoint ended: the lines since are what the next one folds. */
  private readonly cadence = new CheckpointCadence();
  private closed = false;
  private checkpointing: Promise<void> = Promise.resolve();

  private constructor(
    readonly path: string,
    private readonly state: StateFile,
    private readonly lock: StateLock,
  ) {
    this.journal = new JournalWriter(path, this.stats, () => this.checkpoint());
  }

  /** Locks, loads (or creates) and checks the identity of a state file. */
  static async open(path: string, identity: StateIdentity & { bucket: string; prefix: string; indexName?: string | undefined }, command: string, tool: string): Promise<StateStore> {
    // Before the lock: a refused state leaves nothing behind, not even a lock file.
    await refuseUnsafePath(path, 'state file');
    await refuseUnsafePath(`${path}.journal`, 'journal');
    await refuseUnsafePath(`${path}${NEXT_JOURNAL}`, 'journal');
    const lock = await acquireLock(path, command);
    try {
      let state = await loadState(path);
      const now = new Date().toISOString();
      if (state) {
        checkIdentity(state, identity, path);
        closeAbandonedRuns(state, now);
      } else {
        state = {
          version: STATE_VERSION,
          tool,
          source: { uri: identity.uri, bucket: identity.bucket, prefix: identity.prefix },
          indexId: identity.indexId,
          indexName: identity.indexName,
          createdAt: now,
          updatedAt: now,
          items: {},
          runs: [],
        };
      }
      const store = new StateStore(path, state, lock);
      await store.checkpoint();
      await store.journal.open();
      return store;
    } catch (error) {
      await lock.release();
      throw error;
    }
  }

  item(uri: string): ItemState | undefined {
    return this.state.items[uri];
  }

  items(): IterableIterator<[string, ItemState]> {
    return Object.entries(this.state.items)[Symbol.iterator]();
  }

  /** The plan this state last applied. */
  async *scan(): AsyncGenerator<[string, ItemState]> {
    yield* this.items();
  }

  get lastPlan(): StateFile['lastPlan'] {
    return this.state.lastPlan;
  }

  /** Records a change; with `durable`, resolves only once it is on disk. */
  setItem(uri: string, patch: Partial<ItemState>, options: { durable?: boolean } = {}): Promise<void> {
    const event: JournalEvent = { i: uri, s: { ...patch, updatedAt: patch.updatedAt ?? new Date().toISOString() } };
    applyEvent(this.state, event);
    return this.append(event, options.durable ?? false);
  }

  setRun(run: RunRecord, options: { durable?: boolean } = {}): Promise<void> {
    const event: JournalEvent = { r: structuredClone(run) };
    applyEvent(this.state, event);
    return this.append(event, options.durable ?? true);
  }

  get changeCount(): number {
    return this.stats.journalWrites;
  }

  /** Drops a run from the history (one that had nothing to do), then checkpoints so its journal entry goes too. */
  forgetRun(runId: string): Promise<void> {
    this.state.runs = this.state.runs.filter((r) => r.runId !== runId);
    return this.checkpoint();
  }

  setLastPlan(plan: NonNullable<StateFile['lastPlan']>): Promise<void> {
    const event: JournalEvent = { p: plan };
    applyEvent(this.state, event);
    return this.append(event, true);
  }

  /** Appends a destructive action to the state's history, durably (the index changed; the record must not be lost). */
  addHistory(entry: HistoryEntry): Promise<void> {
    const event: JournalEvent = { h: { ...entry } };
    applyEvent(this.state, event);
    return this.append(event, true);
  }

  /**
   * Folds the journal into a new checkpoint (temp, fsync, rename). Appends never wait for it: the
   * journal is first switched to `.journal.next` (everything before is synced), the state is
   * written while later lines go there, then `.journal.next` replaces the journal it folded. A
   * crash at any point leaves a checkpoint and journals whose replay, in order, gives the state.
   */
  checkpoint(): Promise<void> {
    const next = this.checkpointing.catch(() => undefined).then(() => this.writeCheckpoint());
    this.checkpointing = next;
    return next;
  }

  private async writeCheckpoint(): Promise<void> {
    const started = performance.now();
    const folded = await this.journal.switch();
    this.state.updatedAt = new Date().toISOString();
    await writeFileAtomic(this.path, stateText(this.state), 0o600, 'state file').catch((error: unknown) => {
      throw writeError(this.path, error);
    });
    await this.journal.retire(folded);
    this.stats.checkpoints += 1;
    this.stats.writeMs += this.cadence.ended(started, this.stats.journalWrites);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.checkpoint();
    } finally {
      await this.journal.close();
      await this.lock.release();
    }
  }

  private append(event: JournalEvent, durable: boolean): Promise<void> {
    const written = this.journal.append(event, durable);
    this.cadence.afterAppend(this.stats.journalWrites, () => this.checkpoint());
    return written;
  }
}

export async function stateExists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
