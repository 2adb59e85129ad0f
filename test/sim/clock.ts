/** The simulator's notion of time: timestamps, lifecycle timers, rate-limit windows, visibility lag. */
export interface SimClock {
  now(): number;
  setTimer(ms: number, fire: () => void): number;
  clearTimer(id: number): void;
  cancelAll(): void;
}

/** Wall-clock time (shifted by `offsetMs`: a server clock ahead or behind) and real timers. */
export class RealClock implements SimClock {
  readonly #timers = new Map<number, NodeJS.Timeout>();
  #nextId = 1;

  constructor(private readonly offsetMs = 0) {}

  now(): number {
    return Date.now() + this.offsetMs;
  }

  setTimer(ms: number, fire: () => void): number {
    const id = this.#nextId++;
    this.#timers.set(id, setTimeout(() => {
      this.#timers.delete(id);
      fire();
    }, ms));
    return id;
  }

  clearTimer(id: number): void {
    clearTimeout(this.#timers.get(id));
    this.#timers.delete(id);
  }

  cancelAll(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }
}

interface ManualTimer { id: number; dueAt: number; fire: () => void }

/** Time that moves only when told to; timers fire in due order, ties in creation order. */
export class ManualClock implements SimClock {
  #now: number;
  #timers: ManualTimer[] = [];
  #nextId = 1;

  constructor(startAt: number) {
    this.#now = startAt;
  }

  now(): number {
    return this.#now;
  }

  setTimer(ms: number, fire: () => void): number {
    const id = this.#nextId++;
    this.#timers.push({ id, dueAt: this.#now + Math.max(0, ms), fire });
    return id;
  }

  clearTimer(id: number): void {
    this.#timers = this.#timers.filter((t) => t.id !== id);
  }

  cancelAll(): void {
    this.#timers = [];
  }

  /** Fires the earliest timer due at or before `until`, moving time to its due instant; false if none. */
  fireNext(until: number): boolean {
    let next: ManualTimer | undefined;
    for (const t of this.#timers) {
      if (t.dueAt <= until && (next === undefined || t.dueAt < next.dueAt)) next = t;
    }
    if (next === undefined) return false;
    this.clearTimer(next.id);
    this.#now = Math.max(this.#now, next.dueAt);
    next.fire();
    return true;
  }

  moveTo(instant: number): void {
    this.#now = Math.max(this.#now, instant);
  }
}
