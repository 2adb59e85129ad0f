import { PLAN_SKIP_REASONS } from '../state/lifecycle.js';
import { formatBytes } from './requirements.js';
import type { PlanSummary } from './types.js';

const MATCH_LABEL: Record<string, string> = {
  ledger: 'by earlier runs',
  fingerprint: 'by fingerprint',
  filename_size: 'by filename+size',
  task: 'by task',
  source_content: 'by content',
};


/** The Terraform-style one-paragraph summary a person acts on. */
export function formatPlanSummary(summary: PlanSummary): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const inParts = summary.multipart ? `; ${n(summary.multipart)} of them in parts (multipart)` : '';
  const parts: string[] = [`${n(summary.counts.upload)} to upload (${formatBytes(summary.bytes.upload)}${inParts})`];
  const indexed = summary.reasons.indexed ?? 0;
  const by = Object.entries(summary.indexedBy)
    .filter(([, count]) => (count ?? 0) > 0)
    .map(([how, count]) => `${n(count ?? 0)} ${MATCH_LABEL[how] ?? `by ${how}`}`);
  parts.push(`${n(indexed)} already indexed${by.length ? ` (${by.join(', ')})` : ''}`);
  if (summary.reasons.in_progress) parts.push(`${n(summary.reasons.in_progress)} already in progress`);
  const failures = Object.entries(summary.reasons)
    .filter(([reason]) => !PLAN_SKIP_REASONS.has(reason))
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  parts.push(`${n(summary.counts.fail)} will fail preflight${failures.length ? ` (${failures.map(([r, c]) => `${n(c)} ${r}`).join(', ')})` : ''}`);
  const duplicates = summary.reasons.duplicate ?? 0;
  parts.push(`${n(duplicates)} ${duplicates === 1 ? 'duplicate' : 'duplicates'} in source`);
  parts.push(`${n(summary.reasons.excluded ?? 0)} excluded`);
  let text = `Plan: ${parts.join(', ')}.`;
  if (summary.collisions) text += `\nWarning: ${n(summary.collisions)} objects share a file name and size with a legacy video and with other keys; not guessed: they will be uploaded (see "collision" in the plan).`;
  return text;
}
