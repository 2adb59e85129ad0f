import type { RunStore } from './contract.js';
import { applyEvent, type JournalEvent } from './events.js';
import { STATE_VERSION, type ItemState, type RunRecord, type StateFile } from './types.js';

/** A change as the memory store saw it, in order: what a test checks instead of reading a journal. */
export interface RecordedChange {
  event: JournalEvent;
  durable: boolean;
}

/** The state in memory, with the file store's semantics (the same events, applied the same way) and no disk. */
export class MemoryStore implements RunStore {
  readonly changes: RecordedChange[] = [];
  private readonly state: StateFile;

  constructor(
    identity: { uri: string; bucket: string; prefix: string; indexId: string },
    private readonly now: () => number = Date.now,
  ) {
    const at = new Date(now()).toISOString();
    this.state = { version: STATE_VERSION, tool: 'tlmigrate (memory)', source: { uri: identity.uri, bucket: identity.bucket, prefix: identity.prefix }, indexId: identity.indexId, createdAt: at, updatedAt: at, items: {}, runs: [] };
  }

  item(uri: string): ItemState | undefined {
    return this.state.items[uri];
  }

  items(): IterableIterator<[string, ItemState]> {
    return Object.entries(this.state.items)[Symbol.iterator]();
  }

  async *scan(): AsyncGenerator<[string, ItemState]> {
    yield* this.items();
  }

  setItem(uri: string, patch: Partial<ItemState>, options: { durable?: boolean } = {}): Promise<void> {
    return this.record({ i: uri, s: { ...patch, updatedAt: patch.updatedAt ?? new Date(this.now()).toISOString() } }, options.durable ?? false);
  }

  setRun(run: RunRecord, options: { durable?: boolean } = {}): Promise<void> {
    return this.record({ r: structuredClone(run) }, options.durable ?? true);
  }

  checkpoint(): Promise<void> {
    return Promise.resolve();
  }

  get lastPlan(): StateFile['lastPlan'] {
    return this.state.lastPlan;
  }

  setLastPlan(plan: NonNullable<StateFile['lastPlan']>): Promise<void> {
    return this.record({ p: { ...plan } }, true);
  }

  forgetRun(runId: string): Promise<void> {
    this.state.runs = this.state.runs.filter((r) => r.runId !== runId);
    return Promise.resolve();
  }

  get changeCount(): number {
    return this.changes.length;
  }

  /** A copy of the whole state, as the file store would write it. */
  snapshot(): StateFile {
    return structuredClone(this.state);
  }

  private record(event: JournalEvent, durable: boolean): Promise<void> {
    applyEvent(this.state, event);
    this.changes.push({ event: structuredClone(event), durable });
    return Promise.resolve();
  }
}
