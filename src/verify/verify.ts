import pLimit from 'p-limit';
import { contentKey, filenameForms, heldInMemory, isFingerprintOf, memoryTables, objectUri, type HeldItems, type LookupTable } from '../planner/index.js';
import type { SourceObject } from '../sources/types.js';
import { IN_FLIGHT_STATUSES } from '../twelvelabs/index-reader.js';
import type { KnownItem, TaskRef, VerifyInput, VerifyResult, VerifyWork, VideoRef } from './types.js';

const IN_FLIGHT: ReadonlySet<string> = new Set(IN_FLIGHT_STATUSES);
/** Candidate videos whose metadata is read (at `concurrency` at once) before they are matched, in order. */
const MATCH_BATCH = 1000;

/** A video tied to an object. */
interface Match {
  videoId: string;
  createdAt?: string | undefined;
  by: 'fingerprint' | 'filename_size';
}

/** An object verify expects a video for, with the videos tied to it: a line of the `expected` file. */
interface Expected {
  object: SourceObject;
  uri: string;
  videos: Match[];
}

/** The object's fields a name lookup needs: a table record. */
type NamedObject = Pick<SourceObject, 'key' | 'size' | 'etag'>;

/**
 * The lookups, each a multimap appended to (`LookupTable`: in memory, or records in a file with a
 * compact hash index in memory): under an object's URI, the object then each video tied to it;
 * under each form of its file name, the object; under a content (size + ETag) that an object
 * without a video has, 0, then the keys with a video that carry it; under the URI of an object
 * without a video, 0, then what the state recorded for it.
 */
interface Tables {
  uris: LookupTable<{ object: SourceObject } | { video: Match }>;
  names: LookupTable<NamedObject>;
  contents: LookupTable<0 | string>;
  unindexed: LookupTable<0 | KnownItem>;
}

/** Objects and lookups in memory: for the library's callers and tests that pass no `work`. */
export function workInMemory(): VerifyWork {
  return { tables: memoryTables(), lines: () => heldInMemory() };
}

/**
 * Reconciles a source with an index, trusting neither the plan nor the state: every expected
 * object should have exactly one video, proven by tlmigrate's fingerprint in user_metadata, or
 * for videos without one by file name and size. Metadata is fetched only for videos whose file
 * name is some object's, the only ones a match needs confirming for. The objects, the videos and
 * the state are streamed through `input.work` (files, for the CLI): what stays in memory is the
 * tables' hash indexes and the result's lists of problems.
 */
export async function verifyIndex(input: VerifyInput): Promise<VerifyResult> {
  const work = input.work ?? workInMemory();
  const tables: Tables = { uris: work.tables.open('uris'), names: work.tables.open('names'), contents: work.tables.open('contents'), unindexed: work.tables.open('unindexed') };
  const listed = work.lines('objects');
  const { objects, excluded } = await expectedObjects(input, tables, listed);
  const result: VerifyResult = {
    source: input.sourceUri,
    objects,
    excluded,
    indexed: 0,
    coveredByDuplicate: [],
    missing: [],
    inProgress: [],
    failed: [],
    duplicated: [],
    unmatched: [],
    metadataFetches: 0,
  };
  await matchVideos(input, tables, work.lines('candidates'), result);
  const expected = work.lines('expected');
  await gatherVideos(input, tables, listed, expected);
  // The state is a hint for objects without a video only: only their items are kept.
  for await (const [uri, item] of input.known) if (tables.unindexed.get(uri).length > 0) tables.unindexed.add(uri, item);
  await findCarriers(tables, expected);
  const tasks: TaskTables = { byId: work.tables.open('tasks-by-id'), byName: work.tables.open('tasks-by-name') };
  for await (const task of input.tasks) {
    tasks.byId.add(task.taskId, task);
    tasks.byName.add(task.filename, task);
  }
  for await (const e of readExpected(expected)) {
    const { object } = e;
    if (e.videos.length === 1) result.indexed += 1;
    else if (e.videos.length > 1) {
      const videos = e.videos
        .map(({ videoId, createdAt, by }) => ({ videoId, createdAt, by }))
        .sort((a, b) => (a.createdAt ?? '').localeCompare(b.createdAt ?? '') || a.videoId.localeCompare(b.videoId));
      result.duplicated.push({ key: object.key, videos });
    } else {
      // Keys with the same content (size and ETag) upload once: a copy elsewhere covers them.
      const carrier = object.etag ? tables.contents.get(contentKey(object.size, object.etag)).findLast((v) => v !== 0) : undefined;
      const known = tables.unindexed.get(e.uri).findLast((v) => v !== 0);
      if (carrier !== undefined) result.coveredByDuplicate.push({ key: object.key, duplicateOf: carrier });
      else if (!onTheWay(e, known, tasks, result)) notIndexed(input, e, known, result);
    }
  }
  return result;
}

/** The objects verify expects videos for, in listing order into `listed`, and looked up by URI and by every form of their file name. */
async function expectedObjects(input: VerifyInput, tables: Tables, listed: HeldItems): Promise<{ objects: number; excluded: number }> {
  let objects = 0;
  let excluded = 0;
  for await (const object of input.objects) {
    if (object.key.endsWith('/')) continue;
    if (input.excluded(object)) {
      excluded += 1;
      continue;
    }
    objects += 1;
    listed.append(JSON.stringify(object));
    tables.uris.add(objectUri(input.bucket, object.key), { object });
    // The platform may name the video decoded or as the presigned URL carried it.
    for (const name of filenameForms(object.key)) tables.names.add(name, { key: object.key, size: object.size, etag: object.etag });
  }
  return { objects, excluded };
}

/**
 * Ties each video to its object: by fingerprint, or for a video without one by file name and size;
 * the rest are unmatched (first those no object's name matches, then the others, each in listing
 * order). Candidates wait in `candidates` and have their metadata read a batch at a time.
 */
async function matchVideos(input: VerifyInput, tables: Tables, candidates: HeldItems, result: VerifyResult): Promise<void> {
  for await (const video of input.videos) {
    if (tables.names.get(video.filename).length > 0) candidates.append(JSON.stringify(video));
    else result.unmatched.push({ videoId: video.videoId, filename: video.filename, size: video.size, reason: 'no_object' });
  }
  const limit = pLimit(input.concurrency ?? 8);
  let batch: VideoRef[] = [];
  const settle = async () => {
    const metadata = await Promise.all(
      batch.map((video) =>
        limit(async () => {
          if (video.userMetadata) return video.userMetadata;
          result.metadataFetches += 1;
          return input.edges.videoMetadata(video.videoId);
        }),
      ),
    );
    batch.forEach((video, i) => matchVideo(input, tables, video, metadata[i], result));
    batch = [];
  };
  for await (const line of candidates.lines()) {
    batch.push(JSON.parse(line) as VideoRef);
    if (batch.length >= MATCH_BATCH) await settle();
  }
  await settle();
}

function matchVideo(input: VerifyInput, tables: Tables, video: VideoRef, meta: Record<string, unknown> | undefined, result: VerifyResult): void {
  if (meta === undefined) return; // deleted while we read the index
  const match = (by: Match['by']): { video: Match } => ({ video: { videoId: video.videoId, createdAt: video.createdAt, by } });
  const source = meta.tlm_source;
  if (typeof source === 'string') {
    const expected = objectOf(tables.uris.get(source));
    if (expected && isFingerprintOf(meta, source, expected.etag)) tables.uris.add(source, match('fingerprint'));
    else {
      const inScope = source === input.sourceUri || source.startsWith(input.sourceUri.endsWith('/') ? input.sourceUri : `${input.sourceUri}/`);
      result.unmatched.push({ videoId: video.videoId, filename: video.filename, size: video.size, reason: expected ? 'source_changed' : inScope ? 'no_object' : 'outside_source', tlmSource: source });
    }
    return;
  }
  // No fingerprint: a video from another tool; only file name and size can tie it to an object.
  const same = tables.names.get(video.filename).filter((o) => video.size === undefined || o.size === video.size);
  const etags = new Set(same.map((o) => o.etag));
  const owner = [...same].sort((a, b) => a.key.localeCompare(b.key))[0];
  if (owner && etags.size === 1) tables.uris.add(objectUri(input.bucket, owner.key), match('filename_size'));
  else result.unmatched.push({ videoId: video.videoId, filename: video.filename, size: video.size, reason: same.length ? 'ambiguous' : 'no_object', ...(same.length ? { candidates: same.map((o) => o.key) } : {}) });
}

function objectOf(records: Array<{ object: SourceObject } | { video: Match }>): SourceObject | undefined {
  for (const record of records) if ('object' in record) return record.object;
  return undefined;
}

/**
 * Each object with the videos tied to it, in listing order, into `expected`; objects without a
 * video are marked, by URI and by content, for the state and the content carriers to be looked up.
 */
async function gatherVideos(input: VerifyInput, tables: Tables, listed: HeldItems, expected: HeldItems): Promise<void> {
  for await (const line of listed.lines()) {
    const object = JSON.parse(line) as SourceObject;
    const uri = objectUri(input.bucket, object.key);
    const videos: Match[] = [];
    for (const record of tables.uris.get(uri)) if ('video' in record) videos.push(record.video);
    expected.append(JSON.stringify([uri, object, videos]));
    if (videos.length > 0) continue;
    tables.unindexed.add(uri, 0);
    if (object.etag) tables.contents.add(contentKey(object.size, object.etag), 0);
  }
}

/** For each content an object without a video has, the keys with a video that carry it (the last in listing order covers). */
async function findCarriers(tables: Tables, expected: HeldItems): Promise<void> {
  for await (const e of readExpected(expected)) {
    if (e.videos.length === 0 || !e.object.etag) continue;
    const content = contentKey(e.object.size, e.object.etag);
    if (tables.contents.get(content).includes(0)) tables.contents.add(content, e.object.key);
  }
}

async function* readExpected(expected: HeldItems): AsyncGenerator<Expected> {
  for await (const line of expected.lines()) {
    const [uri, object, videos] = JSON.parse(line) as [string, SourceObject, Match[]];
    yield { object, uri, videos };
  }
}

/** The unfinished tasks looked up by id and by file name (records on disk for the CLI). */
interface TaskTables {
  byId: LookupTable<TaskRef>;
  byName: LookupTable<TaskRef>;
}

/** An object without a video whose task (the state's, or one of its file name) is in flight or failed: true when recorded so. */
function onTheWay(e: Expected, known: KnownItem | undefined, tasks: TaskTables, result: VerifyResult): boolean {
  const { object } = e;
  // The newest answer for the id (a listing that shifted may give one twice).
  const knownTask = known?.taskId ? tasks.byId.get(known.taskId).at(-1) : undefined;
  if (knownTask && IN_FLIGHT.has(knownTask.status)) {
    result.inProgress.push({ key: object.key, taskId: knownTask.taskId, status: knownTask.status });
    return true;
  }
  if (knownTask?.status === 'failed' || (known?.status === 'failed' && !knownTask)) {
    const code = known?.lastError?.code ?? knownTask?.error?.code ?? 'indexing_failed';
    const message = known?.lastError?.message ?? knownTask?.error?.message ?? 'the platform marked the task failed';
    result.failed.push({ key: object.key, code, message, taskId: known?.taskId });
    return true;
  }
  if (known?.indexedAssetId && !known.taskId && (IN_FLIGHT.has(known.status) || known.status === 'submitted')) {
    result.inProgress.push({ key: object.key, taskId: known.indexedAssetId, status: known.status });
    return true;
  }
  if (known?.taskId) return false;
  const named = filenameForms(object.key).flatMap((name) => tasks.byName.get(name));
  const running = named.find((t) => IN_FLIGHT.has(t.status));
  if (running) {
    result.inProgress.push({ key: object.key, taskId: running.taskId, status: running.status });
    return true;
  }
  const failedTask = named.find((t) => t.status === 'failed');
  if (!failedTask) return false;
  result.failed.push({ key: object.key, code: failedTask.error?.code ?? 'indexing_failed', message: failedTask.error?.message ?? 'a task with this file name failed (the API gave no reason)', taskId: failedTask.taskId });
  return true;
}

/** An object with no video and nothing on its way: one the platform would refuse, or missing. */
function notIndexed(input: VerifyInput, e: Expected, known: KnownItem | undefined, result: VerifyResult): void {
  const { object } = e;
  const never = input.unindexable(object);
  if (never) {
    result.failed.push({ key: object.key, code: never.code, message: `${never.detail} (never submitted: the platform would refuse it)` });
    return;
  }
  const detail = known?.videoId ? `the state file records video ${known.videoId}, which the index no longer holds` : undefined;
  result.missing.push({ key: object.key, size: object.size, etag: object.etag, ...(detail ? { detail } : {}) });
}

/** Nothing missing, in progress, failed or duplicated. */
export function isClean(result: VerifyResult): boolean {
  return result.missing.length === 0 && result.inProgress.length === 0 && result.failed.length === 0 && result.duplicated.length === 0;
}
