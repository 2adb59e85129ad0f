import type { PlanHeader, PlanItem, PlanSummary } from '../planner/index.js';
import { formatCommand } from '../cli/shell.js';
import { GroupCollector, bump, type Group } from './groups.js';

export interface ReportOptions {
  /** Keys kept per group (failures of one reason, duplicates...); 0 keeps all. Counts are exact regardless. */
  maxKeys: number;
  /** Requests per minute, for the time-to-submit estimate. */
  maxRpm?: number | undefined;
  /** When the report is made (ISO); injected so output is reproducible. */
  generatedAt: string;
  /**
   * The plan file as a printed command should name it: the reported plan, or for a run report the
   * plan last applied to the state (when it was found). Absent: the commands say `PLAN.json`.
   */
  planFile?: string | undefined;
}

export interface PlanReport {
  kind: 'plan';
  generatedAt: string;
  source: PlanHeader['source'];
  indexId: string;
  indexName?: string | undefined;
  planCreatedAt: string;
  tool: string;
  probed: boolean;
  totals: { objects: number; upload: number; skip: number; fail: number; bytes: { upload: number; total: number }; ignored: number };
  indexed: { count: number; by: Record<string, number> };
  inProgress: Group<{ key: string; taskId?: string | undefined }>;
  /** Per reason (the platform's error code or ours), largest first. */
  failures: Group<{ key: string; detail: string }>[];
  duplicates: Group<{ key: string; duplicateOf: string }>;
  collisions: Group<{ key: string; with: string[] }>;
  excluded: { count: number; byDetail: Array<{ detail: string; count: number }> };
  /** From `--probe` data: durations of the videos to upload. */
  video?: { uploadsProbed: number; uploads: number; seconds: number; hours: number } | undefined;
  estimate?: { maxRpm: number; requests: number; seconds: number } | undefined;
  /** Where the plan's own summary disagrees with the recount of its items (a hand-edited plan). */
  summaryMismatch: string[];
  /** The command that applies this plan, ready to paste. */
  applyCommand: string;
}

const MAX_EXCLUSION_DETAILS = 50;

/** Recounts a plan from its items in one streaming pass; lists are capped, totals exact. */
export async function summarizePlan(header: PlanHeader, summary: PlanSummary, items: AsyncIterable<PlanItem>, options: ReportOptions): Promise<PlanReport> {
  const tally = new PlanTally(summary, options.maxKeys);
  for await (const item of items) tally.add(item);
  const { totals } = tally;
  const probed = header.options.probe || tally.anyProbe;
  return {
    kind: 'plan',
    generatedAt: options.generatedAt,
    source: header.source,
    indexId: header.indexId,
    indexName: header.indexName,
    planCreatedAt: header.createdAt,
    tool: header.tool,
    probed,
    totals,
    indexed: { count: tally.indexed, by: tally.indexedBy },
    inProgress: tally.inProgress.get('in_progress'),
    failures: tally.failures.list(),
    duplicates: tally.duplicates.get('duplicates'),
    collisions: tally.collisions.get('collisions'),
    excluded: {
      count: tally.excluded,
      byDetail: Object.entries(tally.excludedByDetail)
        .map(([detail, count]) => ({ detail, count }))
        .sort((a, b) => b.count - a.count || a.detail.localeCompare(b.detail)),
    },
    video: probed ? { uploadsProbed: tally.uploadsProbed, uploads: totals.upload, seconds: tally.seconds, hours: tally.seconds / 3600 } : undefined,
    estimate: options.maxRpm ? { maxRpm: options.maxRpm, requests: totals.upload, seconds: (totals.upload / options.maxRpm) * 60 } : undefined,
    summaryMismatch: compareSummary(summary, totals),
    applyCommand: formatCommand(['tlmigrate', 'apply', options.planFile ?? 'plan.json']),
  };
}

/** The counts and capped lists of a plan's items, one item at a time. */
class PlanTally {
  readonly totals: PlanReport['totals'];
  readonly indexedBy: Record<string, number> = {};
  indexed = 0;
  readonly inProgress: GroupCollector<{ key: string; taskId?: string | undefined }>;
  readonly failures: GroupCollector<{ key: string; detail: string }>;
  readonly duplicates: GroupCollector<{ key: string; duplicateOf: string }>;
  readonly collisions: GroupCollector<{ key: string; with: string[] }>;
  readonly excludedByDetail: Record<string, number> = {};
  excluded = 0;
  uploadsProbed = 0;
  seconds = 0;
  anyProbe = false;

  constructor(summary: PlanSummary, maxKeys: number) {
    this.totals = { objects: 0, upload: 0, skip: 0, fail: 0, bytes: { upload: 0, total: 0 }, ignored: summary.ignored };
    this.inProgress = new GroupCollector(maxKeys);
    this.failures = new GroupCollector(maxKeys);
    this.duplicates = new GroupCollector(maxKeys);
    this.collisions = new GroupCollector(maxKeys);
  }

  add(item: PlanItem): void {
    this.totals.objects += 1;
    this.totals[item.action] += 1;
    this.totals.bytes.total += item.size;
    if (item.probe) this.anyProbe = true;
    if (item.action === 'upload') this.addUpload(item);
    else if (item.action === 'fail') this.failures.add(item.reason ?? 'failed', { key: item.key, detail: item.detail ?? '' });
    else if (item.reason === 'indexed') {
      this.indexed += 1;
      bump(this.indexedBy, item.match?.by ?? 'unknown');
    } else if (item.reason === 'in_progress') this.inProgress.add('in_progress', { key: item.key, taskId: item.match?.taskId });
    else if (item.reason === 'duplicate') this.duplicates.add('duplicates', { key: item.key, duplicateOf: item.match?.duplicateOf ?? '' });
    else if (item.reason === 'excluded') {
      this.excluded += 1;
      const detail = item.detail ?? 'excluded';
      if (detail in this.excludedByDetail || Object.keys(this.excludedByDetail).length < MAX_EXCLUSION_DETAILS) bump(this.excludedByDetail, detail);
      else bump(this.excludedByDetail, 'other reasons');
    }
  }

  private addUpload(item: PlanItem): void {
    this.totals.bytes.upload += item.size;
    const d = item.probe?.durationSeconds;
    if (d !== undefined && Number.isFinite(d)) {
      this.uploadsProbed += 1;
      this.seconds += d;
    }
    if (item.collision) this.collisions.add('collisions', { key: item.key, with: item.collision });
  }
}

function compareSummary(summary: PlanSummary, totals: PlanReport['totals']): string[] {
  const out: string[] = [];
  const check = (name: string, declared: number | undefined, counted: number) => {
    if (declared !== undefined && declared !== counted) out.push(`${name}: the plan's summary says ${declared}, its items count ${counted}`);
  };
  check('objects', summary.total, totals.objects);
  check('upload', summary.counts?.upload, totals.upload);
  check('skip', summary.counts?.skip, totals.skip);
  check('fail', summary.counts?.fail, totals.fail);
  check('bytes to upload', summary.bytes?.upload, totals.bytes.upload);
  return out;
}
