/** A named group of entries whose count is exact and whose list is capped. */
export interface Group<T> {
  name: string;
  count: number;
  items: T[];
  /** Entries counted but not kept: count - items.length. */
  omitted: number;
}

/**
 * Collects entries into named groups, keeping at most `cap` per group (0 = all) so that a report
 * over a million objects holds a bounded amount, while every count stays exact.
 */
export class GroupCollector<T> {
  private readonly groups = new Map<string, Group<T>>();

  constructor(private readonly cap: number) {}

  add(name: string, entry: T): void {
    let group = this.groups.get(name);
    if (!group) this.groups.set(name, (group = { name, count: 0, items: [], omitted: 0 }));
    group.count += 1;
    if (this.cap === 0 || group.items.length < this.cap) group.items.push(entry);
    else group.omitted += 1;
  }

  /** Largest group first, then by name. */
  list(): Group<T>[] {
    return [...this.groups.values()].sort((a, b) => b.count - a.count || a.name.localeCompare(b.name));
  }

  /** The one group of that name, empty when nothing was added. */
  get(name: string): Group<T> {
    return this.groups.get(name) ?? { name, count: 0, items: [], omitted: 0 };
  }
}

/** Adds `n` to a counter in a plain record. */
export function bump(counts: Record<string, number>, key: string, n = 1): void {
  counts[key] = (counts[key] ?? 0) + n;
}
