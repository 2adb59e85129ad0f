import { randomUUID } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import {
  DEFAULT_VIDEO_EXTENSIONS,
  PLAN_VERSION,
  emptySummary,
  planMigration,
  requirementsFor,
  type PlanHeader,
  type PlanOptions,
  type PlanSummary,
  type PlannerEdges,
  type ProbeResult,
  type RequirementsProfile,
} from '../planner/index.js';
import { InventoryLister } from '../sources/inventory.js';
import { prefetch } from '../sources/prefetch.js';
import { probeObject } from '../sources/probe.js';
import { S3Source, createS3Client, resolveS3Settings } from '../sources/s3.js';
import type { SourceLister, SourceObject } from '../sources/types.js';
import { parseS3Uri } from '../sources/uri.js';
import type { Ledger } from '../state/index.js';
import { toIndexSnapshot } from '../planner/index-snapshot.js';
import { SpilledListing } from '../planner/index-listing.js';
import { planWorkFiles, writePlanFile } from '../planner/plan-file.js';
import { heldInMemory } from '../planner/plan.js';
import { mapIterable } from '../planner/ordered.js';
import { memoryTables, type LookupTables } from '../planner/lookup.js';
import type { HeldItems } from '../planner/types.js';
import { ThreadedLister, canListOnThread, discardWarmListingThread } from '../sources/threaded-list.js';
import { getTransport } from '../twelvelabs/get-transport.js';
import { IN_FLIGHT_STATUSES, TLM_MARKER, readAllIndexedAssetsInto, readAllVideosInto, readTasksInto, slimAsset, slimTask, slimVideo } from '../twelvelabs/index-reader.js';
import { judgeMarkerFilter, knownMetadata, streamCreatedVideoIds } from '../twelvelabs/our-videos.js';
import { connectIndex, createApiClient, resolveBaseUrl, type CommandDeps } from './config.js';
import type { Progress } from './progress.js';
import type { Logger } from '../log.js';
import type { TwelveLabsClient } from '../twelvelabs/client.js';
import type { IndexInfo, IndexedAsset, IndexedVideo, Task } from '../twelvelabs/types.js';
import { VERSION } from './version.js';
import { ConfigError, SourceError } from '../errors.js';
import { KeyListLister, describeMissing } from '../sources/key-list.js';
import type { SourceSpec } from '../sources/types.js';
import { GlobCheck } from './glob-check.js';
import { nearest } from './suggest.js';

/** The planner's own options as the flags gave them, and what only the command needs. */
export interface PlanArgs extends Pick<PlanOptions, 'include' | 'exclude' | 'minSize' | 'maxSize' | 'incremental' | 'match' | 'probe' | 'allFiles'> {
  source: string;
  index: string;
  out: string;
  state: string;
  extensions?: string[] | undefined;
  requirements?: Partial<RequirementsProfile> | undefined;
  inventory?: string | undefined;
  apiUrl?: string | undefined;
  s3Endpoint?: string | undefined;
  s3Region?: string | undefined;
  s3ConnectTimeoutMs?: number | undefined;
  s3RequestTimeoutMs?: number | undefined;
  probeConcurrency: number;
  via: 'tasks' | 'assets';
  /** `--multipart-threshold`: with `--via assets`, larger objects are uploaded in parts. */
  multipartThresholdBytes?: number | undefined;
  /** Plan only the keys listed in this file (`-`: stdin), HEADed instead of listing the bucket. */
  filesFrom?: string | undefined;
  /** With `filesFrom`: a listed key missing from the bucket fails the plan. */
  failOnMissing?: boolean | undefined;
}

export interface PlanOutcome {
  header: PlanHeader;
  summary: PlanSummary;
  planFile: string;
  /** What the user would otherwise not notice: globs that matched nothing, an empty listing, missing listed keys. */
  warnings: string[];
  /** With `--files-from`: the listed keys that are not in the bucket. */
  missing?: string[] | undefined;
}

/** Plan: fail fast on configuration, read the index and the ledger, stream the source through the planner to a plan file. */
export async function runPlan(args: PlanArgs, deps: CommandDeps): Promise<PlanOutcome> {
  const { env, log, progress, stop: signal } = deps;
  const spec = parseS3Uri(args.source);
  const inventory = args.inventory === undefined ? undefined : parseS3Uri(args.inventory, '--inventory');
  if (args.minSize !== undefined && args.maxSize !== undefined && args.minSize > args.maxSize) {
    throw new ConfigError('size_bounds_invalid', `--min-size ${args.minSize} is larger than --max-size ${args.maxSize}: swap them`);
  }
  await checkFilesFrom(args);
  const apiUrl = resolveBaseUrl(args.apiUrl, env);
  const s3Settings = resolveS3Settings({ endpoint: args.s3Endpoint, region: args.s3Region, connectTimeoutMs: args.s3ConnectTimeoutMs, requestTimeoutMs: args.s3RequestTimeoutMs }, env);
  // The plan only reads (GETs): sent on node:http, lighter than fetch for its thousands of index pages.
  const api = createApiClient({ apiUrl, env, fetch: deps.fetch ?? getTransport() });
  // The index request goes out first; the listing's thread starts while it is answered.
  const connecting = connectIndex(api, args.index, apiUrl, signal);
  connecting.catch(() => undefined);
  await new Promise((resolve) => setImmediate(resolve));
  // Built on first use: a plain plan lists on its own thread and never loads the S3 SDK here.
  let sourceHere: S3Source | undefined;
  const source = () => (sourceHere ??= new S3Source(deps.s3 ?? createS3Client(s3Settings), spec.bucket));
  // The bucket listing runs on a thread of its own where it can (the compiled CLI, its own S3
  // client): the thread the CLI started with the process is handed the listing now, and checks
  // access (its first page) and lists while the index is read.
  const threaded = deps.s3 === undefined && !inventory && args.filesFrom === undefined && canListOnThread() ? new ThreadedLister(s3Settings, spec.bucket, spec.prefix, { bufferObjects: PREFETCH_OBJECTS }) : undefined;
  // A thread the CLI started early that this plan does not list on (an inventory, a key list).
  if (!threaded) discardWarmListingThread();
  try {
    // Both checks at once (a round trip less before the first listing). An index error is reported
    // first, as before, and at once: the S3 check (which may be retrying) is then called off.
    const stopCheck = new AbortController();
    const checkSignal = signal ? AbortSignal.any([signal, stopCheck.signal]) : stopCheck.signal;
    const checking = threaded ? threaded.checkAccess(checkSignal).then(() => threaded) : openLister(args, { spec, inventory, s3Settings, source }, checkSignal);
    checking.catch(() => undefined);
    const index = await connecting.catch((error: unknown) => {
      stopCheck.abort();
      throw error;
    });
    // The thread's check goes on while the index is read (the thread starts slower than the index
    // answers): its failure stops the plan at once, and is what the plan fails with.
    const checkFailed = new AbortController();
    const lister = threaded ?? (await checking);
    if (threaded) checking.catch((error: unknown) => checkFailed.abort(error));
    const planSignal = signal ? AbortSignal.any([signal, checkFailed.signal]) : checkFailed.signal;
    const globs = new GlobCheck(args.include, args.exclude, spec.prefix);
    const probe = async (object: SourceObject) =>
      probeObject(await source().presignGet(object.key, 900), object.key, { readTimeoutMs: s3Settings.requestTimeoutMs, signal });
    const { header, summary, listed } = await writePlan({ args, spec, api, index, lister, probe, globs, log, progress, signal: planSignal }).catch((error: unknown) => {
      throw checkFailed.signal.aborted && !signal?.aborted ? checkFailed.signal.reason : error;
    });
    const warnings = globs.warnings();
    const missing = lister instanceof KeyListLister ? lister.missing : undefined;
    if (missing?.length) warnings.push(`--files-from ${args.filesFrom}: ${describeMissing(missing, sourceUri(spec))}; planned the others`);
    else if (listed === 0 && !args.inventory && !args.filesFrom) warnings.push(await emptyListingWarning(source(), spec, signal));
    return { header, summary, planFile: args.out, warnings, missing };
  } finally {
    // However the plan ended: the listing's thread, read or not, ends with it.
    threaded?.stop();
  }
}

/** What the plan reads from the index: the listings, and one video's metadata when a match needs it. */
export type PlanIndexApi = Pick<TwelveLabsClient, 'listVideos' | 'listTasks' | 'listIndexedAssets' | 'getVideo'>;

export interface PlanDeps {
  args: PlanArgs;
  spec: SourceSpec;
  api: PlanIndexApi;
  index: Pick<IndexInfo, 'index_name' | 'models'>;
  lister: SourceLister;
  probe?: ((object: SourceObject) => Promise<ProbeResult>) | undefined;
  globs?: Pick<GlobCheck, 'see'> | undefined;
  log: Logger;
  progress: Progress;
  signal?: AbortSignal;
  /** Bytes the plan's work files hold in memory before they spill to disk (default WORK_MEMORY_BYTES). */
  workMemoryBytes?: number | undefined;
}

/**
 * The plan from a lister and an index to a plan file: the listing runs while the index is read,
 * then streams through the planner to the file. runPlan composes it with the real S3 and API;
 * bench:scale drives it with fakes behind the same interfaces.
 */
export async function writePlan(deps: PlanDeps): Promise<{ header: PlanHeader & { planId: string }; summary: PlanSummary; listed: number }> {
  const { args, spec, api, lister, progress, signal } = deps;
  // The index's listings, the planner's lookups and its held items: temporary files beside the plan, removed however the plan ends.
  const work = planWorkFiles(args.out, { memoryBytes: deps.workMemoryBytes });
  // The source listing starts now and buffers while the index is read: the two waits overlap.
  let listed = 0;
  const onListed = () => {
    listed += 1;
    if (listed % 500 === 0) progress.update(`source: ${listed.toLocaleString('en-US')} objects listed`);
  };
  const see = (object: SourceObject) => deps.globs?.see(object.key);
  let objects: AsyncIterableIterator<SourceObject> & { stop(): void };
  try {
    const listing = lister.list({ prefix: spec.prefix }, signal);
    // A listing on its own thread runs ahead by itself; any other is read ahead here.
    objects = isRunningAhead(listing) ? Object.assign(tap(listing, (object) => (see(object), onListed())), { stop: () => listing.stop() }) : prefetch(tap(listing, see), PREFETCH_OBJECTS, onListed);
  } catch (error) {
    work.remove();
    throw error;
  }
  try {
    const snapshot = await readIndexSnapshot(api, args, progress, signal, work);
    deps.log.info({ videos: snapshot.videoCount, inFlight: snapshot.inFlightCount, markerFilter: snapshot.ours.verdict }, 'index read');
    const header = planHeader(args, spec, deps.index);
    const summary = emptySummary();
    const edges = planEdges(deps, () => listed);
    const input = { source: header.source, objects, videos: snapshot.videoRefs, videoIds: snapshot.videoIds, inFlight: snapshot.inFlight, ledger: snapshot.ledger, options: header.options, concurrency: args.probeConcurrency, held: work.held, tables: work.tables, edges };
    try {
      await writePlanFile(args.out, header, planMigration(input, summary), () => summary);
    } finally {
      await snapshot.ledger.close();
    }
    progress.done();
    deps.log.info({ listed, planFile: args.out, counts: summary.counts }, 'plan written');
    return { header, summary, listed };
  } finally {
    // However the plan ended (a plan file it may not write fails before the first object is read): the listing stops too.
    objects.stop();
    work.remove();
  }
}

/** What the planner calls out for: one video's metadata, and (with --probe) an object's probe, counted on the progress line. */
function planEdges(deps: PlanDeps, listed: () => number): PlannerEdges {
  const { api, args, progress, signal, probe } = deps;
  let probes = 0;
  return {
    videoMetadata: async (videoId) => (await api.getVideo(args.index, videoId, signal)).user_metadata ?? undefined,
    probe: async (object) => {
      if (!probe) throw new ConfigError('probe_unavailable', '--probe needs a source that can sign URLs');
      const probed = await probe(object);
      probes += 1;
      const objects = listed();
      progress.update(`probe: ${probes.toLocaleString('en-US')} ${probes === 1 ? 'video' : 'videos'} read for duration and resolution (${objects.toLocaleString('en-US')} ${objects === 1 ? 'object' : 'objects'} listed)`);
      return probed;
    },
  };
}

/** Where the index listings are kept while a plan is made: lookup tables and files of lines (in memory unless given). */
export interface IndexStorage {
  tables: LookupTables;
  lines(name: string): HeldItems;
}

/**
 * The ledger, the index's videos (and which are tlmigrate's), its tasks in flight and, with --via
 * assets, its indexed assets. The listings go into `storage` page by page as they arrive (the CLI's:
 * files beside the plan), so an index of millions of videos is never held in memory.
 */
export async function readIndexSnapshot(api: PlanIndexApi, args: Pick<PlanArgs, 'index' | 'state' | 'source' | 'via'>, progress: Progress, signal?: AbortSignal, storage: IndexStorage = { tables: memoryTables(), lines: () => heldInMemory() }) {
  const pageProgress = (what: string) => (_k: string, p: number, t: number) => progress.update(`index: page ${p}/${t} of ${what}`);
  // One listing failing stops the others: nothing may write to the storage once its caller cleans up.
  const stop = new AbortController();
  const inner = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
  const opts = (what: string) => ({ signal: inner, onPage: pageProgress(what) });
  const videos = new SpilledListing<IndexedVideo>(storage.tables, storage.lines('videos'), 'videos');
  // The videos tlmigrate made, in one filtered listing: once the filter proves itself, every other
  // video is known to carry no fingerprint, and matching it by file name + size needs no GET.
  const marked = new SpilledListing<IndexedVideo>(storage.tables, storage.lines('marked'), 'marked');
  const markedRead = readAllVideosInto(api, args.index, marked, slimVideo, { signal: inner, userMetadata: TLM_MARKER });
  const judgeApi = { getVideo: prefetchedSample(api, args.index, markedRead.then(() => marked.first), signal) };
  const assets = args.via === 'assets' ? new SpilledListing<IndexedAsset>(storage.tables, storage.lines('assets'), 'assets') : undefined;
  // Streamed from the state file whenever it is read (the marker filter's judgement, the planner): never held whole.
  // The state module loads only when there is a state to read.
  const ledgerRead = existsSync(args.state)
    ? import('../state/index.js').then(({ readLedger }) => readLedger(args.state, { uri: sourceUri(parseS3Uri(args.source)), indexId: args.index }))
    : Promise.resolve(NO_LEDGER);
  const tasks = new SpilledListing<Task>(storage.tables, storage.lines('tasks'), 'tasks');
  const tasksRead = readTasksInto(api, { indexId: args.index, status: IN_FLIGHT_STATUSES }, tasks, slimTask, opts('in-progress tasks'));
  // With --via assets, "indexed" also means the index's indexed assets (in progress ones included).
  const assetsRead = assets ? readAllIndexedAssetsInto(api, args.index, assets, slimAsset, opts('indexed assets')) : undefined;
  await settleAll(stop, [ledgerRead, tasksRead, readAllVideosInto(api, args.index, videos, slimVideo, opts('videos')), markedRead, assetsRead]).catch((error: unknown) => {
    void ledgerRead.then((opened) => opened.close()).catch(() => undefined);
    throw error;
  });
  const ledger = await ledgerRead;
  try {
    const ours = await judgeMarkerFilter(judgeApi, args.index, { all: videos, filtered: marked, known: streamCreatedVideoIds(ledger) }, signal);
    return { ...(await toIndexSnapshot(ledger, videos, (v) => knownMetadata(v, ours), tasks, assets)), ours };
  } catch (error) {
    await ledger.close();
    throw error;
  }
}

/**
 * Waits for every read, like Promise.all; but on the first failure the others are stopped (`stop`)
 * and awaited before that failure is thrown, so none still writes once the caller cleans up.
 */
async function settleAll(stop: AbortController, reads: Array<Promise<unknown> | undefined>): Promise<void> {
  let first: { error: unknown } | undefined;
  const stopOthers = (error: unknown) => {
    first ??= { error };
    stop.abort();
  };
  await Promise.all(reads.map((read) => read?.catch(stopOthers)));
  if (first) throw first.error;
}

/**
 * getVideo for the marker filter's judgement, which reads one listed video once every listing is in:
 * that GET is sent as soon as the (short) filtered listing is, so it costs no round trip at the end.
 */
function prefetchedSample(api: PlanIndexApi, indexId: string, markedFirst: Promise<IndexedVideo | undefined>, signal?: AbortSignal): PlanIndexApi['getVideo'] {
  const sample = markedFirst.then(
    (first) => {
      if (!first || first.user_metadata) return undefined;
      const video = api.getVideo(indexId, first._id, signal);
      video.catch(() => undefined);
      return { id: first._id, video };
    },
    () => undefined,
  );
  return async (index, videoId, s) => {
    const warm = await sample;
    return warm?.id === videoId && index === indexId ? warm.video : api.getVideo(index, videoId, s);
  };
}

function planHeader(args: PlanArgs, spec: SourceSpec, index: Pick<IndexInfo, 'index_name' | 'models'>): PlanHeader & { planId: string } {
  const requirements = requirementsFor(args.via, args.requirements ?? {}, (index.models ?? []).map((m) => m.model_name));
  const options: PlanOptions = {
    include: args.include,
    exclude: args.exclude,
    minSize: args.minSize,
    maxSize: args.maxSize,
    incremental: args.incremental,
    match: args.match,
    probe: args.probe,
    allFiles: args.allFiles,
    extensions: args.extensions?.length ? args.extensions : DEFAULT_VIDEO_EXTENSIONS,
    requirements,
    via: args.via,
    ...(args.multipartThresholdBytes === undefined ? {} : { multipartThresholdBytes: args.multipartThresholdBytes }),
  };
  return {
    version: PLAN_VERSION,
    planId: randomUUID(),
    createdAt: new Date().toISOString(),
    tool: `tlmigrate ${VERSION}`,
    source: { uri: sourceUri(spec), bucket: spec.bucket, prefix: spec.prefix, ...(args.inventory ? { inventory: args.inventory } : {}) },
    indexId: args.index,
    indexName: index.index_name,
    options,
  };
}

/** The listing the plan reads: the bucket, an S3 Inventory report, or the keys of --files-from. */
async function openLister(
  args: PlanArgs,
  { spec, inventory, s3Settings, source: sourceOf }: { spec: SourceSpec; inventory: SourceSpec | undefined; s3Settings: ReturnType<typeof resolveS3Settings>; source: () => S3Source },
  signal?: AbortSignal,
): Promise<SourceLister> {
  if (inventory) {
    // The report's body may pause as long as its reader does: the reader guards silence itself.
    const inventoryLister = new InventoryLister(createS3Client(s3Settings, { streaming: true }), inventory.bucket, inventory.prefix, spec.bucket, s3Settings.requestTimeoutMs);
    await inventoryLister.checkAccess(signal);
    return inventoryLister;
  }
  const source = sourceOf();
  if (args.filesFrom === undefined) {
    await source.checkAccess(spec.prefix, signal);
    return source;
  }
  // HEADs need s3:GetObject only: a denied listing is no reason to stop, a missing bucket is.
  await source.checkAccess(spec.prefix, signal).catch((error: unknown) => {
    if (!(error instanceof SourceError && error.code === 'access_denied')) throw error;
  });
  const name = args.filesFrom;
  return new KeyListLister(source, readLines(name), { spec, name, concurrency: args.probeConcurrency, failOnMissing: args.failOnMissing ?? false });
}

/** Refuses a --files-from that cannot work before anything is read or written. */
async function checkFilesFrom(args: PlanArgs): Promise<void> {
  if (args.filesFrom === undefined) {
    if (args.failOnMissing) throw new ConfigError('files_from_missing_flag', '--fail-on-missing applies to --files-from: add --files-from FILE, or leave --fail-on-missing out');
    return;
  }
  if (args.inventory !== undefined) throw new ConfigError('files_from_with_inventory', '--files-from and --inventory both say which objects to plan: pass only one of them');
  if (args.filesFrom === '-') return;
  const info = await stat(args.filesFrom).catch((error: NodeJS.ErrnoException) => {
    throw new ConfigError('files_from_unreadable', `--files-from ${args.filesFrom}: cannot read it (${error.code ?? 'error'}): check the path (- reads stdin)`, { cause: error });
  });
  if (!info.isFile()) throw new ConfigError('files_from_unreadable', `--files-from ${args.filesFrom} is not a file: pass a file with one key per line (- reads stdin)`);
}

/** The lines of a file, or of stdin for `-`; a file that cannot be read is one line naming it. */
async function* readLines(path: string): AsyncGenerator<string> {
  const input = path === '-' ? process.stdin : createReadStream(path, 'utf8');
  const lines = createInterface({ input, crlfDelay: Infinity });
  try {
    yield* lines;
  } catch (error) {
    const code = error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : 'error';
    throw new ConfigError('files_from_unreadable', `--files-from ${path}: cannot read it (${code}): check the path (- reads stdin)`, { cause: error });
  } finally {
    lines.close();
  }
}

/** Nothing listed: name the prefix and the nearest ones that exist (one listing of the parent "folder"). */
async function emptyListingWarning(source: S3Source, spec: SourceSpec, signal?: AbortSignal): Promise<string> {
  const trimmed = spec.prefix.replace(/\/+$/, '');
  const parent = trimmed.includes('/') ? trimmed.slice(0, trimmed.lastIndexOf('/') + 1) : '';
  const siblings = spec.prefix === '' ? [] : await source.childPrefixes(parent, signal).catch(() => []);
  const near = nearest(spec.prefix, siblings, { limit: 3, maxDistance: Number.POSITIVE_INFINITY });
  const where = sourceUri(spec);
  if (spec.prefix === '') return `nothing listed in ${where}: the bucket is empty`;
  return `nothing listed under ${where}: check the prefix in --source${near.length ? `; existing prefixes nearby: ${near.map((p) => `s3://${spec.bucket}/${p}`).join(', ')}` : `; s3://${spec.bucket}/${parent} has no other prefixes`}`;
}

function isRunningAhead<T>(listing: AsyncIterable<T>): listing is AsyncIterable<T> & { stop(): void } {
  return listing instanceof Object && 'stop' in listing && typeof listing.stop === 'function';
}

function tap<T>(source: AsyncIterable<T>, see: (item: T) => void): AsyncIterableIterator<T> {
  return mapIterable(source, (item) => {
    see(item);
    return item;
  });
}

/** No state file: nothing recorded. */
const NO_LEDGER: Ledger = { [Symbol.asyncIterator]: async function* () {}, close: () => Promise.resolve() };

/** Objects listed ahead of the planner while it waits for the index; ~300 bytes each. */
const PREFETCH_OBJECTS = 50_000;

function sourceUri(spec: { bucket: string; prefix: string }): string {
  return `s3://${spec.bucket}${spec.prefix ? `/${spec.prefix}` : ''}`;
}
