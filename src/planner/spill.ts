/**
 * Bytes a plan's work files (lookup records, listing and held lines) may keep in memory, all
 * together, before they go to disk: a plan of a few hundred thousand objects never touches the
 * disk (a lookup reads a buffer, not the file), a larger one spills once and stays bounded. Kept
 * as written, in 1 MiB blocks outside the JavaScript heap: holding the records as objects instead
 * (Maps of values) cost more in garbage collection than the reads it saved.
 */
export const WORK_MEMORY_BYTES = 64 * 2 ** 20;

/** A shared allowance of bytes held in memory: past its limit, every holder spills, once. */
export class MemoryBudget {
  private used = 0;
  private spilled = false;
  private readonly spillers: Array<() => void> = [];

  constructor(readonly limit: number) {}

  /** Whether the holders have spilled (and write to disk from now on). */
  get exhausted(): boolean {
    return this.spilled;
  }

  /** Counts bytes now held; past the limit, every holder spills. */
  charge(bytes: number): void {
    this.used += bytes;
    if (this.spilled || this.used <= this.limit) return;
    this.spilled = true;
    for (const spill of this.spillers.splice(0)) spill();
  }

  /** Calls `spill` when the budget is exhausted (at once if it already is). */
  onSpill(spill: () => void): void {
    if (this.spilled) spill();
    else this.spillers.push(spill);
  }
}
