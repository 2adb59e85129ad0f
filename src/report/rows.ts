import type { PlanItem } from '../planner/index.js';
import { PLAN_SKIP_REASONS, type ItemState } from '../state/index.js';

/** One object as a CSV report lists it, plan or run alike (an S3 Batch Operations completion report in spirit). */
export interface ReportRow {
  bucket: string;
  key: string;
  size: number;
  action: string;
  reason: string;
  taskId: string;
  videoId: string;
  status: string;
  errorCode: string;
  errorMessage: string;
}

export const SKIP_REASONS: ReadonlySet<string> = PLAN_SKIP_REASONS;

/** A plan item as a row; a preflight failure carries its reason as the error code. */
export function planItemRow(bucket: string, item: PlanItem): ReportRow {
  const failed = item.action === 'fail';
  return {
    bucket,
    key: item.key,
    size: item.size,
    action: item.action,
    reason: item.reason ?? '',
    taskId: item.match?.taskId ?? '',
    videoId: item.match?.videoId ?? '',
    status: '',
    errorCode: failed ? (item.reason ?? '') : '',
    errorMessage: failed ? (item.detail ?? '') : '',
  };
}

/**
 * What the plan asked for an item, recovered from the state: apply records skips and preflight
 * failures with their reason, uploads without one.
 */
export function actionOf(item: ItemState): 'upload' | 'skip' | 'fail' {
  if (!item.reason) return 'upload';
  if (SKIP_REASONS.has(item.reason)) return 'skip';
  return item.status === 'failed' ? 'fail' : 'upload';
}

export function stateItemRow(bucket: string, item: ItemState): ReportRow {
  return {
    bucket,
    key: item.key,
    size: item.size,
    action: actionOf(item),
    reason: item.reason ?? '',
    taskId: item.taskId ?? '',
    videoId: item.videoId ?? '',
    status: item.status,
    errorCode: item.lastError?.code ?? '',
    errorMessage: item.lastError?.message ?? '',
  };
}
