import type { LookupTable, LookupTables } from './lookup.js';
import type { HeldItems } from './types.js';

/**
 * A listing of the index kept as its pages arrive (a `ListingSink` of the index reader): each id
 * once, at its first place, with the newest answer for it (pages shift under concurrent writes, so
 * an id may come twice); its ids looked up in a table. Where it lives is the caller's: in memory
 * (`memoryTables`, `heldInMemory`) or, for the CLI, in files beside the plan, where memory holds a
 * hash index of the ids and nothing of the items.
 */
export class SpilledListing<V extends { _id: string }> {
  private readonly ids: LookupTable<0>;
  /** Newer answers for ids already listed: empty unless a page repeated one. */
  private readonly newer: LookupTable<V>;
  private repeats = 0;
  private firstItem: V | undefined;
  /** Distinct ids listed. */
  size = 0;

  constructor(
    tables: LookupTables,
    private readonly lines: HeldItems,
    name: string,
  ) {
    this.ids = tables.open(`${name}-ids`);
    this.newer = tables.open(`${name}-newer`);
  }

  /** Keeps an item; whether its id is new. */
  add(id: string, item: V): boolean {
    if (this.has(id)) {
      this.newer.add(id, item);
      this.repeats += 1;
      return false;
    }
    this.ids.add(id, 0);
    this.lines.append(JSON.stringify(item));
    this.firstItem ??= item;
    this.size += 1;
    return true;
  }

  has(id: string): boolean {
    return this.ids.get(id).length > 0;
  }

  /** The first item listed (its newest answer). */
  get first(): V | undefined {
    return this.firstItem && this.newest(this.firstItem);
  }

  /** Every item in listing order, each its newest answer; may be read more than once. */
  async *items(): AsyncGenerator<V> {
    for await (const line of this.lines.lines()) yield this.newest(JSON.parse(line) as V);
  }

  /** Every id in listing order. */
  async *idsInOrder(): AsyncGenerator<string> {
    for await (const item of this.items()) yield item._id;
  }

  private newest(item: V): V {
    return this.repeats === 0 ? item : (this.newer.get(item._id).at(-1) ?? item);
  }
}
