import { lstat, open } from 'node:fs/promises';
import { StateFileError } from '../errors.js';
import { BLANK_ITEM, applyEvent } from './events.js';
import { readJournalEvents } from './journal.js';
import { checkManifest, compareUris, isPartsManifest, readPart, type PartEntry } from './parts.js';
import { checkStateShape, parseWhole, stateMissing } from './store.js';
import type { ItemState, StateFile } from './types.js';
import type { StateHeader, StateView } from './view.js';

/** Times the manifest may be replaced under a reader (a checkpoint each time) before it gives up. */
const REREADS = 10;

/** A manifest and the journal's changes since it was written, read as one. */
interface Snapshot {
  header: StateHeader;
  parts: PartEntry[];
  /** Each item's fields changed since the checkpoint, folded in journal order. */
  changes: Map<string, Partial<ItemState>>;
  /** The changed URIs in key order, merged into the parts' items as they stream. */
  keys: string[];
}

/**
 * A state in parts opened for reading: the manifest and the journal in memory, each part's items
 * streamed in key order with the journal's changes laid over them, the items only the journal
 * holds merged in at their place. A part file removed by a checkpoint meanwhile (a run going on)
 * makes the view read the manifest and journal anew and go on after the last item it gave.
 */
export async function openPartedView(path: string): Promise<StateView | undefined> {
  const snapshot = await readSnapshot(path);
  return snapshot && new PartedView(path, snapshot);
}

/**
 * The manifest, then the journal, then a check that the manifest read is still the one in place:
 * else a checkpoint replaced it (and may have retired journal lines its parts did not hold), and
 * both are read again. A manifest is never rewritten in place, only renamed over.
 */
async function readSnapshot(path: string): Promise<Snapshot | undefined> {
  for (let attempt = 0; attempt < REREADS; attempt++) {
    let handle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      return stateMissing(path, error);
    }
    try {
      const text = await handle.readFile('utf8');
      const events = await readJournalEvents(path);
      const [read, now] = await Promise.all([handle.stat(), lstat(path).catch(() => undefined)]);
      if (now?.ino !== read.ino || now.dev !== read.dev) continue;
      const manifest: unknown = parseWhole(text, path);
      if (!isPartsManifest(manifest)) {
        checkStateShape(manifest, path);
        throw new StateFileError('state_corrupt', `state file ${path} changed from parts to one file while it was read: read it again`);
      }
      checkManifest(manifest, path);
      const { parts, ...fields } = manifest;
      const head: StateFile = { ...fields, items: {} };
      const changes = new Map<string, Partial<ItemState>>();
      for (const event of events) {
        if ('i' in event) changes.set(event.i, { ...changes.get(event.i), ...event.s });
        else applyEvent(head, event);
      }
      const { items: _none, ...header } = head;
      return { header, parts, changes, keys: [...changes.keys()].sort(compareUris) };
    } finally {
      await handle.close();
    }
  }
  throw new StateFileError('state_busy', `state file ${path} was replaced ${REREADS} times while it was read (a run checkpointing fast): try again`);
}

class PartedView implements StateView {
  readonly header: StateHeader;

  constructor(
    readonly path: string,
    private snapshot: Snapshot,
  ) {
    this.header = snapshot.header;
  }

  async *items(): AsyncGenerator<[string, ItemState]> {
    let after: string | undefined;
    for (let attempt = 0; ; attempt++) {
      try {
        for await (const entry of merged(this.path, this.snapshot, after)) {
          after = entry[0];
          yield entry;
        }
        return;
      } catch (error) {
        if (!(error instanceof StateFileError) || error.code !== 'state_part_missing' || attempt >= REREADS) throw error;
        const snapshot = await readSnapshot(this.path);
        if (!snapshot) throw error;
        this.snapshot = snapshot;
      }
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** The parts' items in key order with the changes laid over them, from the first URI past `after`. */
async function* merged(path: string, { parts, changes, keys }: Snapshot, after: string | undefined): AsyncGenerator<[string, ItemState]> {
  const past = (uri: string) => after === undefined || compareUris(uri, after) > 0;
  let next = 0;
  while (next < keys.length && !past(keys[next] as string)) next++;
  const changed = (uri: string): [string, ItemState] => [uri, { ...BLANK_ITEM, ...changes.get(uri) } as ItemState];
  for (const part of parts) {
    if (!past(part.last)) continue;
    for await (const [uri, item] of readPart(path, part.file)) {
      if (!past(uri)) continue;
      for (; next < keys.length && compareUris(keys[next] as string, uri) < 0; next++) yield changed(keys[next] as string);
      const change = changes.get(uri);
      if (change && keys[next] === uri) next++;
      yield [uri, change ? ({ ...item, ...change } as ItemState) : item];
    }
  }
  for (; next < keys.length; next++) yield changed(keys[next] as string);
}
