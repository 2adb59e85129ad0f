import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { contentKey, objectUri, type PlanItem } from '../planner/index.js';
import { CREATED_STATUSES, ENDED, NOT_CREATED, PART_SIZE, compareUris, failureStage, statusIn, type ItemState, type PartedStore } from '../state/index.js';
import { HashedIds, HashedOwners, idsOf } from './compact-sets.js';
import { MERGE_WRITES_IN_FLIGHT, MergeWrites, mergeItem } from './merge-plan.js';
import type { WorkWindow, WorkWindows } from './types.js';

/**
 * `apply` on a state in parts (issue 15, steps 2 and 3): the plan is merged into the parts as it
 * streams, a part or two in memory at a time (`PartCache`); the list of the items to work on is
 * spooled to a temporary file, not held; the executor takes it back a window (a part's items) at a
 * time; the outcome is tallied from the spool in one more pass. A plan in key order (the planner
 * writes listing order, which is S3's key order) loads each part once; a plan out of order (a few
 * legacy matches the planner holds to the end, `--files-from`, an inventory) stays correct, each
 * item out of order costing a part load, and is counted in `disorder`.
 */

const FLAG = { upload: 1, preflight: 2, work: 4, recorded: 8, failedBefore: 16, unknown: 32 } as const;
/** One spooled plan item: source URI, flags, video seconds when the plan probed them. */
type Entry = [string, number, number?];

/** Keeps the parts of the last few items loaded; the rest are checkpointed and let go (`onLeave` sees them first). */
export class PartCache {
  private recent: number[] = [];
  constructor(
    private readonly store: PartedStore,
    private readonly onLeave?: (ids: number[]) => Promise<void>,
    private readonly capacity = 2,
  ) {}

  /** Makes `uri`'s item answer `store.item()` (a new item needs no part). */
  async need(uri: string): Promise<void> {
    const id = this.store.partOf(uri);
    if (id === undefined || this.recent.at(-1) === id) return;
    this.recent = [...this.recent.filter((r) => r !== id), id].slice(-this.capacity);
    await this.store.loadPart(id);
    if (this.store.loadedParts > this.capacity) await this.leave(new Set(this.recent));
  }

  /** Lets go of every loaded part but `keep`. */
  async leave(keep: ReadonlySet<number> = new Set()): Promise<void> {
    await this.onLeave?.(this.store.partList().flatMap((p) => (p.loaded && !keep.has(p.id) ? [p.id] : [])));
    await this.store.release(keep);
  }
}

/**
 * The sets a run needs of every item, compact: the ids claimed, and the owner of each content
 * the state records as created. Built from the parts the merge read (as it lets each go, its
 * changes made) and then from the others that can hold either (a part of planned items only cannot).
 */
export class PartedSets {
  readonly indexed = new Set<number>();
  readonly claimed: HashedIds;
  readonly owners: HashedOwners;

  constructor(private readonly store: PartedStore) {
    this.claimed = new HashedIds(store);
    this.owners = new HashedOwners(store);
  }

  async index(id: number): Promise<void> {
    for await (const [, item] of this.store.scanPart(id)) {
      for (const claimed of idsOf(item)) this.claimed.addRecorded(claimed, id);
      if (CREATED_STATUSES.has(item.status)) this.owners.addRecorded(contentKey(item.size, item.etag), id);
    }
    this.indexed.add(id);
  }

  /** Indexes the parts the merge did not read, but for those whose manifest entry shows planned items only. */
  async complete(): Promise<void> {
    for (const part of this.store.partList()) {
      if (this.indexed.has(part.id)) continue;
      const onlyPlanned = !part.dirty && part.written !== undefined && Object.keys(part.written.byStatus).every((s) => s === 'planned');
      if (!onlyPlanned) await this.index(part.id);
    }
  }
}

/** What the merge spooled and counted. */
export interface PartedMerge {
  /** Items this run works on. */
  work: number;
  /** Plan items out of key order (each may cost a part load). */
  disorder: number;
  spool: string;
}

/** Merges the plan into a state in parts, a part at a time, spooling every plan item with what the run needs to know of it. */
export async function mergePlanParted(store: PartedStore, items: AsyncIterable<PlanItem>, bucket: string, retryFailed: boolean, sets: PartedSets): Promise<PartedMerge> {
  // Beside the state, not in the temporary folder: it grows with the plan (~100 bytes an item), and the state's disk is the one sized for that.
  await removeSpools(store.path);
  const dir = await mkdtemp(`${store.path}.apply-`);
  const spool = join(dir, 'plan-items.jsonl');
  const out = createWriteStream(spool, { mode: 0o600 });
  const cache = new PartCache(store, async (ids) => {
    for (const id of ids) await sets.index(id);
  });
  const now = new Date().toISOString();
  const merged: PartedMerge = { work: 0, disorder: 0, spool };
  const writes = new MergeWrites(store);
  let previous: string | undefined;
  try {
    for await (const item of items) {
      const uri = objectUri(bucket, item.key);
      const order = previous === undefined ? 1 : compareUris(previous, uri) < 0 ? 1 : compareUris(previous, uri) === 0 ? 0 : -1;
      // checkPlanItems refused repeated keys; one changed since is still never worked on twice (in key order, a repeat is the one before).
      if (order === 0) continue;
      if (order < 0) merged.disorder += 1;
      previous = uri;
      await cache.need(uri);
      const { upload, preflight, work } = await mergeItem(writes, uri, item, retryFailed, now);
      const after = store.item(uri);
      let flags = (upload ? FLAG.upload : 0) | (preflight ? FLAG.preflight : 0) | (work ? FLAG.work : upload ? FLAG.recorded : 0);
      if (upload && after?.status === 'failed') flags |= FLAG.failedBefore;
      if (work && after?.status === 'unknown') flags |= FLAG.unknown;
      if (work) merged.work += 1;
      const duration = item.probe?.durationSeconds;
      await write(out, `${JSON.stringify(duration === undefined ? [uri, flags] : [uri, flags, duration])}\n`);
      await writes.settle(MERGE_WRITES_IN_FLIGHT);
    }
    await writes.settle(0);
    await cache.leave();
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  } finally {
    out.end();
    await once(out, 'close');
  }
  return merged;
}

/** Spool folders a killed apply left beside the state (this process holds the state's lock: no other apply is using one). */
async function removeSpools(statePath: string): Promise<void> {
  const prefix = `${basename(statePath)}.apply-`;
  for (const name of await readdir(dirname(statePath))) if (name.startsWith(prefix)) await rm(join(dirname(statePath), name), { recursive: true, force: true });
}

async function write(out: WriteStream, line: string): Promise<void> {
  if (!out.write(line)) await once(out, 'drain');
}

async function* spooled(spool: string): AsyncGenerator<Entry> {
  const lines = createInterface({ input: createReadStream(spool, { encoding: 'utf8' }), crlfDelay: Infinity });
  for await (const line of lines) if (line) yield JSON.parse(line) as Entry;
}

/** Removes the spool's folder. */
export async function disposeMerge(merged: PartedMerge): Promise<void> {
  await rm(join(merged.spool, '..'), { recursive: true, force: true });
}

/**
 * The executor's view of the work: windows of the spooled items a part at a time (at most twice
 * the part size), and the global sets built by one walk of the state, compact: the ids claimed and
 * the owners of each content the state records as created, as 64-bit hashes with their part.
 */
export async function partedWork(store: PartedStore, merged: PartedMerge, sets: PartedSets, durations: Map<string, number>): Promise<WorkWindows> {
  await sets.complete();
  const { claimed, owners } = sets;
  const read = (uri: string): ItemState | undefined => {
    try {
      return store.item(uri);
    } catch {
      return undefined;
    }
  };
  return {
    total: merged.work,
    windows: () => windowsOf(store, merged, durations),
    hold: (uri) => store.hold(uri),
    letGo: (uri) => store.letGo(uri),
    holdLimit: 2 * store.partSize,
    claimed,
    owners,
    prune: () => claimed.prune(read),
  };
}

async function* windowsOf(store: PartedStore, merged: PartedMerge, durations: Map<string, number>): AsyncGenerator<WorkWindow> {
  let window: { parts: Set<number>; uris: string[]; recorded: string[]; unknown: number; seconds: Map<string, number> } | undefined;
  const emit = function* (w: NonNullable<typeof window>): Generator<WorkWindow> {
    yield {
      uris: w.uris,
      recorded: w.recorded,
      unknown: w.unknown,
      load: async () => {
        durations.clear();
        for (const [uri, seconds] of w.seconds) durations.set(uri, seconds);
        for (const id of w.parts) await store.loadPart(id);
      },
    };
  };
  for await (const [uri, flags, seconds] of spooled(merged.spool)) {
    if (!(flags & (FLAG.work | FLAG.recorded))) continue;
    const part = store.partOf(uri) ?? -1;
    if (window && ((!window.parts.has(part) && window.parts.size > 0) || window.uris.length + window.recorded.length >= 2 * PART_SIZE)) {
      yield* emit(window);
      await store.release();
      window = undefined;
    }
    window ??= { parts: new Set(), uris: [], recorded: [], unknown: 0, seconds: new Map() };
    if (part >= 0) window.parts.add(part);
    (flags & FLAG.work ? window.uris : window.recorded).push(uri);
    if (flags & FLAG.unknown) window.unknown += 1;
    if (seconds !== undefined) window.seconds.set(uri, seconds);
  }
  if (window) yield* emit(window);
  await store.release();
}

/** What the run's outcome is decided on, over the plan's items: its failures, what is not ready, what is left. */
export interface PlanTally {
  failures: { platform: number; earlier: number; preflight: number; sourceGone: number };
  notReady: number;
  leftItems: number;
  /** Video seconds of the items left, when the plan probed any. */
  leftSeconds: number | undefined;
}

/** One more pass over the spool, a part at a time: the tally `settleRun` decides on. */
export async function tallyParted(store: PartedStore, merged: PartedMerge): Promise<PlanTally> {
  const tally: PlanTally = { failures: { platform: 0, earlier: 0, preflight: 0, sourceGone: 0 }, notReady: 0, leftItems: 0, leftSeconds: undefined };
  const cache = new PartCache(store);
  for await (const [uri, flags, seconds] of spooled(merged.spool)) {
    if (!(flags & (FLAG.upload | FLAG.preflight))) continue;
    await cache.need(uri);
    tallyItem(tally, store.item(uri), flags, seconds);
  }
  await store.release();
  return tally;
}

function tallyItem(tally: PlanTally, item: ItemState | undefined, flags: number, seconds: number | undefined): void {
  const failed = item?.status === 'failed';
  if (flags & FLAG.preflight && failed && failureStage(item) === 'preflight') tally.failures.preflight += 1;
  if (!(flags & FLAG.upload)) return;
  if (failed) {
    if (flags & FLAG.failedBefore) tally.failures.earlier += 1;
    else tally.failures.platform += 1;
    if (['source_missing', 'source_changed'].includes(item.lastError?.code ?? '')) tally.failures.sourceGone += 1;
  }
  if (!statusIn(ENDED, item?.status ?? 'ready')) tally.notReady += 1;
  if (statusIn(NOT_CREATED, item?.status)) {
    tally.leftItems += 1;
    if (seconds !== undefined) tally.leftSeconds = (tally.leftSeconds ?? 0) + seconds;
  }
}
