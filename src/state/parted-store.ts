import { mkdir, readFile, readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { StateFileError, errnoCode } from '../errors.js';
import { writeFileAtomic } from './atomic.js';
import { BLANK_ITEM, applyEvent, type JournalEvent } from './events.js';
import { CheckpointCadence, JournalWriter, NEXT_JOURNAL, readJournalEvents, writeError, type StoreStats } from './journal.js';
import type { RunStore } from './contract.js';
import { acquireLock, type StateLock } from './lock.js';
import {
  PART_SIZE,
  checkManifest,
  compareUris,
  isPartsManifest,
  manifestText,
  parsePartFileName,
  partFileName,
  partPath,
  partText,
  partsFolder,
  readPart,
  type PartEntry,
  type PartsManifest,
} from './parts.js';
import { closeAbandonedRuns } from './runs.js';
import { refuseUnsafePath } from './safe-file.js';
import { checkIdentity, checkStateShape, parseWhole, stateMissing, type StateIdentity } from './store.js';
import { STATE_VERSION, type HistoryEntry, type ItemState, type ItemStatus, type RunRecord, type StateFile } from './types.js';

/** Where a checkpoint is, for tests that stop it there (a kill -9 at that point leaves what is on disk then). */
export type CheckpointPoint = 'switched' | 'part-written' | 'manifest-written' | 'journal-retired';

export interface PartedStoreOptions {
  /** Items per part (default 10,000); a part is split past twice as many. */
  partSize?: number;
  /** Called (and awaited) at each point of a checkpoint. For tests. */
  pause?: (point: CheckpointPoint) => Promise<void> | void;
}

/** What the store tells of a part: its id, URI range, whether it is in memory and has changes not yet in a part file, and what the manifest lists. */
export interface PartSummary {
  id: number;
  first: string;
  last: string;
  loaded: boolean;
  dirty: boolean;
  /** The manifest's entry as of the last checkpoint that wrote this part; undefined for a part not written yet. */
  written: PartEntry | undefined;
}

interface Part {
  id: number;
  /** Routing: a URI goes to the part with the greatest `first` at or below it. */
  first: string;
  /** The greatest URI the part holds (in its file or in memory): past it, the part does not hold a URI. */
  last: string;
  written: PartEntry | undefined;
  items: Map<string, ItemState> | undefined;
  loading: Promise<void> | undefined;
  /** Changes to the part while it is not loaded, folded per item, laid over its file when it is. */
  patches: Map<string, Partial<ItemState>>;
  /** Bumped at each change; `written` holds every change up to `writtenChanges`. */
  changes: number;
  writtenChanges: number;
}

const isDirty = (part: Part): boolean => part.changes !== part.writtenChanges;

/**
 * The writer of a state in parts (`parts.ts`), with `StateStore`'s guarantees: one lock, the same
 * journal (`JournalWriter`: the same events, group-commit fsyncs, the switch to `.journal.next`),
 * a crash at any point leaving a manifest whose parts exist plus journals whose replay gives the
 * state. It holds in memory the header, the parts loaded (`loadPart`), and the changes to parts
 * not loaded (journal replay on open, or `setItem` since): never the whole state. A checkpoint
 * writes only the parts changed since the last one (each to a new file), then the manifest: its
 * cost follows the changed parts, not the size of the state.
 */
export class PartedStore implements RunStore {
  readonly stats: StoreStats = { journalWrites: 0, syncs: 0, checkpoints: 0, writeMs: 0, journalsReopened: 0 };
  /** What the last checkpoint wrote: parts, their items, and its time. */
  readonly lastCheckpoint = { parts: 0, items: 0, ms: 0 };
  private readonly journal: JournalWriter;
  /** Items per part this store aims at. */
  readonly partSize: number;
  private parts: Part[] = [];
  private nextId = 1;
  private generation = 0;
  /** Part files replaced in memory, deleted once a manifest that no longer names them is durable. */
  private superseded: string[] = [];
  private readonly cadence = new CheckpointCadence();
  private checkpointing: Promise<void> = Promise.resolve();
  private closed = false;
  /** Items kept answering `item()` while their part is not loaded (`hold`): in flight across parts. */
  private readonly resident = new Map<string, ItemState>();
  /** Parts cut from a part that grew past twice the part size, by the id of the part they were cut from. */
  private readonly splitInto = new Map<number, number[]>();

  private constructor(
    readonly path: string,
    private readonly head: StateFile,
    private readonly lock: StateLock,
    private readonly options: PartedStoreOptions,
  ) {
    this.partSize = options.partSize ?? PART_SIZE;
    this.journal = new JournalWriter(path, this.stats, () => this.checkpoint());
  }

  /** Locks, reads the manifest (or creates one) and replays the journal without loading a part. */
  static async open(path: string, identity: StateIdentity & { bucket: string; prefix: string; indexName?: string | undefined }, command: string, tool: string, options: PartedStoreOptions = {}): Promise<PartedStore> {
    for (const [file, what] of [[path, 'state file'], [`${path}.journal`, 'journal'], [`${path}${NEXT_JOURNAL}`, 'journal']] as const) await refuseUnsafePath(file, what);
    const lock = await acquireLock(path, command);
    try {
      const manifest = await readManifest(path);
      const now = new Date().toISOString();
      const { parts = [], ...header } = manifest ?? { ...newHeader(identity, tool, now), parts: [] };
      const store = new PartedStore(path, { ...header, items: {} }, lock, options);
      if (manifest) checkIdentity(store.head, identity, path);
      store.adoptParts(parts);
      await mkdir(partsFolder(path), { recursive: true, mode: 0o700 });
      await store.removeOrphans(parts);
      for (const event of manifest ? await readJournalEvents(path) : []) store.replay(event);
      const closed = closeAbandonedRuns({ ...store.head, items: store.journaledItems() }, now);
      // A new state gets its manifest; a checkpoint cut short (`.journal.next` left) is finished now, so the journal starts empty.
      if (!manifest || (await nonEmpty(`${path}${NEXT_JOURNAL}`))) await store.checkpoint();
      await store.journal.open();
      for (const run of closed) await store.setRun(run);
      return store;
    } catch (error) {
      await lock.release();
      throw error;
    }
  }

  /** Every field of the state but its items. */
  get header(): Readonly<Omit<StateFile, 'items'>> {
    const { items: _none, ...header } = this.head;
    return header;
  }

  get lastPlan(): StateFile['lastPlan'] {
    return this.head.lastPlan;
  }

  get changeCount(): number {
    return this.stats.journalWrites;
  }

  /** The parts in key order. */
  partList(): PartSummary[] {
    return this.parts.map((p) => ({ id: p.id, first: p.first, last: p.last, loaded: p.items !== undefined, dirty: isDirty(p), written: p.written }));
  }

  /** The id of the part that holds `uri`, or would take it; undefined when a new part would. */
  partOf(uri: string): number | undefined {
    return this.locate(uri)?.id;
  }

  /**
   * An item of a loaded part, or undefined when the state does not hold it. Asking for an item of
   * a part not loaded is a mistake of the caller (the answer needs its file): it throws.
   */
  item(uri: string): ItemState | undefined {
    const part = this.locate(uri);
    if (part === undefined || compareUris(uri, part.last) > 0) return undefined;
    if (part.items === undefined) {
      const held = this.resident.get(uri);
      if (held) return held;
      throw new Error(`PartedStore: part ${part.id} of ${this.path}, which holds ${uri}, is not loaded: await loadPart(${part.id}) first`);
    }
    return part.items.get(uri);
  }

  /**
   * Keeps an item answering `item()` (and taking changes) after its part is unloaded: an item set
   * aside or in flight while the run moves on to other parts. Its part must be loaded now.
   */
  hold(uri: string): void {
    const item = this.item(uri);
    if (item) this.resident.set(uri, item);
  }

  /** Ends a `hold`. */
  letGo(uri: string): void {
    this.resident.delete(uri);
  }

  /**
   * A part and every part cut from it since this store opened (a part is never removed, only cut):
   * where an item that was in part `id` is now.
   */
  lineage(id: number): number[] {
    const ids = [id];
    for (let at = 0; at < ids.length; at++) ids.push(...(this.splitInto.get(ids[at] as number) ?? []));
    return ids;
  }

  /** Items per status: from the manifest for parts unchanged since their file, else from the part. */
  async statusCounts(): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    const add = (status: string, n: number) => (counts[status] = (counts[status] ?? 0) + n);
    for (const part of this.parts) {
      if (!part.items && part.patches.size === 0 && part.written) {
        for (const [status, n] of Object.entries(part.written.byStatus)) add(status, n ?? 0);
        continue;
      }
      for await (const [, item] of this.scanPart(part.id)) add(item.status, 1);
    }
    return counts;
  }

  /** How many parts are in memory. */
  get loadedParts(): number {
    return this.parts.reduce((n, p) => n + (p.items ? 1 : 0), 0);
  }

  /** How many items are held. */
  get held(): number {
    return this.resident.size;
  }

  /** The items of one part as they stand (its file with the changes since laid over it), without loading it; in no set order. */
  async *scanPart(id: number): AsyncGenerator<[string, ItemState]> {
    const part = this.partById(id);
    if (part.items) {
      yield* [...part.items];
      return;
    }
    const patches = new Map(part.patches);
    if (part.written) {
      for await (const [uri, item] of readPart(this.path, part.written.file)) {
        const patch = patches.get(uri);
        patches.delete(uri);
        yield [uri, patch ? ({ ...item, ...patch } as ItemState) : item];
      }
    }
    for (const [uri, patch] of patches) yield [uri, { ...BLANK_ITEM, ...patch } as ItemState];
  }

  /** Every item, part by part in key order, a part at a time: what a walk of the whole state costs is one part in memory. */
  async *scan(): AsyncGenerator<[string, ItemState]> {
    for (const { id } of this.partList()) yield* this.scanPart(id);
  }

  /** Checkpoints if need be, then unloads every loaded part but `keep` (a part changed meanwhile stays for the next call). */
  async release(keep: ReadonlySet<number> = new Set()): Promise<void> {
    const going = this.parts.filter((p) => p.items !== undefined && !keep.has(p.id));
    if (going.some(isDirty)) await this.checkpoint();
    for (const part of going) if (part.items && !isDirty(part) && !part.loading) this.drop(part);
  }

  /** The items of the loaded parts, part by part in key order (within a part: its file's order, then items new since). */
  *loadedItems(): IterableIterator<[string, ItemState]> {
    for (const part of this.parts) if (part.items) yield* part.items;
  }

  /** Reads a part into memory, with the changes recorded since its file was written laid over it. */
  async loadPart(id: number): Promise<void> {
    const part = this.partById(id);
    if (part.items) return;
    part.loading ??= this.readInto(part).finally(() => (part.loading = undefined));
    await part.loading;
  }

  /** Drops a part from memory; refused while it has changes no checkpoint has written yet. */
  unloadPart(id: number): void {
    const part = this.partById(id);
    if (isDirty(part) || part.loading) throw new Error(`PartedStore: part ${id} of ${this.path} has changes not in its file yet: checkpoint before unloading it`);
    this.drop(part);
  }

  /** Unloads a part, keeping its held items answering from memory. */
  private drop(part: Part): void {
    for (const [uri, item] of part.items ?? []) if (this.resident.has(uri)) this.resident.set(uri, item);
    part.items = undefined;
  }

  /** Records a change; with `durable`, resolves only once it is on disk. The item's part need not be loaded. */
  setItem(uri: string, patch: Partial<ItemState>, options: { durable?: boolean } = {}): Promise<void> {
    const event: JournalEvent = { i: uri, s: { ...patch, updatedAt: patch.updatedAt ?? new Date().toISOString() } };
    this.applyItem(event.i, event.s);
    return this.append(event, options.durable ?? false);
  }

  setRun(run: RunRecord, options: { durable?: boolean } = {}): Promise<void> {
    return this.record({ r: structuredClone(run) }, options.durable ?? true);
  }

  setLastPlan(plan: NonNullable<StateFile['lastPlan']>): Promise<void> {
    return this.record({ p: plan }, true);
  }

  addHistory(entry: HistoryEntry): Promise<void> {
    return this.record({ h: { ...entry } }, true);
  }

  /** Drops a run from the history (one that had nothing to do), then checkpoints so its journal entry goes too. */
  forgetRun(runId: string): Promise<void> {
    this.head.runs = this.head.runs.filter((r) => r.runId !== runId);
    return this.checkpoint();
  }

  /**
   * Switches the journal to `.journal.next` (appends never wait), writes each part changed since
   * the last checkpoint to a new file (temp, fsync, rename), then the manifest that names them,
   * then retires the folded journal, then deletes the part files the manifest no longer names.
   */
  checkpoint(): Promise<void> {
    const next = this.checkpointing.catch(() => undefined).then(() => this.writeCheckpoint());
    this.checkpointing = next;
    return next;
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

  private async writeCheckpoint(): Promise<void> {
    const started = performance.now();
    const folded = await this.journal.switch();
    await this.options.pause?.('switched');
    const generation = ++this.generation;
    const written = { parts: 0, items: 0 };
    for (const part of this.parts.filter(isDirty)) {
      const pieces = await this.writePart(part, generation);
      written.parts += pieces.length;
      written.items += pieces.reduce((n, p) => n + p.items, 0);
    }
    this.head.updatedAt = new Date().toISOString();
    const manifest: PartsManifest = { ...this.header, parts: this.parts.flatMap((p) => (p.written ? [p.written] : [])) };
    await writeFileAtomic(this.path, manifestText(manifest), 0o600, 'state file').catch((error: unknown) => {
      throw writeError(this.path, error);
    });
    await this.options.pause?.('manifest-written');
    await this.journal.retire(folded);
    await this.options.pause?.('journal-retired');
    await this.deleteSuperseded();
    const ms = this.cadence.ended(started, this.stats.journalWrites);
    Object.assign(this.lastCheckpoint, written, { ms });
    this.stats.checkpoints += 1;
    this.stats.writeMs += ms;
  }

  /** Writes a changed part (split first when it passed twice the part size) to new files; returns their entries. */
  private async writePart(part: Part, generation: number): Promise<PartEntry[]> {
    const wasLoaded = part.items !== undefined;
    await this.loadPart(part.id);
    const entries: PartEntry[] = [];
    for (const { piece, keys, seen } of this.split(part)) {
      const items = piece.items ?? new Map<string, ItemState>();
      const file = partFileName(this.path, piece.id, generation);
      const byStatus: Partial<Record<ItemStatus, number>> = {};
      // Values are read as they are written: a change made meanwhile may be in the file or not; it is in `.journal.next` either way.
      const lines = function* (): Generator<[string, ItemState]> {
        for (const key of keys) {
          const item = items.get(key) as ItemState;
          byStatus[item.status] = (byStatus[item.status] ?? 0) + 1;
          yield [key, item];
        }
      };
      await writeFileAtomic(partPath(this.path, file), partText(piece.id, lines()), 0o600, 'part file').catch((error: unknown) => {
        throw writeError(this.path, error);
      });
      if (piece.written) this.superseded.push(piece.written.file);
      piece.written = { file, first: keys[0] as string, last: keys.at(-1) as string, items: keys.length, byStatus };
      piece.writtenChanges = seen;
      entries.push(piece.written);
      if (!wasLoaded && !isDirty(piece)) this.drop(piece);
      await this.options.pause?.('part-written');
    }
    return entries;
  }

  /** A loaded part's keys in order, cut into new parts of about the part size when it holds more than twice that. Synchronous: no change lands between the cut and the routing that follows it. */
  private split(part: Part): Array<{ piece: Part; keys: string[]; seen: number }> {
    const items = part.items ?? new Map<string, ItemState>();
    const keys = [...items.keys()].sort(compareUris);
    if (keys.length <= 2 * this.partSize) return [{ piece: part, keys, seen: part.changes }];
    const count = Math.ceil(keys.length / this.partSize);
    const size = Math.ceil(keys.length / count);
    const cuts: Array<{ piece: Part; keys: string[]; seen: number }> = [];
    for (let at = 0; at < keys.length; at += size) {
      const slice = keys.slice(at, at + size);
      if (at === 0) {
        part.last = slice.at(-1) as string;
        cuts.push({ piece: part, keys: slice, seen: part.changes });
        continue;
      }
      const piece = this.newPart(slice[0] as string, this.parts.indexOf(part) + cuts.length);
      this.splitInto.set(part.id, [...(this.splitInto.get(part.id) ?? []), piece.id]);
      piece.last = slice.at(-1) as string;
      for (const key of slice) {
        piece.items?.set(key, items.get(key) as ItemState);
        items.delete(key);
      }
      cuts.push({ piece, keys: slice, seen: piece.changes });
    }
    return cuts;
  }

  private async deleteSuperseded(): Promise<void> {
    const files = this.superseded;
    this.superseded = [];
    // A file left behind (a crash, a refusal) is an orphan: the next open removes it.
    await Promise.all(files.map((file) => unlink(partPath(this.path, file)).catch(() => undefined)));
  }

  private async readInto(part: Part): Promise<void> {
    const items = new Map<string, ItemState>();
    if (part.written) for await (const [uri, item] of readPart(this.path, part.written.file)) items.set(uri, item);
    for (const [uri, patch] of part.patches) items.set(uri, { ...(items.get(uri) ?? BLANK_ITEM), ...patch } as ItemState);
    part.patches = new Map();
    part.items = items;
  }

  private applyItem(uri: string, patch: Partial<ItemState>): void {
    const part = this.route(uri);
    if (compareUris(uri, part.last) > 0) part.last = uri;
    if (part.items) part.items.set(uri, { ...(part.items.get(uri) ?? BLANK_ITEM), ...patch } as ItemState);
    else part.patches.set(uri, { ...part.patches.get(uri), ...patch });
    part.changes += 1;
    const held = this.resident.get(uri);
    if (held) this.resident.set(uri, part.items?.get(uri) ?? ({ ...held, ...patch } as ItemState));
  }

  private replay(event: JournalEvent): void {
    if ('i' in event) this.applyItem(event.i, event.s);
    else applyEvent(this.head, event);
  }

  private record(event: JournalEvent, durable: boolean): Promise<void> {
    applyEvent(this.head, event);
    return this.append(event, durable);
  }

  private append(event: JournalEvent, durable: boolean): Promise<void> {
    const written = this.journal.append(event, durable);
    this.cadence.afterAppend(this.stats.journalWrites, () => this.checkpoint());
    return written;
  }

  /** The part holding `uri` (the greatest `first` at or below it), without changing a range; undefined below the first part or past a full last one. */
  private locate(uri: string): Part | undefined {
    let low = 0;
    let high = this.parts.length - 1;
    let found: Part | undefined;
    while (low <= high) {
      const middle = (low + high) >> 1;
      const part = this.parts[middle] as Part;
      if (compareUris(part.first, uri) <= 0) {
        found = part;
        low = middle + 1;
      } else high = middle - 1;
    }
    if (found === undefined || (found === this.parts.at(-1) && this.isFull(found) && compareUris(uri, found.last) > 0)) return undefined;
    return found;
  }

  /** The part a change to `uri` goes to: its holder, the first part (widened down), or a new last part. */
  private route(uri: string): Part {
    const part = this.locate(uri);
    if (part) return part;
    const head = this.parts[0];
    if (head && compareUris(uri, head.first) < 0) {
      head.first = uri;
      return head;
    }
    return this.newPart(uri, this.parts.length);
  }

  private isFull(part: Part): boolean {
    return (part.items?.size ?? (part.written?.items ?? 0) + part.patches.size) >= this.partSize;
  }

  private newPart(first: string, at: number): Part {
    const part: Part = { id: this.nextId++, first, last: first, written: undefined, items: new Map(), loading: undefined, patches: new Map(), changes: 1, writtenChanges: 0 };
    this.parts.splice(at, 0, part);
    return part;
  }

  private partById(id: number): Part {
    const part = this.parts.find((p) => p.id === id);
    if (!part) throw new Error(`PartedStore: ${this.path} has no part ${id}`);
    return part;
  }

  private adoptParts(entries: PartEntry[]): void {
    for (const entry of entries) {
      const { id, generation } = parsePartFileName(entry.file) ?? { id: this.nextId, generation: 0 };
      this.parts.push({ id, first: entry.first, last: entry.last, written: entry, items: undefined, loading: undefined, patches: new Map(), changes: 0, writtenChanges: 0 });
      this.nextId = Math.max(this.nextId, id + 1);
      this.generation = Math.max(this.generation, generation);
    }
  }

  /** Part files and temp files in the parts folder that the manifest does not name: left by a checkpoint cut short. */
  private async removeOrphans(entries: PartEntry[]): Promise<void> {
    const named = new Set(entries.map((e) => e.file.slice(e.file.lastIndexOf('/') + 1)));
    const folder = partsFolder(this.path);
    for (const name of await readdir(folder)) {
      const ours = parsePartFileName(name) !== undefined || (name.startsWith('.') && name.endsWith('.tmp'));
      if (ours && !named.has(name)) await unlink(join(folder, name)).catch(() => undefined);
    }
  }

  /** The items the journal changed, as far as it tells them: for closing a killed run without reading every part. */
  private journaledItems(): Record<string, ItemState> {
    const items: Record<string, ItemState> = {};
    for (const part of this.parts) {
      for (const [uri, patch] of part.patches) items[uri] = { ...BLANK_ITEM, ...patch } as ItemState;
      for (const [uri, item] of part.items ?? []) items[uri] = item;
    }
    return items;
  }
}

/** A parted state's manifest, checked; undefined when there is no state. A one-file state is refused: converting one comes with apply's wiring. */
export async function readManifest(path: string): Promise<PartsManifest | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    return stateMissing(path, error);
  }
  const parsed: unknown = parseWhole(text, path);
  if (!isPartsManifest(parsed)) {
    checkStateShape(parsed, path);
    throw new StateFileError('state_not_parted', `state file ${path} is one file, not a state in parts: open it with StateStore`);
  }
  checkManifest(parsed, path);
  return parsed;
}

function newHeader(identity: StateIdentity & { bucket: string; prefix: string; indexName?: string | undefined }, tool: string, now: string): Omit<StateFile, 'items'> {
  return { version: STATE_VERSION, tool, source: { uri: identity.uri, bucket: identity.bucket, prefix: identity.prefix }, indexId: identity.indexId, indexName: identity.indexName, createdAt: now, updatedAt: now, runs: [] };
}

async function nonEmpty(file: string): Promise<boolean> {
  try {
    return (await stat(file)).size > 0;
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return false;
    throw error;
  }
}
