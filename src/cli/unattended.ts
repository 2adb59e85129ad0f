import { ConfigError } from '../errors.js';
import type { BudgetReason, ExecuteResult } from '../executor/types.js';
import type { PlanItem } from '../planner/index.js';
import { formatDuration } from '../report/format.js';

/** The flags of a run left to itself for days: budgets, deadline, quota waits, video-minute pacing. */
export interface UnattendedArgs {
  waitForQuota?: boolean | undefined;
  maxItems?: number | undefined;
  maxVideoHours?: number | undefined;
  /** Epoch ms (--stop-at). */
  stopAt?: number | undefined;
  /** --max-run-time, in ms. */
  maxRunTimeMs?: number | undefined;
  maxVideoMinutesPerHour?: number | undefined;
  maxVideoMinutesPerDay?: number | undefined;
}

/**
 * `--stop-at`: `HH:MM` (the next such local time, today or tomorrow) or an ISO 8601 date-time
 * (`2026-12-01T06:00`, local unless it names a zone). A time already past is refused.
 */
export function parseStopAt(text: string, now: number): number {
  const trimmed = text.trim();
  const clock = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(trimmed);
  let at: number;
  if (clock) {
    const [h, m, s] = [Number(clock[1]), Number(clock[2]), Number(clock[3] ?? 0)];
    if (h > 23 || m > 59 || s > 59) throw stopAtError(text, 'is not a time of day');
    const d = new Date(now);
    d.setHours(h, m, s, 0);
    at = d.getTime() <= now ? d.getTime() + 86_400_000 : d.getTime();
  } else if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/.test(trimmed)) {
    at = Date.parse(trimmed.replace(' ', 'T'));
    if (Number.isNaN(at)) throw stopAtError(text, 'is not a date-time');
    if (at <= now) throw stopAtError(text, 'is already past');
  } else throw stopAtError(text, 'is not a time');
  return at;
}

function stopAtError(text: string, what: string): ConfigError {
  return new ConfigError('flag_invalid', `--stop-at ${JSON.stringify(text)} ${what}: write a local time such as 06:30, or a date-time such as 2026-12-01T06:30`);
}

/** The first of --stop-at and now + --max-run-time, if either is set. */
export function runDeadline(args: UnattendedArgs, startedAt: number): number | undefined {
  const bounds = [args.stopAt, args.maxRunTimeMs === undefined ? undefined : startedAt + args.maxRunTimeMs].filter((b): b is number => b !== undefined);
  return bounds.length ? Math.min(...bounds) : undefined;
}

/** The flags that count video minutes, by name, when set. */
function minuteFlags(args: UnattendedArgs): string[] {
  return [
    args.maxVideoHours !== undefined ? '--max-video-hours' : '',
    args.maxVideoMinutesPerHour !== undefined ? '--max-video-minutes-per-hour' : '',
    args.maxVideoMinutesPerDay !== undefined ? '--max-video-minutes-per-day' : '',
  ].filter(Boolean);
}

/**
 * Refuses video-minute budgets and caps when the plan does not know every upload's duration
 * (only `plan --probe` measures them): one line, before the state is touched.
 */
export async function requireDurations(args: UnattendedArgs, items: AsyncIterable<PlanItem>, planPath: string): Promise<void> {
  const flags = minuteFlags(args);
  if (flags.length === 0) return;
  let missing = 0;
  let first = '';
  for await (const item of items) {
    if (item.action !== 'upload' || item.probe?.durationSeconds !== undefined) continue;
    missing += 1;
    first ||= item.key;
  }
  if (missing > 0) {
    throw new ConfigError(
      'durations_unknown',
      `${flags.join(' and ')} need${flags.length === 1 ? 's' : ''} each video's duration, but plan ${planPath} has none for ${missing} upload${missing === 1 ? '' : 's'} (e.g. ${first}): re-plan with tlmigrate plan --probe`,
    );
  }
}

const BUDGET_FLAG: Record<BudgetReason, string> = { max_items: '--max-items', max_video_hours: '--max-video-hours', deadline: '--stop-at / --max-run-time' };

export function hours(seconds: number): string {
  return `${(seconds / 3600).toFixed(seconds >= 36_000 ? 0 : 2)} video h`;
}

/** The budget stop, in one sentence: what was reached, what this run started, what is left. */
export function budgetLine(result: ExecuteResult, left: { items: number; videoSeconds?: number | undefined }, resume: string): string {
  const reason = result.budget?.reason ?? 'deadline';
  const used = result.used ?? { items: 0, videoSeconds: 0 };
  const usedText = `${used.items} items started${used.videoSeconds ? ` (${hours(used.videoSeconds)})` : ''}`;
  const leftText = `${left.items} items${left.videoSeconds ? ` (${hours(left.videoSeconds)})` : ''}`;
  return `Budget reached (${BUDGET_FLAG[reason]}): stopped cleanly, ${usedText} and ${result.submitted} submitted this run; left for the next run: ${leftText}. Resume with: ${resume}`;
}

/** What the quota waits cost this run, for the summary line. */
export function waitsLine(waits: ReadonlyArray<{ at: string; until: string }> | undefined): string {
  if (!waits?.length) return '';
  const total = waits.reduce((sum, w) => sum + Math.max(0, Date.parse(w.until) - Date.parse(w.at)), 0) / 1000;
  return ` Waited for quota ${waits.length} time${waits.length === 1 ? '' : 's'} (${formatDuration(total)} in all).`;
}
