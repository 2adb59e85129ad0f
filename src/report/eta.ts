import type { RunRecord } from '../state/index.js';
import { formatDuration } from './format.js';

/** What an ETA is made of: the rate so far, the work left, and the waits the run knows of. */
export interface EtaInputs {
  now: number;
  /** Items left to create. */
  remaining: number;
  /** Items created per second so far (this run, outside quota waits). */
  perSecond: number;
  /** The end of a wait under way (a quota window, a video-minute window), if any. */
  waitUntil?: number | undefined;
  /** Video minutes left to send, and the tightest per-hour cap known (user's or learned). */
  minutesLeft?: number | undefined;
  minutesPerHour?: number | undefined;
  /** A quota window seen whole (between two quota waits): the items it let through and its length. */
  quotaWindow?: { items: number; ms: number } | undefined;
}

/**
 * Seconds until the work left is done: the wait under way, then the longer of what the current
 * rate and the video-minute cap allow. Undefined while there is no rate to go by.
 */
export function estimateEtaSeconds(e: EtaInputs): number | undefined {
  if (e.remaining <= 0) return 0;
  const waiting = e.waitUntil !== undefined && e.waitUntil > e.now ? (e.waitUntil - e.now) / 1000 : 0;
  const byRate = e.perSecond > 0 ? e.remaining / e.perSecond : undefined;
  const byMinutes = e.minutesLeft !== undefined && e.minutesPerHour !== undefined && e.minutesPerHour > 0 ? (e.minutesLeft / e.minutesPerHour) * 3600 : undefined;
  // Each further quota window costs its whole length; the last one only what its items take.
  const q = e.quotaWindow;
  const byQuota = q && q.items > 0 ? (Math.ceil(e.remaining / q.items) - 1) * (q.ms / 1000) + (byRate ?? 0) / Math.ceil(e.remaining / q.items) : undefined;
  if (byRate === undefined && byMinutes === undefined && byQuota === undefined) return undefined;
  return waiting + Math.max(byRate ?? 0, byMinutes ?? 0, byQuota ?? 0);
}

/** `2 d 4 h`, or `-` when unknown: the one ETA wording of the progress line and `status`. */
export function formatEta(seconds: number | undefined): string {
  return seconds === undefined ? '-' : formatDuration(seconds);
}

/** `2026-11-30 14:05` in the machine's time zone: when a wait ends, as the user reads a clock. */
export function localTime(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}`;
}

/** "waiting for quota until 2026-11-30 14:05 (in 5 h 12 min)": the progress line and the log say the same. */
export function quotaWaitLine(untilMs: number, now: number): string {
  return `waiting for quota until ${localTime(untilMs)} (in ${formatDuration(Math.max(0, (untilMs - now) / 1000))})`;
}

/**
 * `status`'s ETA: the last run's pace (items it created per second, its quota waits left out) over
 * the items not created yet, plus what is left of a quota wait under way. Undefined when no run
 * has created anything yet.
 */
export function statusEta(tally: { remaining: number; createdInLastRun: number }, runs: readonly RunRecord[], now: number): { seconds: number | undefined; remaining: number; waitUntil?: number | undefined } {
  const remaining = tally.remaining;
  const last = runs.at(-1);
  if (!last) return { seconds: undefined, remaining };
  const end = last.endedAt ? Date.parse(last.endedAt) : now;
  const waits = last.waits ?? [];
  const waited = waits.reduce((sum, w) => sum + Math.max(0, Math.min(Date.parse(w.until), end) - Date.parse(w.at)), 0);
  const span = Math.max(1, end - Date.parse(last.startedAt) - waited) / 1000;
  const lastWait = waits.at(-1);
  const waitUntil = !last.endedAt && lastWait && Date.parse(lastWait.until) > now ? Date.parse(lastWait.until) : undefined;
  return { seconds: estimateEtaSeconds({ now, remaining, perSecond: tally.createdInLastRun / span, waitUntil }), remaining, waitUntil };
}
