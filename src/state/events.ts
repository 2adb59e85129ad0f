import type { HistoryEntry, ItemState, RunRecord, StateFile } from './types.js';

/** One change to a state: an item's fields, a run record, the last plan applied, or a history entry. */
export type JournalEvent = { i: string; s: Partial<ItemState> } | { r: RunRecord } | { p: StateFile['lastPlan'] } | { h: HistoryEntry };

export function isJournalEvent(value: unknown): value is JournalEvent {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const event = value as Record<string, unknown>;
  const keys = Object.keys(event);
  const isObject = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (keys.length === 2 && typeof event['i'] === 'string' && isObject(event['s'])) return true;
  if (keys.length !== 1) return false;
  if ('r' in event) return isObject(event['r']) && typeof (event['r'] as Record<string, unknown>)['runId'] === 'string';
  if ('p' in event) return event['p'] === undefined || isObject(event['p']);
  if ('h' in event) return isObject(event['h']);
  return false;
}

/** What an item event's fields are laid over when the item is not in the state yet. */
export const BLANK_ITEM: Readonly<ItemState> = { key: '', size: 0, etag: '', status: 'planned', attempts: 0, updatedAt: '' };

export function applyEvent(state: StateFile, event: JournalEvent): void {
  if ('i' in event) {
    const current = state.items[event.i];
    state.items[event.i] = { ...(current ?? BLANK_ITEM), ...event.s } as ItemState;
  } else if ('r' in event) {
    const at = state.runs.findIndex((r) => r.runId === event.r.runId);
    if (at === -1) state.runs.push(event.r);
    else state.runs[at] = event.r;
  } else if ('p' in event) state.lastPlan = event.p;
  else if ('h' in event) {
    // Unlike the other events this one appends, so a journal replayed onto a newer checkpoint must not add it twice.
    const history = (state.history ??= []);
    const { at, action, videoId, taskId } = event.h;
    if (!history.some((e) => e.at === at && e.action === action && e.videoId === videoId && e.taskId === taskId)) history.push(event.h);
  }
}
