/**
 * A multimap from strings to values, for the planner's lookups over the index, the ledger and the
 * listing: appended to, never changed. In memory by default; the CLI keeps the values in a file
 * beside the plan (`lookupTablesFile`) and only a compact hash index of them in memory.
 */
export interface LookupTable<V> {
  add(key: string, value: V): void;
  /** Every value added under `key`, in the order added; empty when none. */
  get(key: string): V[];
}

/** Opens the planner's tables; each name is opened once per plan. */
export interface LookupTables {
  open<V>(name: string): LookupTable<V>;
}

/** Tables held in Maps: for the library and the tests, where nothing is large. */
export function memoryTables(): LookupTables {
  return {
    open<V>(): LookupTable<V> {
      const map = new Map<string, V[]>();
      return {
        add(key, value) {
          const values = map.get(key);
          if (values) values.push(value);
          else map.set(key, [value]);
        },
        get: (key) => map.get(key) ?? [],
      };
    },
  };
}

/** FNV-1a over the UTF-16 code units, then murmur3's finalizer: a 32-bit hash, never 0 (0 marks an empty slot). */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0 || 1;
}

/**
 * An open-addressing hash index from a key's 32-bit hash to one number (where its newest record
 * lies): 8 bytes a slot, at most 3/4 full. Keys whose hashes are equal share a slot; the records
 * say which key they are, so a collision costs one more record read, never a wrong answer.
 */
export class HashSlots {
  private hashes = new Uint32Array(1 << 10);
  private heads = new Uint32Array(1 << 10);
  private used = 0;

  /** The number stored for this hash, or undefined. */
  get(hash: number): number | undefined {
    const mask = this.hashes.length - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const seen = this.hashes[slot];
      if (seen === 0) return undefined;
      if (seen === hash) return this.heads[slot];
    }
  }

  set(hash: number, head: number): void {
    if ((this.used + 1) * 4 > this.hashes.length * 3) this.grow();
    const mask = this.hashes.length - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const seen = this.hashes[slot];
      if (seen === hash) {
        this.heads[slot] = head;
        return;
      }
      if (seen === 0) {
        this.hashes[slot] = hash;
        this.heads[slot] = head;
        this.used += 1;
        return;
      }
    }
  }

  private grow(): void {
    const { hashes, heads } = this;
    this.hashes = new Uint32Array(hashes.length * 2);
    this.heads = new Uint32Array(hashes.length * 2);
    this.used = 0;
    for (let slot = 0; slot < hashes.length; slot++) {
      const hash = hashes[slot];
      if (hash) this.set(hash, heads[slot] ?? 0);
    }
  }
}
