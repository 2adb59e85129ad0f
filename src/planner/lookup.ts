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

/**
 * A multiset of 64-bit string hashes, each with a 32-bit hint (the part that holds its item), in
 * typed arrays: 12 bytes a slot, at most 3/4 full (16 to 32 bytes an entry), whatever the strings' length.
 */
export class HashTable64 {
  private hi = new Uint32Array(1024);
  private lo = new Uint32Array(1024);
  /** Hint + 1; 0 marks a free slot. */
  private hint = new Uint32Array(1024);
  private used = 0;

  get size(): number {
    return this.used;
  }

  /** Bytes of the arrays. */
  get bytes(): number {
    return this.hi.byteLength * 3;
  }

  add(text: string, hint: number): void {
    const [h, l] = hash64(text);
    if (this.hints(h, l).includes(hint)) return;
    if ((this.used + 1) * 4 > this.hi.length * 3) this.grow();
    this.put(h, l, hint + 1);
    this.used += 1;
  }

  /** The hints stored under `text`'s hash (more than one: a collision, or one id in two parts). */
  get(text: string): number[] {
    const [h, l] = hash64(text);
    return this.hints(h, l);
  }

  private hints(h: number, l: number): number[] {
    const found: number[] = [];
    const mask = this.hi.length - 1;
    for (let at = l & mask; this.hint[at] !== 0; at = (at + 1) & mask) if (this.hi[at] === h && this.lo[at] === l) found.push((this.hint[at] as number) - 1);
    return found;
  }

  private put(h: number, l: number, hintPlusOne: number): void {
    const mask = this.hi.length - 1;
    let at = l & mask;
    while (this.hint[at] !== 0) at = (at + 1) & mask;
    this.hi[at] = h;
    this.lo[at] = l;
    this.hint[at] = hintPlusOne;
  }

  private grow(): void {
    const { hi, lo, hint } = this;
    this.hi = new Uint32Array(hi.length * 2);
    this.lo = new Uint32Array(hi.length * 2);
    this.hint = new Uint32Array(hi.length * 2);
    for (let at = 0; at < hi.length; at++) if (hint[at] !== 0) this.put(hi[at] as number, lo[at] as number, hint[at] as number);
  }
}

/** Two 32-bit FNV-1a hashes of the UTF-16 units with different offsets and a final mix: 64 bits. */
export function hash64(text: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    a = Math.imul(a ^ unit, 0x01000193);
    b = Math.imul(b ^ unit, 0x5bd1e995);
    b ^= b >>> 15;
  }
  a ^= a >>> 16;
  a = Math.imul(a, 0x85ebca6b);
  a ^= a >>> 13;
  return [a >>> 0, (b ^ (b >>> 13)) >>> 0];
}
