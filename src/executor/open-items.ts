import { StateFileError } from '../errors.js';
import { HashTable64 } from '../planner/lookup.js';
import { recordsFile, type Unwritable, type WorkRecords } from '../planner/plan-file.js';

/** The refusal when a temporary file beside the state cannot be created. */
export const besideStateUnwritable: Unwritable = (path, code, error) =>
  new StateFileError('state_unwritable', `cannot create a temporary file beside ${path} (${code}): free space there, or pass --state PATH in a writable folder`, { cause: error });

/** The followed items' records in a private temporary file beside the state (`<state>.follow-<pid>`), written past its first MiB only. */
export function followRecordsFile(statePath: string): WorkRecords {
  return recordsFile(`${statePath}.follow-${process.pid}`, statePath, besideStateUnwritable);
}

/** One followed item, as read back. */
export interface OpenItem {
  /** Its place in the set (stable while the set lives). */
  at: number;
  id: string;
  uri: string;
  kind: 'task' | 'indexed_asset';
}

/**
 * The items a follow waits for (tasks or indexed assets in flight), compactly: each item's id and
 * source URI are a record (in a file beside the state for the CLI), and memory holds a 64-bit hash
 * of each id (`HashTable64`) with typed arrays of its record's place, its status and the last poll
 * that saw it: ~25-40 bytes an item instead of a Map entry of strings (~200). A hash hit is
 * confirmed by the record, so a collision costs a read, never a wrong item.
 */
export class OpenItems {
  private readonly ids = new HashTable64();
  private places = new Uint32Array(1024);
  private seenAt = new Int32Array(1024);
  /** A code per status (`statuses`); 0: no longer followed. */
  private codes = new Uint8Array(1024);
  private readonly statuses: string[] = [''];
  private readonly codeOf = new Map<string, number>();
  private count = 0;
  private openCount = 0;

  constructor(private readonly records: WorkRecords) {}

  get size(): number {
    return this.openCount;
  }

  add(id: string, uri: string, kind: OpenItem['kind'], status: string): void {
    const at = this.count;
    if (at === this.places.length) this.grow();
    this.places[at] = this.records.append(JSON.stringify([id, uri, kind]));
    this.codes[at] = this.code(status);
    this.ids.add(id, at);
    this.count += 1;
    this.openCount += 1;
  }

  /** The open item with this id, if any (a record read confirms the hash). */
  find(id: string): OpenItem | undefined {
    for (const at of this.ids.get(id)) {
      if (this.codes[at] === 0) continue;
      const item = this.item(at);
      if (item.id === id) return item;
    }
    return undefined;
  }

  item(at: number): OpenItem {
    const [id, uri, kind] = JSON.parse(this.records.read(this.places[at] ?? 0)) as [string, string, OpenItem['kind']];
    return { at, id, uri, kind };
  }

  status(at: number): string {
    return this.statuses[this.codes[at] ?? 0] ?? '';
  }

  setStatus(at: number, status: string): void {
    if (this.codes[at] !== 0) this.codes[at] = this.code(status);
  }

  seen(at: number, poll: number): void {
    this.seenAt[at] = poll;
  }

  /** Stops following an item. */
  close(at: number): void {
    if (this.codes[at] === 0) return;
    this.codes[at] = 0;
    this.openCount -= 1;
  }

  /** Up to `n` open items not seen at `poll`, least recently seen first (ties in the order added): one pass, `n` kept. */
  leastRecentlySeen(poll: number, n: number): OpenItem[] {
    // A max-heap of the n best so far, by (seenAt, place).
    const heap: number[] = [];
    const worse = (a: number, b: number) => (this.seenAt[a] ?? 0) - (this.seenAt[b] ?? 0) || a - b;
    const up = (i: number) => {
      for (let parent = (i - 1) >> 1; i > 0 && worse(heap[i] as number, heap[parent] as number) > 0; i = parent, parent = (i - 1) >> 1) [heap[i], heap[parent]] = [heap[parent] as number, heap[i] as number];
    };
    const down = (i: number) => {
      for (;;) {
        const [l, r] = [2 * i + 1, 2 * i + 2];
        let top = i;
        if (l < heap.length && worse(heap[l] as number, heap[top] as number) > 0) top = l;
        if (r < heap.length && worse(heap[r] as number, heap[top] as number) > 0) top = r;
        if (top === i) return;
        [heap[i], heap[top]] = [heap[top] as number, heap[i] as number];
        i = top;
      }
    };
    for (let at = 0; at < this.count && n > 0; at++) {
      if (this.codes[at] === 0 || (this.seenAt[at] ?? 0) >= poll) continue;
      if (heap.length < n) {
        heap.push(at);
        up(heap.length - 1);
      } else if (worse(at, heap[0] as number) < 0) {
        heap[0] = at;
        down(0);
      }
    }
    return heap.sort(worse).map((at) => this.item(at));
  }

  private code(status: string): number {
    let code = this.codeOf.get(status);
    if (code === undefined) {
      code = this.statuses.length;
      if (code > 255) throw new Error(`OpenItems: more than 255 statuses (${status})`);
      this.statuses.push(status);
      this.codeOf.set(status, code);
    }
    return code;
  }

  private grow(): void {
    const size = this.places.length * 2;
    const places = new Uint32Array(size);
    places.set(this.places);
    const seenAt = new Int32Array(size);
    seenAt.set(this.seenAt);
    const codes = new Uint8Array(size);
    codes.set(this.codes);
    [this.places, this.seenAt, this.codes] = [places, seenAt, codes];
  }
}
