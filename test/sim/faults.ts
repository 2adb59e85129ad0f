import type { CreateRouteId, RouteId } from './routes.js';

/** The contract: POST /tasks shares its rate-limit bucket with POST /indexes/{id}/indexed-assets. */
const TASK_BUCKET_PARTNER: RouteId = 'POST /indexes/{index_id}/indexed-assets';

export interface MsRange {
  min: number;
  max: number;
}

/** Fault switches; every one is off unless set. */
export interface FaultConfig {
  /** Seed of the PRNG behind every random choice below, so a test replays the same faults. Default 1. */
  seed?: number;
  /** Delay before the request is handled. */
  latency?: { ms: number | MsRange; routes?: readonly RouteId[] };
  /** Fixed-window limit per route set: 429 `too_many_requests` over `limit` in `windowMs`. */
  rateLimit?: {
    limit: number;
    windowMs: number;
    /** Send `Retry-After` (seconds) with a 429. Default false: the contract calls it undocumented. */
    retryAfter?: boolean;
    /** Send `X-Ratelimit-Limit/Remaining/Used/Reset` on every limited-route response. Default true. */
    headers?: boolean;
    routes?: readonly RouteId[];
    /**
     * When `routes` names POST /tasks, POST /indexes/{index_id}/indexed-assets counts in (and is
     * limited by) the same bucket, as the contract says. Default true; false limits only `routes`.
     */
    shareTaskBucket?: boolean;
  };
  /**
   * A per-day quota (default: POST /tasks, and with it POST /indexes/{index_id}/indexed-assets):
   * 429 `usage_limit_exceeded`, reset at the next UTC midnight.
   */
  dailyQuota?: {
    limit: number;
    retryAfter?: boolean;
    headers?: boolean;
    routes?: readonly RouteId[];
    /** As for `rateLimit`: indexed-asset creation shares the POST /tasks quota. Default true. */
    shareTaskBucket?: boolean;
    /**
     * Epoch ms the quota resets at; default the next UTC midnight of the simulator's clock, at least
     * 6 hours away (else the one after), fixed until the clock passes it: a test that runs across a
     * real midnight must not see its quota renewed in the middle.
     */
    resetAt?: number;
    /**
     * A quota of `limit` creates per window of this length instead of one per day: `{ limit: 3,
     * windowMs: 20_000 }` refuses the 4th create with `usage_limit_exceeded` and a reset at the
     * window's end. The first window starts at the first create it counts (so a test knows where
     * the windows fall), the next ones follow back to back. Overrides `resetAt`.
     */
    windowMs?: number;
  };
  /**
   * A limit on the video minutes created per window (v1.3 documents limits on video minutes per
   * hour and per day, not their wire form: this form is an assumption, see test/sim/README.md).
   * Every create on the routes (default POST /tasks and POST /indexes/{index_id}/indexed-assets)
   * is charged `minutesPerCreate` (the simulator has not read the file at POST time); one that
   * would pass `limit` gets 429 `too_many_requests`. Answers carry
   * `X-Ratelimit-Video-Minutes-Limit/Remaining/Reset` (epoch seconds) unless `headers: false`.
   */
  videoMinutes?: { limit: number; windowMs: number; minutesPerCreate?: number; headers?: boolean; routes?: readonly RouteId[] };
  /** Answers a share of requests with a 5xx before doing any work. */
  error5xx?: { rate: number; statuses?: readonly number[]; routes?: readonly RouteId[] };
  /**
   * A create route (default: POST /tasks only) does the work, then loses the answer: `drop` closes
   * the socket, `reset` sends a TCP RST, `500` answers 500. `nth` counts, per route, the things
   * created since this switch was set (1-based): `nth: [2]` loses the 2nd task and the 2nd asset.
   */
  postAcceptThenFail?: { rate?: number; nth?: readonly number[]; mode: 'drop' | '500' | 'reset'; routes?: readonly CreateRouteId[] };
  /** The work is done at once but the answer leaves only after `ms` (meant to exceed the client's timeout). */
  slowResponse?: { ms: number; routes?: readonly RouteId[] };
  /**
   * A created task appears in GET /tasks listings only this long after its creation; so do new
   * assets in GET /assets and new indexed assets in the indexed-asset listings, unless the two
   * switches below say otherwise.
   */
  taskVisibilityLagMs?: number;
  /** Overrides `taskVisibilityLagMs` for GET /assets. */
  assetVisibilityLagMs?: number;
  /** Overrides `taskVisibilityLagMs` for GET /indexes/{id}/indexed-assets and GET /assets/{id}/indexed-assets. */
  indexedAssetVisibilityLagMs?: number;
  /** Every API key is refused with 401. */
  wrongKey?: boolean;
  /**
   * Presigned chunk PUTs fail: `reset` cuts the connection mid-body, `5xx` answers 500 or 503 after
   * reading it, `expired` answers 403 "Request has expired" whatever the URL's expiry. None stores the
   * chunk. `nth` counts chunk PUTs since this switch was set (1-based); `modes` default all three.
   */
  chunkPut?: { rate?: number; nth?: readonly number[]; modes?: readonly ChunkFault[] };
}

export type ChunkFault = 'reset' | '5xx' | 'expired';
const CHUNK_FAULTS: readonly ChunkFault[] = ['reset', '5xx', 'expired'];

export interface RateDecision {
  headers: Record<string, string>;
  reject?: { code: 'too_many_requests' | 'usage_limit_exceeded'; message: string };
}

interface Window {
  start: number;
  used: number;
}

const DEFAULT_5XX = [500, 502, 503, 504] as const;

/** Holds the fault switches and the state they need (PRNG, rate windows, creation counter). */
export class FaultInjector {
  #config: FaultConfig = {};
  #random: () => number = mulberry32(1);
  #rateWindow: Window = { start: 0, used: 0 };
  #quotaWindow: Window = { start: 0, used: 0 };
  /** The default daily reset, fixed at the first request the quota counts (see `dailyQuota.resetAt`). */
  #quotaReset: number | undefined;
  #minuteWindow: Window = { start: 0, used: 0 };
  #quotaAnchor: number | undefined;
  readonly #created = new Map<CreateRouteId, number>();
  readonly injected = { latency: 0, rateLimited: 0, quotaExceeded: 0, minutesExceeded: 0, error5xx: 0, acceptThenFail: 0, slow: 0, chunkFaults: 0 };
  #chunkPuts = 0;

  constructor(initial: FaultConfig = {}) {
    this.set(initial);
  }

  get current(): Readonly<FaultConfig> {
    return this.#config;
  }

  /** Merges switches (an `undefined` value turns one off) and restarts their state: PRNG, windows, counters. */
  set(patch: FaultConfig): void {
    const next: Record<string, unknown> = { ...this.#config };
    for (const [key, value] of Object.entries(patch)) {
      if (value === undefined) delete next[key];
      else next[key] = value;
    }
    this.#config = next as FaultConfig;
    this.#restart();
  }

  reset(): void {
    this.#config = {};
    this.#restart();
  }

  /** The default daily reset: fixed once known, renewed only when the simulator's clock passes it (a new day). */
  #dailyReset(now: number): number {
    if (this.#quotaReset === undefined || now >= this.#quotaReset) this.#quotaReset = dailyReset(now);
    return this.#quotaReset;
  }

  #restart(): void {
    this.#quotaReset = undefined;
    this.#random = mulberry32(this.#config.seed ?? 1);
    this.#rateWindow = { start: 0, used: 0 };
    this.#quotaWindow = { start: 0, used: 0 };
    this.#minuteWindow = { start: 0, used: 0 };
    this.#quotaAnchor = undefined;
    this.#created.clear();
    this.#chunkPuts = 0;
  }

  /** Called once per chunk PUT: how to fail it, if at all. */
  chunkFault(): ChunkFault | undefined {
    this.#chunkPuts++;
    const fault = this.#config.chunkPut;
    if (!fault) return undefined;
    const hit = (fault.nth?.includes(this.#chunkPuts) ?? false) || (fault.rate !== undefined && this.#random() < fault.rate);
    if (!hit) return undefined;
    this.injected.chunkFaults++;
    const modes = fault.modes && fault.modes.length > 0 ? fault.modes : CHUNK_FAULTS;
    return modes[Math.floor(this.#random() * modes.length)] ?? 'reset';
  }

  latencyFor(route: RouteId): number {
    const latency = this.#config.latency;
    if (!latency || !applies(latency.routes, route)) return 0;
    this.injected.latency++;
    return typeof latency.ms === 'number' ? latency.ms : latency.ms.min + this.#random() * (latency.ms.max - latency.ms.min);
  }

  slowFor(route: RouteId): number {
    const slow = this.#config.slowResponse;
    if (!slow || !applies(slow.routes, route)) return 0;
    this.injected.slow++;
    return slow.ms;
  }

  /** Counts the request against the daily quota and the rate window; says what headers to add and whether to refuse. */
  admit(route: RouteId, now: number): RateDecision {
    const quota = this.#config.dailyQuota;
    const quotaApplies = quota !== undefined && applies(sharing(quota.routes ?? ['POST /tasks'], quota.shareTaskBucket), route);
    if (quota && quotaApplies) {
      const resetAt = quota.windowMs ? this.#windowEnd(quota.windowMs, now) : (quota.resetAt ?? this.#dailyReset(now));
      if (this.#quotaWindow.start !== resetAt) this.#quotaWindow = { start: resetAt, used: 0 };
      if (this.#quotaWindow.used >= quota.limit) {
        this.injected.quotaExceeded++;
        return {
          headers: limitHeaders(quota, quota.limit, quota.limit, resetAt, now),
          reject: {
            code: 'usage_limit_exceeded',
            message: 'Not enough free credit. Please register a payment method or contact sales@twelvelabs.io.',
          },
        };
      }
    }
    const minutes = this.#admitMinutes(route, now);
    if (minutes.reject) return minutes;
    const decision = this.#admitRate(route, now);
    if (quotaApplies && !decision.reject) this.#quotaWindow.used++;
    if (!decision.reject) minutes.charge?.();
    return { ...decision, headers: { ...minutes.headers, ...decision.headers } };
  }

  /** The end of the quota window `now` falls in: windows back to back from the first counted create. */
  #windowEnd(windowMs: number, now: number): number {
    const anchor = (this.#quotaAnchor ??= now);
    return anchor + (Math.floor((now - anchor) / windowMs) + 1) * windowMs;
  }

  #admitMinutes(route: RouteId, now: number): RateDecision & { charge?: () => void } {
    const limit = this.#config.videoMinutes;
    if (!limit || !applies(limit.routes ?? ['POST /tasks', TASK_BUCKET_PARTNER], route)) return { headers: {} };
    const start = Math.floor(now / limit.windowMs) * limit.windowMs;
    if (this.#minuteWindow.start !== start) this.#minuteWindow = { start, used: 0 };
    const charge = limit.minutesPerCreate ?? 1;
    const headers = (used: number): Record<string, string> =>
      limit.headers === false
        ? {}
        : {
            'X-Ratelimit-Video-Minutes-Limit': String(limit.limit),
            'X-Ratelimit-Video-Minutes-Remaining': String(Math.max(0, limit.limit - used)),
            'X-Ratelimit-Video-Minutes-Reset': String(Math.ceil((start + limit.windowMs) / 1000)),
          };
    if (this.#minuteWindow.used + charge > limit.limit) {
      this.injected.minutesExceeded++;
      const message = `You have exceeded the video-minute limit (${limit.limit} minutes). Please try again later after ${new Date(start + limit.windowMs).toISOString()}.`;
      return { headers: { ...headers(limit.limit), 'X-Ratelimit-Video-Minutes-Remaining': '0' }, reject: { code: 'too_many_requests', message } };
    }
    return {
      headers: headers(this.#minuteWindow.used + charge),
      charge: () => {
        this.#minuteWindow.used += charge;
      },
    };
  }

  #admitRate(route: RouteId, now: number): RateDecision {
    const rate = this.#config.rateLimit;
    if (!rate || !applies(sharing(rate.routes, rate.shareTaskBucket), route)) return { headers: {} };
    const start = Math.floor(now / rate.windowMs) * rate.windowMs;
    if (this.#rateWindow.start !== start) this.#rateWindow = { start, used: 0 };
    const resetAt = start + rate.windowMs;
    if (this.#rateWindow.used >= rate.limit) {
      this.injected.rateLimited++;
      return {
        headers: limitHeaders(rate, rate.limit, this.#rateWindow.used, resetAt, now),
        reject: {
          code: 'too_many_requests',
          message: `You have exceeded the rate limit (${rate.limit}). Please try again later after ${new Date(resetAt).toISOString()}.`,
        },
      };
    }
    this.#rateWindow.used++;
    return { headers: limitHeaders({ ...rate, retryAfter: false }, rate.limit, this.#rateWindow.used, resetAt, now) };
  }

  /** A 5xx status to answer instead of handling the request, or undefined. */
  serverError(route: RouteId): number | undefined {
    const fault = this.#config.error5xx;
    if (!fault || !applies(fault.routes, route)) return undefined;
    if (this.#random() >= fault.rate) return undefined;
    const statuses = fault.statuses && fault.statuses.length > 0 ? fault.statuses : DEFAULT_5XX;
    this.injected.error5xx++;
    return statuses[Math.floor(this.#random() * statuses.length)] ?? 500;
  }

  /** Called once per thing a create route created: how to lose the answer, if at all. */
  loseCreateAnswer(route: CreateRouteId): 'drop' | '500' | 'reset' | undefined {
    const created = (this.#created.get(route) ?? 0) + 1;
    this.#created.set(route, created);
    const fault = this.#config.postAcceptThenFail;
    if (!fault || !(fault.routes ?? ['POST /tasks']).includes(route)) return undefined;
    const hit = (fault.nth?.includes(created) ?? false) || (fault.rate !== undefined && this.#random() < fault.rate);
    if (!hit) return undefined;
    this.injected.acceptThenFail++;
    return fault.mode;
  }

  get visibilityLagMs(): number {
    return this.#config.taskVisibilityLagMs ?? 0;
  }

  get assetVisibilityLagMs(): number {
    return this.#config.assetVisibilityLagMs ?? this.visibilityLagMs;
  }

  get indexedAssetVisibilityLagMs(): number {
    return this.#config.indexedAssetVisibilityLagMs ?? this.visibilityLagMs;
  }

  get refusesEveryKey(): boolean {
    return this.#config.wrongKey ?? false;
  }
}

function applies(routes: readonly RouteId[] | undefined, route: RouteId): boolean {
  return routes === undefined || routes.includes(route);
}

/** The route set plus POST /indexes/{index_id}/indexed-assets when it names POST /tasks and shares. */
function sharing(routes: readonly RouteId[] | undefined, share = true): readonly RouteId[] | undefined {
  if (!routes || !share || !routes.includes('POST /tasks') || routes.includes(TASK_BUCKET_PARTNER)) return routes;
  return [...routes, TASK_BUCKET_PARTNER];
}

function limitHeaders(
  opts: { headers?: boolean; retryAfter?: boolean },
  limit: number,
  used: number,
  resetAt: number,
  now: number,
): Record<string, string> {
  const headers: Record<string, string> = {};
  if (opts.headers ?? true) {
    headers['X-Ratelimit-Limit'] = String(limit);
    headers['X-Ratelimit-Remaining'] = String(Math.max(0, limit - used));
    headers['X-Ratelimit-Used'] = String(used);
    headers['X-Ratelimit-Reset'] = String(Math.ceil(resetAt / 1000));
  }
  if (opts.retryAfter) headers['Retry-After'] = String(Math.max(1, Math.ceil((resetAt - now) / 1000)));
  return headers;
}

function nextUtcMidnight(now: number): number {
  const day = new Date(now);
  return Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate() + 1);
}

/** The daily quota's default reset: the next UTC midnight, or the one after when that is under 6 hours away. */
function dailyReset(now: number): number {
  const midnight = nextUtcMidnight(now);
  return midnight - now < 6 * 3600_000 ? midnight + 24 * 3600_000 : midnight;
}

/** A small seeded PRNG (mulberry32): reproducible faults without a dependency. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
