import type { SimAsset, SimIndexedAsset, SimTask } from './model.js';
import type { RouteId } from './routes.js';

/** How an exchange ended: answered, or the connection was dropped/reset on purpose, or the client left first. */
export type Outcome = 'answered' | 'dropped' | 'reset' | 'client-gone';

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string | string[]>;
  route?: RouteId;
  /** The status sent (or that would have been sent, for 'dropped'/'reset'/'client-gone'). */
  status: number;
  outcome: Outcome;
  /** Simulator clock at arrival, epoch ms. */
  at: number;
  durationMs: number;
  body?: unknown;
  /** The fault switch that shaped this answer, if any. */
  fault?: string;
}

/** What "exactly once" forbids on the newer upload path. */
export interface AssetDuplicates {
  /** Source paths that got more than one asset. */
  sources: Map<string, number>;
  /** `<index id>/<asset id>` pairs indexed more than once. */
  indexings: Map<string, number>;
}

export interface SimCounts {
  requests: number;
  byRoute: Partial<Record<RouteId | 'unmatched', number>>;
  byStatus: Record<number, number>;
  tasksCreated: number;
  /** Tasks created per decoded `new URL(video_url).pathname` (`file:<name>` for uploads), answered or not. */
  tasksBySourcePath: Map<string, number>;
  assetsCreated: number;
  /** Assets created per decoded `new URL(url).pathname` (`file:<name>` for direct uploads), answered or not. */
  assetsBySourcePath: Map<string, number>;
  indexedAssetsCreated: number;
  /** Indexed assets created per asset id (in any index), answered or not. */
  indexedAssetsByAsset: Map<string, number>;
  rateLimited: number;
  unauthorized: number;
  serverErrors: number;
  connectionsLost: number;
}

/** Every request, as it ended, plus the tallies tests assert on. */
export class Recorder {
  readonly requests: RecordedRequest[] = [];
  readonly #bySource = new Map<string, number>();
  readonly #assetsBySource = new Map<string, number>();
  readonly #indexedByAsset = new Map<string, number>();
  readonly #indexings = new Map<string, number>();
  #tasksCreated = 0;
  #assetsCreated = 0;
  #indexedAssetsCreated = 0;

  add(record: RecordedRequest): void {
    this.requests.push(record);
  }

  taskCreated(task: SimTask): void {
    this.#tasksCreated++;
    bump(this.#bySource, task.source.kind === 'url' ? task.source.path : `file:${task.filename}`);
  }

  assetCreated(asset: SimAsset): void {
    this.#assetsCreated++;
    bump(this.#assetsBySource, assetSourcePath(asset));
  }

  indexedAssetCreated(indexed: SimIndexedAsset): void {
    this.#indexedAssetsCreated++;
    bump(this.#indexedByAsset, indexed.assetId);
    bump(this.#indexings, `${indexed.indexId}/${indexed.assetId}`);
  }

  clear(): void {
    this.requests.length = 0;
    this.#bySource.clear();
    this.#assetsBySource.clear();
    this.#indexedByAsset.clear();
    this.#indexings.clear();
    this.#tasksCreated = 0;
    this.#assetsCreated = 0;
    this.#indexedAssetsCreated = 0;
  }

  counts(): SimCounts {
    const counts: SimCounts = {
      requests: this.requests.length,
      byRoute: {},
      byStatus: {},
      tasksCreated: this.#tasksCreated,
      tasksBySourcePath: new Map(this.#bySource),
      assetsCreated: this.#assetsCreated,
      assetsBySourcePath: new Map(this.#assetsBySource),
      indexedAssetsCreated: this.#indexedAssetsCreated,
      indexedAssetsByAsset: new Map(this.#indexedByAsset),
      rateLimited: 0,
      unauthorized: 0,
      serverErrors: 0,
      connectionsLost: 0,
    };
    for (const r of this.requests) {
      const route = r.route ?? 'unmatched';
      counts.byRoute[route] = (counts.byRoute[route] ?? 0) + 1;
      if (r.outcome === 'dropped' || r.outcome === 'reset') {
        counts.connectionsLost++;
        continue;
      }
      counts.byStatus[r.status] = (counts.byStatus[r.status] ?? 0) + 1;
      if (r.status === 429) counts.rateLimited++;
      if (r.status === 401) counts.unauthorized++;
      if (r.status >= 500) counts.serverErrors++;
    }
    return counts;
  }

  /**
   * What "exactly once" forbids: source paths with more than one task (keyed by the path), plus
   * those of `assetDuplicates()` (keyed `asset:<path>` and `indexed:<index id>/<asset id>`).
   */
  duplicates(): Map<string, number> {
    const { sources, indexings } = this.assetDuplicates();
    return new Map([
      ...over(this.#bySource),
      ...[...sources].map(([path, n]) => [`asset:${path}`, n] as const),
      ...[...indexings].map(([pair, n]) => [`indexed:${pair}`, n] as const),
    ]);
  }

  assetDuplicates(): AssetDuplicates {
    return { sources: new Map(over(this.#assetsBySource)), indexings: new Map(over(this.#indexings)) };
  }
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

function over(map: Map<string, number>): Array<[string, number]> {
  return [...map].filter(([, n]) => n > 1);
}

/** A query string as a record; repeated keys become arrays. */
export function queryRecord(query: URLSearchParams): Record<string, string | string[]> {
  const record: Record<string, string | string[]> = {};
  for (const key of new Set(query.keys())) {
    const values = query.getAll(key);
    record[key] = values.length === 1 ? (values[0] ?? '') : values;
  }
  return record;
}

/** Decoded URL path, `file:<name>` for a direct upload, `multipart:<name>` for a multipart one. */
export function assetSourcePath(asset: Pick<SimAsset, 'source' | 'filename'>): string {
  const { source } = asset;
  if (source.kind === 'url') return source.path;
  return source.kind === 'file' ? `file:${source.filename}` : `multipart:${asset.filename}`;
}
