import type { SimTask } from './model.js';
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

export interface SimCounts {
  requests: number;
  byRoute: Partial<Record<RouteId | 'unmatched', number>>;
  byStatus: Record<number, number>;
  tasksCreated: number;
  /** Tasks created per decoded `new URL(video_url).pathname` (`file:<name>` for uploads), answered or not. */
  tasksBySourcePath: Map<string, number>;
  rateLimited: number;
  unauthorized: number;
  serverErrors: number;
  connectionsLost: number;
}

/** Every request, as it ended, plus the tallies tests assert on. */
export class Recorder {
  readonly requests: RecordedRequest[] = [];
  readonly #bySource = new Map<string, number>();
  #tasksCreated = 0;

  add(record: RecordedRequest): void {
    this.requests.push(record);
  }

  taskCreated(task: SimTask): void {
    this.#tasksCreated++;
    const key = task.source.kind === 'url' ? task.source.path : `file:${task.filename}`;
    this.#bySource.set(key, (this.#bySource.get(key) ?? 0) + 1);
  }

  clear(): void {
    this.requests.length = 0;
    this.#bySource.clear();
    this.#tasksCreated = 0;
  }

  counts(): SimCounts {
    const counts: SimCounts = {
      requests: this.requests.length,
      byRoute: {},
      byStatus: {},
      tasksCreated: this.#tasksCreated,
      tasksBySourcePath: new Map(this.#bySource),
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

  /** Source paths with more than one task: what "exactly once" forbids. */
  duplicates(): Map<string, number> {
    return new Map([...this.#bySource].filter(([, n]) => n > 1));
  }
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
