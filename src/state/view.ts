import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import { StateFileError } from '../errors.js';
import { BLANK_ITEM, applyEvent, type JournalEvent } from './events.js';
import { openPartedView } from './parted-view.js';
import { isPartsManifest } from './parts.js';
import { statePieces } from './state-file.js';
import type { LedgerEntry } from '../planner/index.js';
import { checkIdentity, checkStateShape, parseWhole, readJournalEvents, stateMissing, type StateIdentity } from './store.js';
import type { ItemState, StateFile } from './types.js';

/** Every field of a state but its items, the journal applied (runs, last plan, history). */
export type StateHeader = Omit<StateFile, 'items'>;

/**
 * A state read without holding its items: the header in memory, the items streamed from the file
 * each time they are asked for, with the changes its journal recorded since laid over them. What
 * it holds grows with the journal (the changes since the last checkpoint), not with the state.
 * For the commands that only read a state (status, logs, report); `StateStore` is the one writer.
 */
export interface StateView {
  readonly path: string;
  readonly header: StateHeader;
  /** Every item with its source URI, in the state's order: one file's (checkpoint first, then items only the journal holds), or key order for a state in parts. */
  items(): AsyncGenerator<[string, ItemState]>;
  close(): Promise<void>;
}

/**
 * Opens a state for reading, in one file or in parts (`parted-view.ts`): undefined when there is
 * none. The checkpoint is opened before the
 * journal is read, and its items are read from that open file: a checkpoint written meanwhile (a
 * run going on) cannot lay an older journal over newer items, as `loadState` reads them too.
 */
export async function openStateView(path: string, seam: { afterOpen?: () => Promise<void> } = {}): Promise<StateView | undefined> {
  // A checkpoint that replaced the file and retired its journal between our open and our read of
  // the journal would leave us an older checkpoint without the lines it folded: open again.
  for (let attempt = 1; ; attempt++) {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      return stateMissing(path, error);
    }
    try {
      // Tests run a checkpoint here, the moment the reopen is for.
      await seam.afterOpen?.();
      const events = await readJournalEvents(path);
      if (attempt < 5 && (await replaced(handle, path))) {
        await handle.close();
        continue;
      }
      return await viewOf(path, handle, events);
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error;
    }
  }
}

/** Whether the file at `path` is no longer the one `handle` has open (a checkpoint renamed a new one over it). */
async function replaced(handle: FileHandle, path: string): Promise<boolean> {
  const [mine, there] = await Promise.all([handle.stat(), stat(path).catch(() => undefined)]);
  return there === undefined || there.ino !== mine.ino || there.dev !== mine.dev;
}

async function viewOf(path: string, handle: FileHandle, events: JournalEvent[]): Promise<StateView | undefined> {
  const head = await readHead(handle);
  if (head === undefined) {
    // Another layout (an older tlmigrate's single line, a reformatted file, a manifest of parts): small by nature, read whole.
    const whole: unknown = parseWhole(await readFile(path, 'utf8'), path);
    if (isPartsManifest(whole)) {
      await handle.close();
      return openPartedView(path);
    }
    checkStateShape(whole, path);
    for (const event of events) applyEvent(whole, event);
    await handle.close();
    return wholeView(path, whole);
  }
  await checkHead(head, path, handle);
  const changes = new Map<string, Partial<ItemState>>();
  for (const event of events) {
    if ('i' in event) changes.set(event.i, { ...changes.get(event.i), ...event.s });
    else applyEvent(head, event);
  }
  const { items: _none, ...header } = head;
  return new FileView(path, header, changes, handle);
}

/**
 * Refuses a head that is not a state's as `loadState` does: a file that is not JSON at all (a
 * first line that happens to parse, then nothing) is named corrupt, not foreign. A large foreign
 * file is not read whole for that.
 */
async function checkHead(head: StateFile, path: string, handle: FileHandle): Promise<void> {
  try {
    checkStateShape(head, path);
  } catch (error) {
    if ((await handle.stat()).size <= 64 * 1024 * 1024) parseWhole(await readFile(path, 'utf8'), path);
    throw error;
  }
}

/**
 * The file's bytes from its start, 1 MiB at a time, by positioned reads on the open handle, which
 * stays open (a read stream on it would close it when its reader stops early).
 */
async function* textOf(handle: FileHandle): AsyncGenerator<Buffer> {
  for (let position = 0; ; ) {
    const { bytesRead, buffer } = await handle.read(Buffer.allocUnsafe(1 << 20), 0, 1 << 20, position);
    if (bytesRead === 0) return;
    position += bytesRead;
    yield buffer.subarray(0, bytesRead);
  }
}

async function readHead(handle: FileHandle): Promise<StateFile | undefined> {
  for await (const piece of statePieces(textOf(handle))) return piece.kind === 'head' ? piece.head : undefined;
  return undefined;
}

class FileView implements StateView {
  constructor(
    readonly path: string,
    readonly header: StateHeader,
    /** Each item's fields changed since the checkpoint, folded in journal order. */
    private readonly changes: Map<string, Partial<ItemState>>,
    private readonly handle: FileHandle,
  ) {}

  async *items(): AsyncGenerator<[string, ItemState]> {
    const changed = new Set<string>();
    for await (const piece of statePieces(textOf(this.handle))) {
      if (piece.kind === 'other') {
        throw new StateFileError('state_corrupt', `state file ${this.path} ends before its last item (cut short, or not tlmigrate's layout): restore it from a backup or pass another --state`);
      }
      if (piece.kind !== 'items') continue;
      for (const uri in piece.items) {
        const item = piece.items[uri] as ItemState;
        const change = this.changes.get(uri);
        if (change) changed.add(uri);
        yield [uri, change ? { ...item, ...change } : item];
      }
    }
    for (const [uri, change] of this.changes) if (!changed.has(uri)) yield [uri, { ...BLANK_ITEM, ...change }];
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

function wholeView(path: string, state: StateFile): StateView {
  const { items, ...header } = state;
  return {
    path,
    header,
    async *items() {
      yield* Object.entries(items);
    },
    close: () => Promise.resolve(),
  };
}

/** What earlier runs created, for the planner: read from the state each time it is iterated. */
export interface Ledger extends AsyncIterable<LedgerEntry> {
  close(): Promise<void>;
}

/**
 * What earlier runs created, for the planner: the state's items streamed from its file with the
 * journal laid over them (`openStateView`) each time the ledger is iterated, never held whole;
 * empty when there is no state. The state's identity is checked at once. Close it when done.
 */
export async function readLedger(path: string, identity: StateIdentity): Promise<Ledger> {
  const view = await openStateView(path);
  if (!view) return { [Symbol.asyncIterator]: async function* () {}, close: () => Promise.resolve() };
  try {
    checkIdentity({ ...view.header, items: {} }, identity, path);
  } catch (error) {
    await view.close();
    throw error;
  }
  return {
    [Symbol.asyncIterator]: async function* () {
      for await (const [uri, item] of view.items()) {
        yield { uri, size: item.size, etag: item.etag, status: item.status, taskId: item.taskId, videoId: item.videoId, errorCode: item.lastError?.code };
      }
    },
    close: () => view.close(),
  };
}
