import type { Clock } from '../clock.js';
import type { MinuteSignal } from './minutes.js';
import { Pacer, type PacerStats, type RequestGate } from './pacer.js';

/**
 * The rate-limit categories the API documents: POST /tasks shares its limit with
 * POST /indexes/{id}/indexed-assets; POST /assets has its own; reads (GET, and the rare
 * PATCH/DELETE) have theirs. Each is paced apart, so a throttled GET never slows a create.
 */
export type LimitCategory = 'tasks' | 'assets' | 'reads';

export const LIMIT_CATEGORIES: readonly LimitCategory[] = ['tasks', 'assets', 'reads'];

/** The category of one request, from its method and path (the path after the version, no query). */
export function limitCategory(method: string, path: string): LimitCategory {
  if (method !== 'POST') return 'reads';
  if (path === '/assets') return 'assets';
  return 'tasks';
}

/** Picks the gate of a request: the client asks it once per attempt. */
export interface GateRouter {
  gateFor(method: string, path: string): RequestGate;
}

export interface PacerSetOptions {
  clock: Clock;
  /** User cap on requests per minute, applied to each category (each has its own limit on the server). */
  maxRpm?: number | undefined;
  random?: () => number;
  onThrottle?: (category: LimitCategory, pauseMs: number) => void;
  /** Learns the video-minute limit the create answers announce. */
  minutes?: { learn(signal: MinuteSignal): void } | undefined;
}

/** One Pacer per limit category, each learning from its own X-Ratelimit-* headers and 429s. */
export class PacerSet implements GateRouter {
  readonly pacers: Readonly<Record<LimitCategory, Pacer>>;
  private readonly gates: Readonly<Record<LimitCategory, RequestGate>>;

  constructor(options: PacerSetOptions) {
    const make = (category: LimitCategory) =>
      new Pacer({
        clock: options.clock,
        maxRpm: options.maxRpm,
        ...(options.random ? { random: options.random } : {}),
        onThrottle: (ms) => options.onThrottle?.(category, ms),
      });
    this.pacers = { tasks: make('tasks'), assets: make('assets'), reads: make('reads') };
    const learning = (pacer: Pacer): RequestGate => ({
      acquire: (signal) => pacer.acquire(signal),
      release: (answer) => {
        if (answer.videoMinutes) options.minutes?.learn(answer.videoMinutes);
        pacer.release(answer);
      },
    });
    this.gates = { tasks: learning(this.pacers.tasks), assets: learning(this.pacers.assets), reads: this.pacers.reads };
  }

  gateFor(method: string, path: string): RequestGate {
    return this.gates[limitCategory(method, path)];
  }

  /** Totals over the categories, and each category's own figures. */
  get stats(): PacerStats & { byCategory: Record<LimitCategory, PacerStats> } {
    const byCategory = { tasks: { ...this.pacers.tasks.stats }, assets: { ...this.pacers.assets.stats }, reads: { ...this.pacers.reads.stats } };
    const all = Object.values(byCategory);
    return {
      sent: all.reduce((n, s) => n + s.sent, 0),
      throttled: all.reduce((n, s) => n + s.throttled, 0),
      pausedMs: all.reduce((n, s) => n + s.pausedMs, 0),
      currentRpm: byCategory.tasks.currentRpm,
      byCategory,
    };
  }
}

/** A gate or a router, as the client takes it. */
export function isGateRouter(gate: RequestGate | GateRouter): gate is GateRouter {
  return 'gateFor' in gate;
}
