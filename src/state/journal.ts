import { lstat, readFile, rename, type FileHandle } from 'node:fs/promises';
import { StateFileError, TlmError, errnoCode } from '../errors.js';
import { isJournalEvent, type JournalEvent } from './events.js';
import { openAppendNoFollow, truncateNoFollow } from './safe-file.js';

/** Where appends go while a checkpoint is written; renamed over the journal once the checkpoint is in place. */
export const NEXT_JOURNAL = '.journal.next';

export interface StoreStats {
  journalWrites: number;
  syncs: number;
  checkpoints: number;
  writeMs: number;
  /** Times the journal was found deleted or replaced under the run, and made anew after a checkpoint. */
  journalsReopened: number;
}

/**
 * The journal's text; empty when there is none. A checkpoint cut short leaves the lines written
 * while it ran in `.journal.next`: they follow the journal's own, in the order they were written.
 */
export async function readJournal(path: string): Promise<string> {
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

/**
 * The journal of a state, as its one writer appends to it: one queue of writes, group-commit
 * fsyncs for durable lines, the switch to `.journal.next` a checkpoint starts with and the rename
 * back it ends with. Shared by the one-file `StateStore` and the `PartedStore`; `refold` is the
 * store's checkpoint, run when the journal was found deleted under the run.
 */
export class JournalWriter {
  private handle: FileHandle | undefined;
  private queue: Promise<void> = Promise.resolve();
  private pendingSync: Promise<void> | undefined;
  private runningSync: Promise<void> | undefined;
  /** Bytes of whole lines in the journal since the last checkpoint. */
  private bytes = 0;
  /** Set by a failed append: nothing more is appended, so no intent can be recorded after a cut line. */
  private broken: TlmError | undefined;
  /** The file appends go to: the journal, or `.journal.next` while a checkpoint is written. */
  private current = '';
  /** Lines waiting for their write, still taking more (until their turn in the queue comes). */
  private batch: Batch | undefined;

  constructor(
    private readonly statePath: string,
    private readonly stats: StoreStats,
    private readonly refold: () => Promise<void>,
  ) {}

  private get mainPath(): string {
    return `${this.statePath}.journal`;
  }

  private get nextPath(): string {
    return `${this.statePath}${NEXT_JOURNAL}`;
  }

  /** Starts appending to the journal. */
  async open(): Promise<void> {
    this.handle = await openAppendNoFollow(this.mainPath, 'journal');
    this.current = this.mainPath;
  }

  async close(): Promise<void> {
    await this.handle?.close().catch(() => undefined);
  }

  /** Runs `task` after every write queued before it. A task that fails stops the queue: later writes fail with it. */
  enqueue<T>(task: () => Promise<T>): Promise<T> {
    // Lines appended after this task go after it: the batch before it takes no more.
    this.batch = undefined;
    const run = this.queue.then(task);
    this.queue = run.then(() => undefined);
    // The caller handles the failure; the queue only carries it to later writes.
    this.queue.catch(() => undefined);
    return run;
  }

  /** In the queue: later lines go to `.journal.next`; returns the handle they no longer go to (synced). */
  switch(): Promise<FileHandle | undefined> {
    return this.enqueue(async () => {
      // No journal open yet (opening, closed), or already switched by a checkpoint that failed: nothing to switch.
      if (!this.handle || this.current === this.nextPath) return undefined;
      const folded = this.handle;
      await folded.datasync();
      this.handle = await openAppendNoFollow(this.nextPath, 'journal');
      this.current = this.nextPath;
      this.bytes = 0;
      return folded;
    });
  }

  /** In the queue, once the checkpoint holds every line of the journal: that journal goes. */
  retire(folded: FileHandle | undefined): Promise<void> {
    return this.enqueue(() => this.retireFolded(folded)).catch((error: unknown) => {
      throw writeError(this.statePath, error);
    });
  }

  private async retireFolded(folded: FileHandle | undefined): Promise<void> {
    const journal = this.mainPath;
    if (this.current === this.nextPath) {
      try {
        await rename(this.nextPath, journal);
        this.current = journal;
      } catch (error) {
        if (errnoCode(error) !== 'ENOENT') throw error;
        // `.journal.next` was deleted under us: the checkpoint holds its lines; start the journal afresh.
        await this.handle?.close().catch(() => undefined);
        await truncateNoFollow(journal, 'journal').catch((e: unknown) => {
          if (errnoCode(e) !== 'ENOENT') throw e;
        });
        this.handle = await openAppendNoFollow(journal, 'journal');
        this.current = journal;
        this.bytes = 0;
      }
    } else if (!this.handle) {
      for (const stale of [journal, this.nextPath]) {
        await truncateNoFollow(stale, 'journal').catch((error: unknown) => {
          if (errnoCode(error) !== 'ENOENT') throw error;
        });
      }
      this.bytes = 0;
    }
    await folded?.close().catch(() => undefined);
  }

  /**
   * Appends one event; resolves once it is written, with `durable` once a datasync that started
   * after the write is done. Lines appended while the queue is busy join one batch, written at once
   * when its turn comes (in order: a task queued after a line, such as a checkpoint's switch, runs
   * after it): a merge of a million items is not a million writes.
   */
  append(event: JournalEvent, durable: boolean): Promise<void> {
    const line = Buffer.from(`${JSON.stringify(event)}\n`, 'utf8');
    const batch = this.batch ?? this.openBatch();
    batch.lines.push(line);
    return durable ? batch.written.then(() => this.groupSync()) : batch.written;
  }

  private openBatch(): Batch {
    const lines: Buffer[] = [];
    const run = async () => {
      // Its turn: lines appended from now on go to the next batch.
      if (this.batch === batch) this.batch = undefined;
      if (this.broken) throw this.broken;
      if (!this.handle) return;
      const started = performance.now();
      const bytes = lines.length === 1 ? (lines[0] as Buffer) : Buffer.concat(lines);
      try {
        await writeAll(this.handle, bytes);
        this.bytes += bytes.length;
        this.stats.journalWrites += lines.length;
      } catch (error) {
        // A line cut short must stay the journal's last: later lines after it would make it a corrupt middle line.
        this.broken = writeError(this.statePath, error);
        await this.handle.truncate(this.bytes).catch(() => undefined);
        throw this.broken;
      } finally {
        this.stats.writeMs += performance.now() - started;
      }
    };
    const batch: Batch = { lines, written: this.queue.then(run) };
    this.queue = batch.written;
    this.batch = batch;
    return batch;
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
      const journal = this.handle;
      if (!journal) return;
      const started = performance.now();
      const running = journal.datasync();
      this.runningSync = running;
      try {
        await running;
        this.stats.syncs += 1;
        if (await this.journalGone(journal)) await this.reopen();
      } catch (error) {
        throw writeError(this.statePath, error);
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
    if (journal !== this.handle) return false;
    const [mine, ...there] = await Promise.all([journal.stat(), ...[this.mainPath, this.nextPath].map((file) => lstat(file).catch(() => undefined))]);
    return !there.some((file) => file !== undefined && file.ino === mine.ino && file.dev === mine.dev);
  }

  /**
   * A checkpoint holds every event applied so far, so the writes the lost journal took are durable
   * again before any caller is told so; it also leaves a journal file in place for the lines that follow.
   */
  private async reopen(): Promise<void> {
    if (this.current !== this.nextPath) {
      // The handle writes to a file that is gone: the checkpoint's switch must not fold it, only replace it.
      await this.enqueue(async () => {
        const lost = this.handle;
        this.handle = await openAppendNoFollow(this.nextPath, 'journal');
        this.current = this.nextPath;
        this.bytes = 0;
        await lost?.close().catch(() => undefined);
      });
    }
    await this.refold();
    this.stats.journalsReopened += 1;
  }
}

/** Journal lines written together, and the promise of their write. */
interface Batch {
  lines: Buffer[];
  written: Promise<void>;
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

/**
 * When a store folds its journal into a checkpoint: when the journal is long (5,000 lines) or old
 * (5 s), but no more often than 20x the last checkpoint's cost (at a million items one costs
 * seconds, and back-to-back checkpoints would take the CPU from the run; the journal replays in a
 * blink instead), and one background checkpoint at a time (writes made while one waits in the
 * queue must not each add another). Shared by `StateStore` and `PartedStore`.
 */
export class CheckpointCadence {
  private writesAt = 0;
  private endedAt = Date.now();
  /** How long the last checkpoint took. */
  lastMs = 0;
  private queued = false;

  /** After an append (the journal now holds `writes` lines in all): starts `checkpoint` in the background when one is due. */
  afterAppend(writes: number, checkpoint: () => Promise<void>): void {
    const elapsed = Date.now() - this.endedAt;
    const since = writes - this.writesAt;
    const due = since > 0 && elapsed > 20 * this.lastMs && (since >= 5000 || elapsed > 5000);
    if (!due || this.queued) return;
    this.queued = true;
    void checkpoint()
      .catch(() => undefined)
      .finally(() => {
        this.queued = false;
      });
  }

  /** A checkpoint that began at `started` (performance.now()) folded the journal's first `writes` lines. */
  ended(started: number, writes: number): number {
    this.writesAt = writes;
    this.endedAt = Date.now();
    this.lastMs = performance.now() - started;
    return this.lastMs;
  }
}

export function writeError(path: string, error: unknown): TlmError {
  if (error instanceof TlmError) return error;
  const code = errnoCode(error) ?? 'error';
  const fix = code === 'ENOSPC' ? 'free disk space and resume (the last checkpoint is intact)' : 'check the folder is writable and resume';
  return new StateFileError('state_write_failed', `cannot write state file ${path} (${code}): ${fix}`, { cause: error });
}
