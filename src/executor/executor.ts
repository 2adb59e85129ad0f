import pLimit from 'p-limit';
import { contentKey, objectUri } from '../planner/index.js';
import { AWAITING_OUTCOME, CREATED_STATUSES, NOT_SUBMITTED, statusIn, type ItemState, type ItemStatus, type ItemStore } from '../state/index.js';
import { idsOf, ownersInMemory, type ContentOwners, type IdSet } from './compact-sets.js';
import { Admission, QuotaWaiter } from './admission.js';
import { IndexCensus, type Holding } from './census.js';
import { assetsRoute, tasksRoute, type RouteContext, type UploadRoute } from './routes.js';
import { MultipartUploads } from './multipart.js';
import type { ReconcileContext } from './search.js';
import { failItem, nextLookAt, type DeferReason } from './exactly-once.js';
import type { ExecuteOptions, ExecuteResult, WorkWindows } from './types.js';

/** Items a window carries past its end (held), besides those set aside or blocked: asset steps still to come, outcomes not known. */
const CARRIED: ReadonlySet<ItemStatus> = new Set<ItemStatus>(['asset_processing', 'asset_ready', ...AWAITING_OUTCOME]);

const DEFAULT_MIN_AGE_MS = 120_000;
const DEFAULT_DECISION_TIMEOUT_MS = 30 * 60_000;
const CENSUS_CONCURRENCY = 8;
/** Rounds of polling and rechecking; each ends only when its work does, so this is a guard, not a budget. */
const MAX_ROUNDS = 20;

/**
 * Applies the upload items of a plan: one task (or asset + indexed asset) per object, exactly once.
 * The index decides first: objects it already holds (by fingerprint), content it holds under
 * another key, and tasks in flight under an object's file name are found before any POST, whatever
 * the state file says. Each POST is preceded by a durable intent; a POST whose answer was lost is
 * set aside and searched for until found or safely absent. Items fail; the run throws only for
 * run-level faults (invalid key, unwritable state).
 */
export async function executePlan(o: ExecuteOptions): Promise<ExecuteResult> {
  const run = new PlanRun(o);
  try {
    return await run.execute();
  } finally {
    run.dispose();
  }
}

type Deferral = { at: number; reason: DeferReason };

/** One `executePlan`: its context, its jobs (one per item at a time), its rounds and its end. */
class PlanRun {
  readonly result: ExecuteResult = { submitted: 0, failed: 0, reconciled: 0, foundInIndex: 0, duplicates: 0, gone: 0, pending: 0, undecided: 0, retries: 0, throttled: 0, interrupted: false };
  private readonly halt = new AbortController();
  private readonly limit: ReturnType<typeof pLimit>;
  private readonly deferred = new Map<string, Deferral>();
  private readonly setAside = new Map<string, Deferral>();
  private readonly running = new Map<string, { again: boolean; done: Promise<void> }>();
  private readonly wake = new Wakeup();
  private readonly quota: QuotaWaiter | undefined;
  private readonly admission: Admission;
  private ctx!: RouteContext;
  private readonly route: UploadRoute;
  private readonly deadlineTimer = new AbortController();
  private readonly onStop = () => this.halt.abort(this.o.stop?.reason);
  private fatal: unknown;
  private census: IndexCensus | undefined;
  private blocked = new Map<string, Holding[]>();
  /** The items worked on: the plan's; with windows, those carried past their window (held). */
  private uris: string[] = [];
  /** With windows: what windows already ended (or never started) left not submitted. */
  private readonly windowsLeft = { pending: 0, undecided: 0 };

  constructor(private readonly o: ExecuteOptions) {
    if (o.via === 'assets' && !o.assetsApi) throw new Error('executePlan: via assets needs assetsApi');
    const multipart = o.multipart && o.assetsApi ? new MultipartUploads(o.multipart.api, o.assetsApi, o.multipart.put, o.concurrency, o.multipart.batchSize) : undefined;
    this.route = o.via === 'assets' && o.assetsApi ? assetsRoute(o.assetsApi, multipart) : tasksRoute;
    this.limit = pLimit(o.concurrency);
    if (o.stop?.aborted) this.halt.abort();
    o.stop?.addEventListener('abort', this.onStop, { once: true });
    this.quota = o.waitForQuota ? new QuotaWaiter(o.clock, this.halt.signal, o.onQuotaWait, o.onEvent) : undefined;
    this.admission = new Admission(o, o.minutes, this.result);
  }

  async execute(): Promise<ExecuteResult> {
    const { o } = this;
    this.startDeadline();
    this.ctx = this.context(o.windows?.claimed ?? (await claimedIds(o.store)));
    try {
      this.census = await IndexCensus.read({ api: o.api, assetsApi: o.assetsApi, indexId: o.indexId, via: o.via ?? 'tasks', signal: this.halt.signal, tables: o.censusTables });
      if (!o.windows) {
        this.uris = [...o.uris, ...(await recheckRecorded(o.recorded ?? [], this.census, this.ctx))];
        this.blocked = await takeCensus(this.uris, this.census, this.ctx, await ownersOf(o.store));
      }
    } catch (error) {
      // The deadline passed while the index was read: nothing was sent, the next run starts over.
      if (this.result.budget?.reason === 'deadline' && this.halt.signal.aborted) return { ...this.result, pending: o.windows?.total ?? o.uris.length };
      throw error;
    }
    await this.rounds();
    if (this.fatal) throw this.fatal;
    const { result } = this;
    result.interrupted = Boolean(o.stop?.aborted);
    const left = this.uris.map((uri) => o.store.item(uri)).filter((item): item is ItemState => item !== undefined && NOT_SUBMITTED.has(item.status));
    result.pending = left.length + this.windowsLeft.pending;
    result.undecided = left.filter((item) => item.status === 'unknown' || this.blocked.has(objectUri(o.bucket, item.key))).length + this.windowsLeft.undecided;
    return result;
  }

  /**
   * A state in parts: each window (a part's work) is loaded, taken through the census and a first
   * pass, then let go, keeping only its items still in flight or set aside (held); a window after a
   * stop is only counted.
   */
  private async workWindows(windows: WorkWindows): Promise<void> {
    for await (const w of windows.windows()) {
      if (this.fatal || this.halt.signal.aborted || !this.census) {
        this.windowsLeft.pending += w.uris.length;
        this.windowsLeft.undecided += w.unknown;
        continue;
      }
      await w.load();
      const uris = [...w.uris, ...(await recheckRecorded(w.recorded, this.census, this.ctx))];
      for (const [uri, held] of await takeCensus(uris, this.census, this.ctx, windows.owners)) this.blocked.set(uri, held);
      await Promise.all(uris.map(this.schedule));
      for (const uri of uris) if (this.carries(uri)) windows.hold(uri);
      this.uris = [...this.settleCarried(windows, this.uris), ...this.settleCarried(windows, uris)];
      // Assets still processing pile up in memory until drained: past the limit, drained now (they become ready meanwhile), not after the last window.
      if (this.route.drain && this.uris.length > windows.holdLimit && !this.fatal && !this.halt.signal.aborted) {
        await this.route.drain(this.uris, this.schedule, this.ctx);
        this.uris = this.settleCarried(windows, this.uris);
      }
      windows.prune();
      windows.owners.endWindow();
    }
  }

  /** Whether an item must stay readable after its window: its job runs, it is set aside or blocked, or it has steps to come. */
  private carries(uri: string): boolean {
    return this.running.has(uri) || this.deferred.has(uri) || this.setAside.has(uri) || this.blocked.has(uri) || statusIn(CARRIED, this.o.store.item(uri)?.status);
  }

  /** The items still carried; the others are let go, and counted when left not submitted. */
  private settleCarried(windows: WorkWindows, uris: string[]): string[] {
    const kept: string[] = [];
    for (const uri of uris) {
      if (this.carries(uri)) {
        kept.push(uri);
        continue;
      }
      const item = this.o.store.item(uri);
      if (item && NOT_SUBMITTED.has(item.status)) this.windowsLeft.pending += 1;
      this.admission.forget(uri);
      windows.letGo(uri);
    }
    return kept;
  }

  dispose(): void {
    this.deadlineTimer.abort();
    this.o.stop?.removeEventListener('abort', this.onStop);
  }

  private context(claimed: IdSet): RouteContext {
    const { o, result, quota } = this;
    const reconcile: ReconcileContext = { api: o.api, clock: o.clock, indexId: o.indexId, claimed, signal: this.halt.signal };
    return {
      options: o,
      store: o.store,
      clock: o.clock,
      runId: o.runId,
      halt: this.halt,
      result,
      random: o.random ?? Math.random,
      maxAttempts: o.maxAttempts ?? 5,
      lagMs: o.reconcileLagMs ?? 5000,
      minAgeMs: o.reconcileMinAgeMs ?? DEFAULT_MIN_AGE_MS,
      searches: new Map(),
      rechecks: new Map(),
      resends: new Map(),
      defer: (uri, at, reason) => this.setAside.set(uri, { at, reason }),
      onEvent: o.onEvent,
      claimed,
      reconcile,
      ...(quota
        ? {
            quotaWait: async (resetAtMs: number | undefined, reason: string) => {
              result.quotaWaits = (result.quotaWaits ?? 0) + 1;
              await quota.wait(resetAtMs, reason);
            },
          }
        : {}),
    };
  }

  /** The deadline stops new work like a budget: what is in flight ends, the rest stays for the next run. */
  private startDeadline(): void {
    const { o } = this;
    if (o.deadline === undefined) return;
    // Ended with the run (dispose), so a run done before its deadline does not stay alive until then.
    o.clock
      .sleep(Math.max(0, o.deadline - o.clock.now()), AbortSignal.any([this.halt.signal, this.deadlineTimer.signal]))
      .then(() => {
        this.result.budget ??= { reason: 'deadline' };
        this.halt.abort();
        this.wake.ring();
      })
      .catch(() => undefined);
  }

  private readonly fail = (error: unknown): void => {
    this.fatal ??= error;
    this.halt.abort();
    this.wake.ring();
  };

  /**
   * One job per item at a time: a call while one runs (the assets poll seeing it ready) waits for it,
   * and the item is worked on once more after, unless it was set aside meanwhile.
   */
  private readonly schedule = (uri: string): Promise<void> => {
    const current = this.running.get(uri);
    if (current) {
      current.again = true;
      return current.done;
    }
    const job = { again: false, done: Promise.resolve() };
    this.running.set(uri, job);
    job.done = (async () => {
      do {
        job.again = false;
        await this.runJob(uri);
      } while (job.again && !this.deferred.has(uri) && !this.halt.signal.aborted);
      this.running.delete(uri);
      this.wake.ring();
    })();
    return job.done;
  };

  private runJob(uri: string): Promise<void> {
    return this.limit(async () => {
      const { o, halt } = this;
      if (halt.signal.aborted || this.fatal || !this.census) return;
      try {
        const held = this.blocked.get(uri);
        if (held && !(await settleBlocked(uri, held, this.census, this.blocked, this.ctx))) return;
        if (o.store.item(uri)?.status === 'planned') {
          await this.quota?.idle();
          // A spent budget starts nothing new, and lets what has started finish (unlike a stop, which rolls back unsent intents).
          if (!(await this.admission.admit(uri, halt.signal))) return;
        }
        await this.route.submit(uri, this.ctx);
      } catch (error) {
        // After a stop (Ctrl-C, quota), requests cut short throw their abort: the item stays as recorded, for the next run.
        if (!(halt.signal.aborted && this.fatal === undefined)) this.fail(error);
      } finally {
        // Set aside only once its job has ended: an item is never worked on by two jobs at once.
        const later = this.setAside.get(uri);
        this.setAside.delete(uri);
        if (later) this.deferred.set(uri, later);
        this.wake.ring();
      }
    });
  }

  /**
   * Rounds: the first pass (then, for assets, polling until ready), while set-aside items are
   * rechecked alongside; an item found by a recheck may need polling again, hence another round.
   */
  private async rounds(): Promise<void> {
    const { o, route, halt } = this;
    let stuck = false;
    const drain = async () => {
      if (route.drain && !this.fatal && !halt.signal.aborted) stuck = await route.drain(this.uris, this.schedule, this.ctx);
    };
    let round = async () => {
      if (o.windows) await this.workWindows(o.windows);
      else await Promise.all(this.uris.map(this.schedule));
      await drain();
    };
    const drainable = (item: ItemState | undefined) => item?.status === 'asset_processing' || (item?.status === 'asset_ready' && item.lastError?.code !== 'attempts_exhausted');
    const drainLeft = () => Boolean(route.drain) && this.uris.some((uri) => drainable(o.store.item(uri)));
    let rounds = 0;
    do {
      rounds += 1;
      let working = true;
      const work = round()
        .catch(this.fail)
        .finally(() => {
          working = false;
          this.wake.ring();
        });
      await Promise.all([work, recheckDeferred(this.deferred, this.schedule, () => working, this.wake, this.ctx, o.decisionTimeoutMs ?? DEFAULT_DECISION_TIMEOUT_MS, (uri) => this.running.has(uri))]);
      round = async () => {
        await Promise.all(this.uris.filter((uri) => o.store.item(uri)?.status === 'asset_ready').map(this.schedule));
        await drain();
      };
    } while (!this.fatal && !halt.signal.aborted && !stuck && drainLeft() && rounds < MAX_ROUNDS);
  }
}

/**
 * Looks again at set-aside items when they are due, while other work goes on and after it ends.
 * Items waiting only for the minimum age always finish; items whose candidates cannot be read are
 * given up (left `unknown`, never resubmitted) once the rest is done and the decision timeout passed.
 */
async function recheckDeferred(
  deferred: Map<string, { at: number; reason: DeferReason }>,
  schedule: (uri: string) => Promise<void>,
  working: () => boolean,
  wake: Wakeup,
  ctx: RouteContext,
  timeoutMs: number,
  busy: (uri: string) => boolean,
): Promise<void> {
  let doneAt: number | undefined;
  const running = new Set<Promise<void>>();
  while (!ctx.halt.signal.aborted) {
    const now = ctx.clock.now();
    if (!working()) doneAt ??= now;
    // Past the timeout, items whose candidates cannot be read are left as they are (unknown, never resubmitted).
    const expired = doneAt !== undefined && now - doneAt >= timeoutMs;
    if (expired) for (const [uri, d] of deferred) if (d.reason === 'wait') deferred.delete(uri);
    if (!working() && running.size === 0 && deferred.size === 0) return;
    // An item whose job is still finishing is taken once that job has ended (it rings then).
    const due = [...deferred].filter(([uri, d]) => d.at <= now && !busy(uri)).map(([uri]) => uri);
    for (const uri of due) {
      deferred.delete(uri);
      const job = schedule(uri).finally(() => {
        running.delete(job);
        wake.ring();
      });
      running.add(job);
    }
    if (due.length > 0) continue;
    const news = wake.next();
    const idle = [...deferred].filter(([uri]) => !busy(uri));
    if (idle.length === 0) {
      await news;
      continue;
    }
    // Sleep until the next item is due or there is news (a new item set aside, work done), whichever is first.
    const nap = new AbortController();
    const stopNap = () => nap.abort();
    ctx.halt.signal.addEventListener('abort', stopNap, { once: true });
    const next = Math.min(...idle.map(([, d]) => d.at));
    await Promise.race([ctx.clock.sleep(Math.max(0, next - now), nap.signal).catch(() => undefined), news]);
    nap.abort();
    ctx.halt.signal.removeEventListener('abort', stopNap);
  }
  await Promise.all(running);
}

/** Items the state records as indexed whose video the index no longer holds: planned again. */
async function recheckRecorded(uris: string[], census: IndexCensus, ctx: RouteContext): Promise<string[]> {
  const again: string[] = [];
  for (const uri of uris) {
    const item = ctx.store.item(uri);
    if (item?.status !== 'ready' || !item.videoId || (await census.hasVideo(item.videoId, item.key))) continue;
    const at = new Date(ctx.clock.now()).toISOString();
    await ctx.store.setItem(uri, { status: 'planned', taskId: undefined, videoId: undefined, assetId: undefined, indexedAssetId: undefined, step: undefined, reason: undefined, lastError: { code: 'video_gone', message: `video ${item.videoId} is no longer in the index: uploaded again`, at } });
    ctx.result.gone += 1;
    ctx.onEvent?.({ type: 'found', uri, how: 'gone', id: item.videoId });
    again.push(uri);
  }
  return again;
}

/**
 * Asks the index about every item not yet sent: its own copy found is recorded instead of sent;
 * its content found under another key (in the index or the state) makes it a duplicate; a task of
 * its file name whose owner cannot be read yet holds it back. Returns the held-back items.
 */
async function takeCensus(uris: string[], census: IndexCensus, ctx: RouteContext, owners: ContentOwners): Promise<Map<string, Holding[]>> {
  const { store } = ctx;
  const blocked = new Map<string, Holding[]>();
  // Examined in parallel (each may read a few videos), decided in plan order (the first key of a content owns it).
  const examine = pLimit(CENSUS_CONCURRENCY);
  const planned = uris.filter((uri) => store.item(uri)?.status === 'planned');
  const verdicts = planned.map((uri) => examine(() => census.examine(uri, store.item(uri) as ItemState)));
  // Awaited in order below; marked handled now so a later one failing first is not an unhandled rejection.
  for (const verdict of verdicts) verdict.catch(() => undefined);
  for (const [n, uri] of planned.entries()) {
    const item = store.item(uri) as ItemState;
    const verdict = await (verdicts[n] as Promise<Awaited<ReturnType<IndexCensus['examine']>>>);
    const at = new Date(ctx.clock.now()).toISOString();
    if (verdict.kind === 'found') {
      await recordHolding(uri, verdict.holding, ctx);
      owners.set(contentKey(item.size, item.etag), uri);
      continue;
    }
    const twin = verdict.kind === 'duplicate' ? verdict.of : await owners.get(contentKey(item.size, item.etag), uri);
    if (twin !== undefined && twin !== uri) {
      await store.setItem(uri, { status: 'skipped', reason: 'duplicate', duplicateOf: twin, lastError: null });
      ctx.result.duplicates += 1;
      ctx.onEvent?.({ type: 'found', uri, how: 'duplicate', id: twin });
      continue;
    }
    owners.set(contentKey(item.size, item.etag), uri);
    if (verdict.kind === 'blocked') {
      blocked.set(uri, verdict.holdings);
      await store.setItem(uri, { lastError: { code: 'awaiting_decision', message: `a task of this file name is in flight and its owner cannot be read yet (${verdict.holdings.map((h) => h.id).join(', ')}): sent only once it is shown to be another object's`, at } });
    }
  }
  await store.checkpoint();
  ctx.onEvent?.({ type: 'census', holdings: uris.length, checked: planned.length });
  return blocked;
}

/** Rechecks a held-back item; true when it may now be sent. */
async function settleBlocked(uri: string, holdings: Holding[], census: IndexCensus, blocked: Map<string, Holding[]>, ctx: RouteContext): Promise<boolean> {
  const item = ctx.store.item(uri) as ItemState;
  const { decision, holdings: fresh } = await census.recheck(uri, item, holdings);
  if (decision.kind === 'found') {
    blocked.delete(uri);
    const holding = fresh.find((h) => h.id === decision.candidate.id) as Holding;
    if (holding.stage === 'failed') await failItem(uri, 'indexing_failed', `its task ${holding.id} failed on the platform: check the file, then apply --retry-failed`, ctx);
    else await recordHolding(uri, holding, ctx);
    return false;
  }
  if (decision.kind === 'failed') {
    blocked.delete(uri);
    await failItem(uri, 'indexing_failed', `task ${decision.candidates.join(', ')} of this file name failed and its owner cannot be read: it may be this object's; check the file, then apply --retry-failed`, ctx);
    return false;
  }
  if (decision.kind === 'wait') {
    blocked.set(uri, fresh);
    const tries = (ctx.rechecks.get(uri) ?? 0) + 1;
    ctx.rechecks.set(uri, tries);
    ctx.defer(uri, nextLookAt(ctx, tries), 'wait');
    return false;
  }
  blocked.delete(uri);
  ctx.rechecks.delete(uri);
  await ctx.store.setItem(uri, { lastError: null });
  return true;
}

/** Records what the index already holds for an item, instead of sending it. */
async function recordHolding(uri: string, h: Holding, ctx: RouteContext): Promise<void> {
  ctx.claimed.add(h.id, uri);
  const at = new Date(ctx.clock.now()).toISOString();
  const common = { reason: 'found_in_index', lastError: null, submittedAt: h.createdAt ?? at } as const;
  if (h.kind === 'asset') {
    await ctx.store.setItem(uri, { ...common, status: h.stage === 'ready' ? 'asset_ready' : 'asset_processing', assetId: h.id }, { durable: true });
  } else if (h.kind === 'task') {
    await ctx.store.setItem(uri, { ...common, status: h.stage === 'ready' ? 'ready' : 'submitted', taskId: h.id, videoId: h.videoId }, { durable: true });
  } else {
    const viaAssets = ctx.options.via === 'assets';
    await ctx.store.setItem(uri, { ...common, status: h.stage === 'ready' ? 'ready' : 'submitted', videoId: h.videoId ?? h.id, ...(viaAssets ? { indexedAssetId: h.id } : {}) }, { durable: true });
  }
  ctx.result.foundInIndex += 1;
  ctx.onEvent?.({ type: 'found', uri, how: h.stage === 'ready' ? 'indexed' : 'in_flight', id: h.id });
}

/** Every id the state records for an item (a state in memory or in one file). */
async function claimedIds(store: ItemStore): Promise<IdSet> {
  const claimed = new Set<string>();
  for await (const [, item] of store.scan()) for (const id of idsOf(item)) claimed.add(id);
  return claimed;
}

/** The owner of each content the state records as created (a state in memory or in one file). */
async function ownersOf(store: ItemStore): Promise<ContentOwners> {
  const owners = ownersInMemory();
  for await (const [uri, item] of store.scan()) if (CREATED_STATUSES.has(item.status)) owners.set(contentKey(item.size, item.etag), uri);
  return owners;
}

/** A promise that resolves at the next ring: lets the recheck loop sleep until there is news. */
class Wakeup {
  private waiters: Array<() => void> = [];
  next(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
  ring(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}

export { fingerprint } from './routes.js';
