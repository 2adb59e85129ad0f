import { lstat, readFile, rename, stat, type FileHandle } from 'node:fs/promises';
import { StateFileError, TlmError, errnoCode } from '../errors.js';
import { writeFileAtomic } from './atomic.js';
import type { RunStore } from './contract.js';
import { applyEvent, isJournalEvent, type JournalEvent } from './events.js';
import { readStateLines, stateText } from './state-file.js';
import { acquireLock, type StateLock } from './lock.js';
import { closeAbandonedRuns } from './runs.js';
import { openAppendNoFollow, refuseUnsafePath, truncateNoFollow } from './safe-file.js';
import { STATE_VERSION, type HistoryEntry, type ItemState, type RunRecord, type StateFile } from './types.js';

export interface StateIdentity {
  uri: string;
  indexId: string;
}

/** Where appends go while a checkpoint is written; renamed over the journal once the checkpoint is in place. */
const NEXT_JOURNAL = '.journal.next';

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
  const file = state as Partial<StateFile> | null;
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

/**
 * The journal's text; empty when there is none. A checkpoint cut short leaves the lines written
 * while it ran in `.journal.next`: they follow the journal's own, in the order they were written.
 */
async function readJournal(path: string): Promise<string> {
  const texts = await Promise.all([`${path}.journal`, `${path}${NEXT_JOURNAL}`].map((file) => readJournalFile(file)));
  const [own = '', next = ''] = texts;
  // A torn last line stays last (ignored) only when nothing follows it; before `.journal.next`'s lines it is damage.
  return next === '' || own === '' || own.endsWith('\n') ? own + next : `${own}\n${next}`;
}

async function readJournalFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ENOENT') return '';
    throw new StateFileError('state_unreadable', `cannot read journal ${file} (${code}): check its permissions`, { cause: error });
  }
}

/**
 * The journal's events, in order. Only an unterminated last line is a torn append (a crash
 * mid-write): it is ignored. A complete line that is not an event means damage, refused as such.
 */
export async function readJournalEvents(path: string): Promise<JournalEvent[]> {
  const lines = (await readJournal(path)).split('\n');
  const last = lines.length - 1;
  const events: JournalEvent[] = [];
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n];
    if (!line) continue;
    let event: unknown;
    try {
      event = JSON.parse(line);
    } catch (cause) {
      if (n === last) break;
      throw corruptJournal(path, n + 1, 'is not valid JSON', cause);
    }
    if (!isJournalEvent(event)) throw corruptJournal(path, n + 1, 'is not a tlmigrate journal event');
    events.push(event);
  }
  return events;
}

function corruptJournal(path: string, line: number, what: string, cause?: unknown): StateFileError {
  return new StateFileError('state_corrupt', `journal ${path}.journal line ${line} ${what}: it was left untouched; restore it from a backup or pass another --state`, { cause });
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

export interface StoreStats {
  journalWrites: number;
  syncs: number;
  checkpoints: number;
  writeMs: number;
  /** Times the journal was found deleted or replaced under the run, and made anew after a checkpoint. */
  journalsReopened: number;
}

/**
 * The one writer of a state file: holds the lock, appends each change to a journal (fsync'd when
 * the change must survive a crash, such as an intent before its POST) and folds the journal into
 * an atomic checkpoint often enough to keep replays short and rarely enough to stay cheap.
 */
export class StateStore implements RunStore {
  readonly stats: StoreStats = { journalWrites: 0, syncs: 0, checkpoints: 0, writeMs: 0, journalsReopened: 0 };
  private journal: FileHandle | undefined;
  private queue: Promise<void> = Promise.resolve();
  private eventsSinceCheckpoint = 0;
  private lastCheckpointAt = Date.now();
  private checkpointQueued = false;
  private pendingSync: Promise<void> | undefined;
  private runningSync: Promise<void> | undefined;
  private lastCheckpointMs = 0;
  private closed = false;
  /** Bytes of whole lines in the journal since the last checkpoint. */
  private journalBytes = 0;
  /** Set by a failed append: nothing more is appended, so no intent can be recorded after a cut line. */
  private broken: StateFileError | undefined;
  /** The file `journal` appends to: the journal, or `.journal.next` while a checkpoint is written. */
  private journalPath = '';
  private checkpointing: Promise<void> = Promise.resolve();

  private constructor(
    readonly path: string,
    private readonly state: StateFile,
    private readonly lock: StateLock,
  ) {}

  private get nextJournalPath(): string {
    return `${this.path}${NEXT_JOURNAL}`;
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
      store.journal = await openAppendNoFollow(`${path}.journal`, 'journal');
      store.journalPath = `${path}.journal`;
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
    const folded = await this.enqueue(() => this.switchToNextJournal());
    this.state.updatedAt = new Date().toISOString();
    await writeFileAtomic(this.path, stateText(this.state), 0o600, 'state file').catch((error: unknown) => {
      throw writeError(this.path, error);
    });
    await this.enqueue(() => this.retireFoldedJournal(folded)).catch((error: unknown) => {
      throw writeError(this.path, error);
    });
    this.eventsSinceCheckpoint = 0;
    this.lastCheckpointAt = Date.now();
    this.lastCheckpointMs = performance.now() - started;
    this.stats.checkpoints += 1;
    this.stats.writeMs += this.lastCheckpointMs;
  }

  /** In the queue: later lines go to `.journal.next`; returns the handle they no longer go to (synced). */
  private async switchToNextJournal(): Promise<FileHandle | undefined> {
    // No journal open yet (opening, closed), or already switched by a checkpoint that failed: nothing to switch.
    if (!this.journal || this.journalPath === this.nextJournalPath) return undefined;
    const folded = this.journal;
    await folded.datasync();
    this.journal = await openAppendNoFollow(this.nextJournalPath, 'journal');
    this.journalPath = this.nextJournalPath;
    this.journalBytes = 0;
    return folded;
  }

  /** In the queue, once the checkpoint holds every line of the journal: that journal goes. */
  private async retireFoldedJournal(folded: FileHandle | undefined): Promise<void> {
    const journal = `${this.path}.journal`;
    if (this.journalPath === this.nextJournalPath) {
      try {
        await rename(this.nextJournalPath, journal);
        this.journalPath = journal;
      } catch (error) {
        if (errnoCode(error) !== 'ENOENT') throw error;
        // `.journal.next` was deleted under us: the checkpoint holds its lines; start the journal afresh.
        await this.journal?.close().catch(() => undefined);
        await truncateNoFollow(journal, 'journal').catch((e: unknown) => {
          if (errnoCode(e) !== 'ENOENT') throw e;
        });
        this.journal = await openAppendNoFollow(journal, 'journal');
        this.journalPath = journal;
        this.journalBytes = 0;
      }
    } else if (!this.journal) {
      for (const stale of [journal, this.nextJournalPath]) {
        await truncateNoFollow(stale, 'journal').catch((error: unknown) => {
          if (errnoCode(error) !== 'ENOENT') throw error;
        });
      }
      this.journalBytes = 0;
    }
    await folded?.close().catch(() => undefined);
  }

  /** Runs `task` after every write queued before it. A task that fails stops the queue: later writes fail with it. */
  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task);
    this.queue = run.then(() => undefined);
    // The caller handles the failure; the queue only carries it to later writes.
    this.queue.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.checkpoint();
    } finally {
      await this.journal?.close().catch(() => undefined);
      await this.lock.release();
    }
  }

  /**
   * Group commit: a durable write waits for a datasync that starts after it was written; writers
   * arriving while one sync runs share the next one, so concurrent intents cost one fsync, not one each.
   */
  private groupSync(): Promise<void> {
    if (this.pendingSync) return this.pendingSync;
    const sync = async () => {
      await this.runningSync?.catch(() => undefined);
      this.pendingSync = undefined;
      const journal = this.journal;
      if (!journal) return;
      const started = performance.now();
      const running = journal.datasync();
      this.runningSync = running;
      try {
        await running;
        this.stats.syncs += 1;
        if (await this.journalGone(journal)) await this.reopenJournal();
      } catch (error) {
        throw writeError(this.path, error);
      } finally {
        if (this.runningSync === running) this.runningSync = undefined;
        this.stats.writeMs += performance.now() - started;
      }
    };
    this.pendingSync = sync();
    return this.pendingSync;
  }

  /** Whether the journal this handle writes was deleted or replaced: its lines would reach no file a resume reads. */
  private async journalGone(journal: FileHandle): Promise<boolean> {
    // Switched by a checkpoint meanwhile: that switch synced this handle, and its lines are folded.
    if (journal !== this.journal) return false;
    const [mine, ...there] = await Promise.all([journal.stat(), ...[`${this.path}.journal`, this.nextJournalPath].map((file) => lstat(file).catch(() => undefined))]);
    return !there.some((file) => file !== undefined && file.ino === mine.ino && file.dev === mine.dev);
  }

  /**
   * A checkpoint holds every event applied so far, so the writes the lost journal took are durable
   * again before any caller is told so; it also leaves a journal file in place for the lines that follow.
   */
  private async reopenJournal(): Promise<void> {
    if (this.journalPath !== this.nextJournalPath) {
      // The handle writes to a file that is gone: the checkpoint's switch must not fold it, only replace it.
      await this.enqueue(async () => {
        const lost = this.journal;
        this.journal = await openAppendNoFollow(this.nextJournalPath, 'journal');
        this.journalPath = this.nextJournalPath;
        this.journalBytes = 0;
        await lost?.close().catch(() => undefined);
      });
    }
    await this.checkpoint();
    this.stats.journalsReopened += 1;
  }

  private append(event: JournalEvent, durable: boolean): Promise<void> {
    const line = Buffer.from(`${JSON.stringify(event)}\n`, 'utf8');
    const run = async () => {
      if (this.broken) throw this.broken;
      if (!this.journal) return;
      const started = performance.now();
      try {
        await writeAll(this.journal, line);
        this.journalBytes += line.length;
        this.stats.journalWrites += 1;
      } catch (error) {
        // A line cut short must stay the journal's last: later lines after it would make it a corrupt middle line.
        this.broken = writeError(this.path, error);
        await this.journal.truncate(this.journalBytes).catch(() => undefined);
        throw this.broken;
      } finally {
        this.stats.writeMs += performance.now() - started;
      }
      this.eventsSinceCheckpoint += 1;
    };
    this.queue = this.queue.then(run);
    const written = durable ? this.queue.then(() => this.groupSync()) : this.queue;
    // Checkpoint when the journal is long (5,000 lines) or old (5 s), but no more often than 20x the
    // last checkpoint's cost: at a million items one costs seconds, and back-to-back checkpoints
    // would take the CPU from the run (the journal replays in a blink instead).
    const elapsed = Date.now() - this.lastCheckpointAt;
    const due = this.eventsSinceCheckpoint > 0 && elapsed > 20 * this.lastCheckpointMs && (this.eventsSinceCheckpoint >= 5000 || elapsed > 5000);
    // One background checkpoint at a time: writes made while one waits in the queue must not each add another.
    if (due && !this.checkpointQueued) {
      this.checkpointQueued = true;
      void this.checkpoint()
        .catch(() => undefined)
        .finally(() => {
          this.checkpointQueued = false;
        });
    }
    return written;
  }
}

/** Writes every byte or throws: a short write (a filling disk) is an error, never a silent half line. */
async function writeAll(handle: FileHandle, bytes: Buffer): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
    if (bytesWritten <= 0) throw Object.assign(new Error('short write: no space left'), { code: 'ENOSPC' });
    offset += bytesWritten;
  }
}

function writeError(path: string, error: unknown): TlmError {
  if (error instanceof TlmError) return error;
  const code = errnoCode(error) ?? 'error';
  const fix = code === 'ENOSPC' ? 'free disk space and resume (the last checkpoint is intact)' : 'check the folder is writable and resume';
  return new StateFileError('state_write_failed', `cannot write state file ${path} (${code}): ${fix}`, { cause: error });
}

export async function stateExists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
