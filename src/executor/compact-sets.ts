import { contentKey } from '../planner/index.js';
import { HashTable64 } from '../planner/lookup.js';
import { CREATED_STATUSES, type ItemState } from '../state/index.js';

/**
 * The ids already recorded for an item (tasks, assets, indexed assets, upload sessions): a search
 * never gives one of them to another item. A `Set<string>` is one; a state in parts uses
 * `HashedIds`, whose `has` may need a look at a part to confirm a hash.
 */
export interface IdSet {
  has(id: string): boolean | Promise<boolean>;
  /** `owner`: the source URI the id is recorded for (where a compact set looks to confirm it). */
  add(id: string, owner?: string): unknown;
}

/** Which item owns a content (size + ETag): the first key of a content in plan order, or the one the state records as created. */
export interface ContentOwners {
  /** The URI that owns `key`, as far as known (may be `self`). */
  get(key: string, self: string): Promise<string | undefined>;
  set(key: string, uri: string): void;
}

/** Content owners of a state held in memory: a map. */
export function ownersInMemory(): ContentOwners {
  const map = new Map<string, string>();
  return { get: (key) => Promise.resolve(map.get(key)), set: (key, uri) => void map.set(key, uri) };
}

/** What the compact sets ask of a state in parts: where an item lives, where it may have moved since, and a look at one part. */
export interface PartLookup {
  partOf(uri: string): number | undefined;
  /** The part and the parts cut from it since: a hint stays true across a split. */
  lineage(id: number): number[];
  scanPart(id: number): AsyncIterable<[string, ItemState]>;
}

/** The parts where items hinted at `hints` may be now, each once. */
function partsOf(lookup: PartLookup, hints: number[]): number[] {
  return [...new Set(hints.flatMap((hint) => lookup.lineage(hint)))];
}

/** The ids an item records. */
export function idsOf(item: ItemState): string[] {
  const ids: string[] = [];
  for (const id of [item.taskId, item.assetId, item.indexedAssetId, item.upload?.uploadId]) if (id) ids.push(id);
  return ids;
}

/**
 * Claimed ids of a state in parts: hashes with the part of their item. A hit is confirmed by
 * reading that part (an item there records the id), so a collision costs a look, never a candidate
 * kept from the item it belongs to. Ids added during the run are kept exactly until their item records them.
 */
export class HashedIds implements IdSet {
  readonly table = new HashTable64();
  /** Added this run, owner not yet seen to record it (the gap between a search's find and its commit). */
  private readonly recent = new Map<string, string | undefined>();

  constructor(private readonly parts: PartLookup) {}

  add(id: string, owner?: string): void {
    const part = owner === undefined ? undefined : this.parts.partOf(owner);
    if (part !== undefined) this.table.add(id, part);
    this.recent.set(id, owner);
  }

  /** At build time: an id its item already records. */
  addRecorded(id: string, part: number): void {
    this.table.add(id, part);
  }

  async has(id: string): Promise<boolean> {
    if (this.recent.has(id)) return true;
    for (const part of partsOf(this.parts, this.table.get(id))) {
      for await (const [, item] of this.parts.scanPart(part)) if (idsOf(item).includes(id)) return true;
    }
    return false;
  }

  /** Drops the exact copies of ids whose items now record them (`read` answers for items in memory). */
  prune(read: (uri: string) => ItemState | undefined): void {
    for (const [id, owner] of this.recent) if (owner !== undefined && idsOf(read(owner) ?? ({} as ItemState)).includes(id)) this.recent.delete(id);
  }

  get exact(): number {
    return this.recent.size;
  }
}

/** Parts whose created contents are kept read (duplicates across folders tend to point at the same few parts). */
const OWNER_PARTS_CACHED = 16;

/**
 * Content owners of a state in parts: hashes of content keys with the part of their owner. A hit
 * is confirmed by reading that part for an item of that content the state records as created (the
 * contents of the last parts read are kept); the owners decided in the window being worked on are
 * kept exactly (`endWindow` forgets them: by then they are recorded, or the run stopped before
 * sending them, and a later window sends its own copy).
 */
export class HashedOwners implements ContentOwners {
  readonly table = new HashTable64();
  private window = new Map<string, string>();
  /** Created contents of parts read to confirm a hit, least recently used first. */
  private readonly read = new Map<number, Map<string, string>>();

  constructor(private readonly parts: PartLookup) {}

  addRecorded(key: string, part: number): void {
    this.table.add(key, part);
  }

  set(key: string, uri: string): void {
    this.window.set(key, uri);
    const part = this.parts.partOf(uri);
    if (part === undefined) return;
    this.table.add(key, part);
    if (!this.read.get(part)?.has(key)) this.read.get(part)?.set(key, uri);
  }

  async get(key: string, self: string): Promise<string | undefined> {
    const exact = this.window.get(key);
    if (exact !== undefined) return exact;
    for (const part of partsOf(this.parts, this.table.get(key))) {
      const owner = (await this.contents(part)).get(key);
      if (owner !== undefined && owner !== self) return owner;
    }
    return undefined;
  }

  endWindow(): void {
    this.window = new Map();
  }

  private async contents(part: number): Promise<Map<string, string>> {
    const cached = this.read.get(part);
    if (cached) {
      this.read.delete(part);
      this.read.set(part, cached);
      return cached;
    }
    const contents = new Map<string, string>();
    for await (const [uri, item] of this.parts.scanPart(part)) {
      const key = contentKey(item.size, item.etag);
      if (CREATED_STATUSES.has(item.status) && !contents.has(key)) contents.set(key, uri);
    }
    this.read.set(part, contents);
    if (this.read.size > OWNER_PARTS_CACHED) this.read.delete(this.read.keys().next().value as number);
    return contents;
  }
}
