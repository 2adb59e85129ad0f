import type { SourceObject } from '../sources/types.js';
import { UNFINISHED, statusIn } from '../state/lifecycle.js';
import { basename, filenameForms, isFolderMarker, keyFilter } from './filters.js';
import { contentKey, fingerprintContent, isFingerprintOf, objectUri } from './identity.js';
import { memoryTables, type LookupTable, type LookupTables } from './lookup.js';
import { mapOrdered, runSteps, wait } from './ordered.js';
import { formatBytes, multipartThreshold, preflightKey, preflightListing, preflightProbe, uploadMethod } from './requirements.js';
import type { HeldItems, InFlightTask, IndexedVideoRef, LedgerEntry, PlanInput, PlanItem, PlanMatch, PlanSummary } from './types.js';

type Decision = { item: PlanItem; deferKey?: string } | undefined;

/** A value now, or once a request answers. */
type Maybe<T> = T | Promise<T>;

/** A video with this content under some key: its fingerprint's source, and its place in the index listing. */
interface Twin {
  uri: string;
  videoId: string;
  at: number;
}

/** What a legacy file name and size was seen with: a key and its ETag, or one item held back for it. */
type NameSizeRecord = { key: string; etag: string } | { deferred: 1 };

/** What the planner knows before the first object: the ledger, the index, and what it has seen of the source so far. */
interface PlanView {
  input: PlanInput;
  filter: ReturnType<typeof keyFilter>;
  uri: (key: string) => string;
  /** The key of a source URI under this bucket (the URI itself when it is another bucket's). */
  keyOf: (sourceUri: string) => string;
  ledgerByUri: LookupTable<LedgerEntry>;
  /** Entries indexed or on their way, by content: the last one still indexed says another key with it is a duplicate. */
  ledgerByContent: LookupTable<LedgerEntry>;
  /** A ledger entry says "indexed" only while its video is still in the index: the index decides. */
  stillIndexed: (entry: LedgerEntry) => boolean;
  videosByName: LookupTable<IndexedVideoRef>;
  /** Videos whose listed metadata is a fingerprint, by their size and the fingerprint's content. */
  twinsByContent: LookupTable<Twin>;
  /** Videos whose metadata is not known yet and may be a fingerprint (a GET tells), by size. */
  unreadBySize: LookupTable<IndexedVideoRef & { at: number }>;
  /** At once when known (listed, or read before), else a promise of the GET's answer. */
  metadataOf: (video: IndexedVideoRef) => Maybe<Record<string, unknown> | undefined>;
  inFlightByName: LookupTable<InFlightTask>;
  /** Content key -> the first source key seen with it. */
  contentOwner: LookupTable<string>;
  /** `basename\0size` -> the keys seen with it and the items held back for it, for names a legacy video shares. */
  byNameSize: LookupTable<NameSizeRecord>;
  /** Whether some name and size had more than one item held back. */
  anyShared: boolean;
  /** The sizes whose unread videos are being read (GET) for their fingerprints: only while they are read. */
  readingSizes: Map<number, Promise<void>>;
  /** The sizes whose unread videos were read: their fingerprints are in `twinsByContent` with the listed ones. */
  sizesRead: LookupTable<0>;
  tables: LookupTables;
}

/**
 * Diffs a source against an index and what earlier runs recorded. Pure: every effect comes in
 * through `input` (async iterables and the injected edges). Yields one item per object, in listing
 * order, except items whose only evidence is an ambiguous file-name match: those follow at the end,
 * once every key is known, so a basename collision is reported rather than guessed.
 */
export async function* planMigration(input: PlanInput, summary: PlanSummary = emptySummary()): AsyncGenerator<PlanItem> {
  const view = await viewOf(input);
  // Items whose only evidence is a legacy file-name match, with their `basename\0size`.
  const held = input.held ?? heldInMemory();
  let heldBack = 0;
  /** A decision's item to yield, if any: an ignored object is counted, a legacy match held back. */
  const take = (decision: Decision): PlanItem | undefined => {
    if (!decision) {
      summary.ignored += 1;
      return undefined;
    }
    if (decision.deferKey !== undefined) {
      held.append(JSON.stringify([decision.deferKey, decision.item]));
      heldBack += 1;
      const earlier = view.byNameSize.get(decision.deferKey);
      if (earlier.some((record) => 'deferred' in record)) view.anyShared = true;
      if (earlier.length === 0) view.byNameSize.add(decision.deferKey, { key: decision.item.key, etag: decision.item.etag });
      view.byNameSize.add(decision.deferKey, { deferred: 1 });
      return undefined;
    }
    count(summary, decision.item);
    return decision.item;
  };
  // Decisions in listing order, up to `concurrency` of them waiting for a request; most need none
  // and are taken at once, without a promise (a promise and a generator step cost ~1 us each, per
  // object: see docs/benchmarks.md, "The planner's decisions without a promise each").
  const concurrency = input.concurrency ?? 16;
  const window: Array<Maybe<Decision>> = [];
  for await (const object of input.objects) {
    window.push(decideInOrder(view, object));
    while (window.length > 0 && (window.length >= concurrency || !(window[0] instanceof Promise))) {
      const item = take(await window.shift());
      if (item) yield item;
    }
  }
  while (window.length > 0) {
    const item = take(await window.shift());
    if (item) yield item;
  }
  if (heldBack > 0) yield* resolveLegacyMatches(view, held, summary);
}

/**
 * decide, a failure included: thrown when its turn comes, after the objects before it. A promise
 * waiting in the window is handled now (its rejection is thrown when taken), so that it is never
 * reported as unhandled meanwhile.
 */
function decideInOrder(view: PlanView, object: SourceObject): Maybe<Decision> {
  let decision: Maybe<Decision>;
  try {
    decision = decide(view, object);
  } catch (error) {
    decision = Promise.reject(error);
  }
  if (decision instanceof Promise) decision.catch(() => undefined);
  return decision;
}

async function viewOf(input: PlanInput): Promise<PlanView> {
  const uri = (key: string) => objectUri(input.source.bucket, key);
  const tables = input.tables ?? memoryTables();
  const view: PlanView = {
    input,
    filter: keyFilter(input.options),
    uri,
    keyOf: (sourceUri) => (sourceUri.startsWith(uri('')) ? sourceUri.slice(uri('').length) : sourceUri),
    ledgerByUri: tables.open('ledger-by-uri'),
    ledgerByContent: tables.open('ledger-by-content'),
    stillIndexed: (entry) => entry.status !== 'ready' || !entry.videoId || videoIds.has(entry.videoId),
    videosByName: tables.open('videos-by-name'),
    twinsByContent: tables.open('twins-by-content'),
    unreadBySize: tables.open('unread-by-size'),
    metadataOf: metadataReader(input, tables.open('metadata-read')),
    inFlightByName: tables.open('in-flight-by-name'),
    contentOwner: tables.open('content-owner'),
    byNameSize: tables.open('name-size'),
    anyShared: false,
    readingSizes: new Map(),
    sizesRead: tables.open('sizes-read'),
    tables,
  };
  const idTable = input.videoIds ? undefined : tables.open<0>('video-ids');
  const videoIds = input.videoIds ?? { has: (id: string) => (idTable?.get(id).length ?? 0) > 0 };
  let at = 0;
  for await (const video of input.videos) {
    view.videosByName.add(video.filename, video);
    idTable?.add(video.videoId, 0);
    if (video.size !== undefined) {
      const fingerprint = video.userMetadata === undefined ? undefined : fingerprintContent(video.userMetadata);
      if (fingerprint) view.twinsByContent.add(`${video.size}\0${fingerprint.content}`, { uri: fingerprint.uri, videoId: video.videoId, at });
      else if (video.userMetadata === undefined) view.unreadBySize.add(String(video.size), { ...video, at });
    }
    at += 1;
  }
  for await (const entry of input.ledger) {
    view.ledgerByUri.add(entry.uri, entry);
    if (entry.status === 'ready' || statusIn(UNFINISHED, entry.status)) view.ledgerByContent.add(contentKey(entry.size, entry.etag), entry);
  }
  for await (const task of input.inFlight) view.inFlightByName.add(task.filename, task);
  return view;
}

/**
 * A video's user_metadata: as listed, else read once (GET) and kept in `read` (a lookup table: on
 * disk for the CLI); only the reads in flight are held in memory.
 */
function metadataReader(input: PlanInput, read: LookupTable<Record<string, unknown> | null>): PlanView['metadataOf'] {
  const reading = new Map<string, Promise<Record<string, unknown> | undefined>>();
  return (video) => {
    if (video.userMetadata) return video.userMetadata;
    const inFlight = reading.get(video.videoId);
    if (inFlight) return inFlight;
    const known = read.get(video.videoId);
    if (known.length > 0) return known[0] ?? undefined;
    const fetching = input.edges
      .videoMetadata(video.videoId)
      .then((metadata) => {
        read.add(video.videoId, metadata ?? null);
        return metadata;
      })
      .finally(() => reading.delete(video.videoId));
    reading.set(video.videoId, fetching);
    return fetching;
  };
}

/**
 * One object's item: ignored (a folder marker), excluded, failed in preflight, already indexed, a
 * duplicate, or uploaded. At once unless a request must answer first (a video's metadata, a
 * probe); the part before the first request runs at once, in listing order, either way.
 */
function decide(view: PlanView, object: SourceObject): Maybe<Decision> {
  return runSteps(decideSteps(view, object));
}

function* decideSteps(view: PlanView, object: SourceObject): Generator<unknown, Decision, unknown> {
  if (object.key.endsWith('/') || isFolderMarker(object.key, object.size)) return undefined;
  const base: PlanItem = {
    key: object.key,
    size: object.size,
    etag: object.etag,
    lastModified: object.lastModified,
    action: 'upload',
    ...(object.sha256 ? { sha256: object.sha256 } : {}),
    ...(object.storageClass && object.storageClass !== 'STANDARD' ? { storageClass: object.storageClass } : {}),
  };
  const exclusion = view.filter(object.key, object.size);
  if (exclusion?.reason === 'excluded') return { item: { ...base, action: 'skip', reason: 'excluded', detail: exclusion.detail } };
  // Before matching: an object the platform cannot be sent must not own content other keys share.
  const unsupported = preflightKey(object.key);
  if (unsupported) return { item: { ...base, action: 'fail', reason: unsupported.code, detail: unsupported.detail } };
  // The videos of this file name, looked up once: both the collision tracking and the index match need them.
  const sameName = named(view.videosByName, object.key);
  trackLegacyNames(view, object, sameName);
  if (view.input.options.incremental) {
    const known = byLedger(view, object, base);
    if (known) return known;
  }
  if (exclusion) return { item: { ...base, action: 'fail', reason: exclusion.reason, detail: exclusion.detail } };
  if (view.input.options.incremental) {
    const indexed = yield* byIndex(view, object, base, sameName);
    if (indexed) return indexed;
  }
  return yield* preflight(view, object, base);
}

/** The platform may keep the name decoded or as the presigned URL carried it: either is a match. */
function named<T>(byName: { get(name: string): T[] | undefined }, key: string): T[] {
  return filenameForms(key).flatMap((form) => byName.get(form) ?? []);
}

/** Collisions only matter where a legacy match is possible: tracks just the names a video has, not every key. */
function trackLegacyNames(view: PlanView, object: SourceObject, sameName: IndexedVideoRef[]): void {
  if (!sameName.some((v) => v.size === undefined || v.size === object.size)) return;
  view.byNameSize.add(`${basename(object.key)}\0${object.size}`, { key: object.key, etag: object.etag });
}

/** What earlier runs and the source itself say: recorded as indexed, in progress or failed; or content another key holds. */
function byLedger(view: PlanView, object: SourceObject, base: PlanItem): Decision {
  const ledger = view.ledgerByUri.get(view.uri(object.key)).at(-1);
  if (ledger && ledger.size === object.size && ledger.etag === object.etag && view.stillIndexed(ledger)) {
    const match: PlanMatch = { by: 'ledger', taskId: ledger.taskId, videoId: ledger.videoId };
    if (ledger.status === 'ready') return { item: { ...base, action: 'skip', reason: 'indexed', match } };
    if (statusIn(UNFINISHED, ledger.status)) return { item: { ...base, action: 'skip', reason: 'in_progress', match } };
    if (ledger.status === 'failed') {
      const detail = 'failed in an earlier run: fix the file, or apply with --retry-failed to resubmit';
      return { item: { ...base, action: 'fail', reason: ledger.errorCode ?? 'failed', detail, match } };
    }
  }
  const content = contentKey(object.size, object.etag);
  const owner = view.contentOwner.get(content)[0];
  if (owner !== undefined) return { item: { ...base, action: 'skip', reason: 'duplicate', match: { by: 'source_content', duplicateOf: owner } } };
  view.contentOwner.add(content, object.key);
  const sameContent = view.ledgerByContent.get(content).filter(view.stillIndexed).at(-1);
  if (sameContent && sameContent.uri !== view.uri(object.key)) {
    return { item: { ...base, action: 'skip', reason: 'duplicate', match: { by: 'source_content', duplicateOf: view.keyOf(sameContent.uri), videoId: sameContent.videoId } } };
  }
  return undefined;
}

/** What the index says: this object's fingerprint, its content under another key, a task in flight, or (deferred) a legacy file-name match. */
function* byIndex(view: PlanView, object: SourceObject, base: PlanItem, sameName: IndexedVideoRef[]): Generator<unknown, Decision, unknown> {
  const uri = view.uri(object.key);
  const legacy: IndexedVideoRef[] = [];
  for (const video of sameName) {
    if (video.size !== undefined && video.size !== object.size) continue;
    const metadata = (yield* wait(view.metadataOf(video))) ?? {};
    if (typeof metadata.tlm_source !== 'string') legacy.push(video);
    else if (isFingerprintOf(metadata, uri, object.etag)) return { item: { ...base, action: 'skip', reason: 'indexed', match: { by: 'fingerprint', videoId: video.videoId } } };
  }
  const twin = yield* indexedTwin(view, object);
  if (twin) return { item: { ...base, action: 'skip', reason: 'duplicate', match: { by: 'source_content', duplicateOf: view.keyOf(twin.uri), videoId: twin.videoId } } };
  // A task in flight under this file name is this object's only when its video's fingerprint says so.
  for (const task of named(view.inFlightByName, object.key)) {
    const metadata = task.videoId ? yield* wait(view.input.edges.videoMetadata(task.videoId).catch(() => undefined)) : undefined;
    if (isFingerprintOf(metadata, uri, object.etag)) return { item: { ...base, action: 'skip', reason: 'in_progress', match: { by: 'task', taskId: task.taskId, videoId: task.videoId } } };
  }
  const first = legacy[0];
  if (first && view.input.options.match === 'filename') {
    return { item: { ...base, action: 'skip', reason: 'indexed', match: { by: 'filename_size', videoId: first.videoId } }, deferKey: `${basename(object.key)}\0${object.size}` };
  }
  return undefined;
}

/** A video of another key with this object's content (size and ETag in its fingerprint), the first the index listed. */
function* indexedTwin(view: PlanView, object: SourceObject): Generator<unknown, Twin | undefined, unknown> {
  yield* wait(readFingerprintsOfSize(view, object.size));
  const twins = view.twinsByContent.get(`${object.size}\0${contentKey(object.size, object.etag)}`);
  // Listed fingerprints come in listing order, those read by GET after them: in place order, the first the index listed.
  twins.sort((a, b) => a.at - b.at);
  return twins.find((twin) => twin.uri !== view.uri(object.key));
}

/**
 * Reads (GET) the fingerprints of the videos of one size whose metadata the listing did not carry,
 * once per size, into `twinsByContent` beside the listed ones: looking each object up in every
 * video of its size was quadratic where many videos share a size.
 */
function readFingerprintsOfSize(view: PlanView, size: number): Promise<void> | undefined {
  const reading = view.readingSizes.get(size);
  if (reading) return reading;
  if (view.sizesRead.get(String(size)).length > 0) return undefined;
  const videos = view.unreadBySize.get(String(size));
  if (videos.length === 0) return undefined;
  const read = (async () => {
    const fingerprints = mapOrdered(inOrder(videos), view.input.concurrency ?? 16, async (video) => ({ video, fp: fingerprintContent(await view.metadataOf(video)) }));
    for await (const { video, fp } of fingerprints) {
      if (fp) view.twinsByContent.add(`${size}\0${fp.content}`, { uri: fp.uri, videoId: video.videoId, at: video.at });
    }
    view.sizesRead.add(String(size), 0);
  })().finally(() => view.readingSizes.delete(size));
  view.readingSizes.set(size, read);
  return read;
}

async function* inOrder<T>(items: Iterable<T>): AsyncGenerator<T> {
  yield* items;
}

/** The platform's requirements, from the listing and, with --probe, from the file itself. */
function* preflight(view: PlanView, object: SourceObject, base: PlanItem): Generator<unknown, Decision, unknown> {
  const { options, edges } = view.input;
  const listingFailure = preflightListing(object, options.requirements);
  if (listingFailure) return { item: { ...base, action: 'fail', reason: listingFailure.code, detail: listingFailure.detail } };
  if (uploadMethod(object.size, options) === 'multipart') {
    base.method = 'multipart';
    base.detail = `${formatBytes(object.size)} is over the ${formatBytes(multipartThreshold(options))} a URL upload takes: uploaded in parts (multipart), streamed from S3`;
  }
  if (!options.probe || !edges.probe) return { item: base };
  const probe = yield* wait(edges.probe(object));
  const probeFailure = preflightProbe(probe, options.requirements);
  const withProbe = { ...base, probe };
  if (probeFailure) return { item: { ...withProbe, action: 'fail', reason: probeFailure.code, detail: probeFailure.detail } };
  return { item: withProbe };
}

/**
 * The held-back legacy matches, once every key is known: two different files sharing a name and
 * size are uploaded, not guessed. Grouped by name and size in the order each group was first held:
 * a first read of the held lines puts the items of groups of more than one into a lookup table (on
 * disk for the CLI), and the second yields a group where its first item was held.
 */
async function* resolveLegacyMatches(view: PlanView, held: HeldItems, summary: PlanSummary): AsyncGenerator<PlanItem> {
  const parse = (line: string) => JSON.parse(line) as [string, PlanItem];
  const groups = view.tables.open<PlanItem>('shared-held');
  const yielded = view.tables.open<0>('shared-yielded');
  const shared = (records: NameSizeRecord[]) => records.filter((record) => 'deferred' in record).length > 1;
  if (view.anyShared) {
    for await (const line of held.lines()) {
      const [nameSize, item] = parse(line);
      if (shared(view.byNameSize.get(nameSize))) groups.add(nameSize, item);
    }
  }
  for await (const line of held.lines()) {
    const [nameSize, item] = parse(line);
    const records = view.byNameSize.get(nameSize);
    if (!shared(records)) {
      yield resolveLegacyMatch(view, records, item, summary);
      continue;
    }
    if (yielded.get(nameSize).length > 0) continue;
    yielded.add(nameSize, 0);
    for (const one of groups.get(nameSize)) yield resolveLegacyMatch(view, records, one, summary);
  }
}

function resolveLegacyMatch(view: PlanView, records: NameSizeRecord[], item: PlanItem, summary: PlanSummary): PlanItem {
  const keys = records.flatMap((record) => ('key' in record ? [record] : []));
  const distinct = Math.max(1, new Set(keys.map((record) => record.etag)).size);
  const resolved: PlanItem =
    distinct > 1
      ? {
          key: item.key,
          size: item.size,
          etag: item.etag,
          lastModified: item.lastModified,
          action: 'upload',
          detail: 'a legacy video has this file name and size, but so do other keys: not guessed, uploaded',
          // Every other key of this name and size, not only the deferred ones: a key matched another way is still a candidate.
          collision: keys.map((record) => record.key).filter((k) => k !== item.key),
          ...(item.sha256 ? { sha256: item.sha256 } : {}),
          ...(uploadMethod(item.size, view.input.options) ? { method: 'multipart' as const } : {}),
        }
      : item;
  if (resolved.collision) summary.collisions += 1;
  count(summary, resolved);
  return resolved;
}

/** The default HeldItems: the lines in an array. */
export function heldInMemory(): HeldItems {
  const lines: string[] = [];
  return {
    append: (line) => void lines.push(line),
    lines: async function* () {
      yield* lines;
    },
  };
}

/** Items grouped by a key, in their order. */
export function groupBy<T>(items: Iterable<T>, keyOf: (item: T) => string): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = map.get(key);
    if (group) group.push(item);
    else map.set(key, [item]);
  }
  return map;
}

export function emptySummary(): PlanSummary {
  return { total: 0, counts: { upload: 0, skip: 0, fail: 0 }, bytes: { upload: 0, total: 0 }, reasons: {}, indexedBy: {}, collisions: 0, ignored: 0 };
}

/** Adds one item to a summary. */
export function count(summary: PlanSummary, item: PlanItem): void {
  summary.total += 1;
  summary.counts[item.action] += 1;
  summary.bytes.total += item.size;
  if (item.action === 'upload') summary.bytes.upload += item.size;
  if (item.action === 'upload' && item.method === 'multipart') summary.multipart = (summary.multipart ?? 0) + 1;
  if (item.reason) summary.reasons[item.reason] = (summary.reasons[item.reason] ?? 0) + 1;
  if (item.action === 'skip' && item.reason === 'indexed' && item.match) {
    summary.indexedBy[item.match.by] = (summary.indexedBy[item.match.by] ?? 0) + 1;
  }
}

