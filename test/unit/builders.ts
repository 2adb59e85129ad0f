import { DEFAULT_REQUIREMENTS, DEFAULT_VIDEO_EXTENSIONS, emptySummary, planMigration } from '../../src/planner/index.js';
import type {
  HeldItems,
  InFlightTask,
  IndexedVideoRef,
  LedgerEntry,
  LookupTables,
  PlanInput,
  PlanItem,
  PlanOptions,
  PlanSource,
  PlanSummary,
  ProbeResult,
} from '../../src/planner/index.js';
import type { SourceObject } from '../../src/sources/types.js';

export const BUCKET = 'media-archive';
export const MB = 1_000_000;

/** The URI the planner and the executor use for a key of BUCKET. */
export function uriOf(key: string): string {
  return `s3://${BUCKET}/${key}`;
}

/** An object as S3 lists it; the ETag defaults to one derived from the key, so distinct keys differ. */
export function aSourceObject(overrides: Partial<SourceObject> & { key: string }): SourceObject {
  return {
    size: 50 * MB,
    etag: `etag-of-${overrides.key}`,
    lastModified: '2024-05-01T12:00:00.000Z',
    ...overrides,
  };
}

/** A video already in the index; `filename` defaults to nothing a test relies on. */
export function anIndexedVideo(overrides: Partial<IndexedVideoRef> & { videoId: string; filename: string }): IndexedVideoRef {
  return { size: 50 * MB, ...overrides };
}

/** The user_metadata tlmigrate writes for an object, as the index returns it. */
export function fingerprintOf(object: SourceObject, runId = 'run-1'): Record<string, unknown> {
  return { tlm_source: uriOf(object.key), tlm_etag: object.etag, tlm_size: object.size, tlm_run: runId };
}

/** What an earlier run recorded for an object. */
export function aLedgerEntry(object: SourceObject, overrides: Partial<LedgerEntry> = {}): LedgerEntry {
  return { uri: uriOf(object.key), size: object.size, etag: object.etag, status: 'ready', taskId: `task-${object.key}`, videoId: `video-${object.key}`, ...overrides };
}

export function anInFlightTask(overrides: Partial<InFlightTask> & { filename: string }): InFlightTask {
  return { taskId: `task-${overrides.filename}`, status: 'indexing', ...overrides };
}

export function somePlanOptions(overrides: Partial<PlanOptions> = {}): PlanOptions {
  return {
    include: [],
    exclude: [],
    incremental: true,
    match: 'filename',
    probe: false,
    allFiles: false,
    extensions: DEFAULT_VIDEO_EXTENSIONS,
    requirements: DEFAULT_REQUIREMENTS,
    ...overrides,
  };
}

export async function* asyncIterable<T>(items: Iterable<T>): AsyncGenerator<T> {
  for (const item of items) {
    await Promise.resolve();
    yield item;
  }
}

/** Fake planner edges that record every call. */
export interface RecordingEdges {
  metadataCalls: string[];
  probeCalls: string[];
  videoMetadata(videoId: string): Promise<Record<string, unknown> | undefined>;
  probe?(object: SourceObject): Promise<ProbeResult>;
}

export function fakeEdges(
  metadata: Record<string, Record<string, unknown>> = {},
  probes?: Record<string, ProbeResult>,
): RecordingEdges {
  const edges: RecordingEdges = {
    metadataCalls: [],
    probeCalls: [],
    videoMetadata: async (videoId) => {
      edges.metadataCalls.push(videoId);
      return metadata[videoId];
    },
  };
  if (probes) {
    edges.probe = async (object) => {
      edges.probeCalls.push(object.key);
      const result = probes[object.key];
      if (!result) throw new Error(`test set no probe result for ${object.key}`);
      return result;
    };
  }
  return edges;
}

export interface PlanScenario {
  objects: SourceObject[];
  /** Besides these, the index holds the video of every `ready` ledger entry, unless `ledgerVideosGone`. */
  videos?: IndexedVideoRef[];
  ledgerVideosGone?: boolean;
  inFlight?: InFlightTask[];
  ledger?: LedgerEntry[];
  options?: Partial<PlanOptions>;
  edges?: RecordingEdges;
  concurrency?: number;
}

export function aPlanInput(scenario: PlanScenario): PlanInput & { edges: RecordingEdges } {
  const source: PlanSource = { uri: `s3://${BUCKET}`, bucket: BUCKET, prefix: '' };
  return {
    source,
    objects: asyncIterable(scenario.objects),
    videos: [...(scenario.videos ?? []), ...(scenario.ledgerVideosGone ? [] : ledgerVideos(scenario))],
    inFlight: scenario.inFlight ?? [],
    ledger: scenario.ledger ?? [],
    options: somePlanOptions(scenario.options),
    edges: scenario.edges ?? fakeEdges(),
    ...(scenario.concurrency === undefined ? {} : { concurrency: scenario.concurrency }),
  };
}

/** The videos the index holds for the ledger's `ready` entries (the index is the source of truth: a test that deletes one says so). */
function ledgerVideos(scenario: PlanScenario): IndexedVideoRef[] {
  const given = new Set((scenario.videos ?? []).map((v) => v.videoId));
  return (scenario.ledger ?? [])
    .filter((e) => e.status === 'ready' && e.videoId && !given.has(e.videoId))
    .map((e) => ({ videoId: e.videoId as string, filename: e.uri.slice(e.uri.lastIndexOf('/') + 1), size: e.size, userMetadata: { tlm_source: e.uri, tlm_etag: e.etag, tlm_size: e.size } }));
}

/**
 * Where plan() keeps the planner's lookups and held items: in memory, unless a test file sets
 * `make` (planner-on-disk.test.ts runs the planner's tests again with the CLI's files).
 */
export const planStorage: { make?: () => { tables: LookupTables; held: HeldItems; remove(): void } } = {};

/** Runs the planner to the end. */
export async function plan(scenario: PlanScenario): Promise<{ items: PlanItem[]; summary: PlanSummary; edges: RecordingEdges; byKey: (key: string) => PlanItem }> {
  const storage = planStorage.make?.();
  const input = { ...aPlanInput(scenario), ...(storage ? { tables: storage.tables, held: storage.held } : {}) };
  const summary = emptySummary();
  const items: PlanItem[] = [];
  try {
    for await (const item of planMigration(input, summary)) items.push(item);
  } finally {
    storage?.remove();
  }
  const byKey = (key: string): PlanItem => {
    const found = items.find((i) => i.key === key);
    if (!found) throw new Error(`no plan item for ${key}`);
    return found;
  };
  return { items, summary, edges: input.edges, byKey };
}
