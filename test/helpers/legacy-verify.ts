/**
 * The verify and dedupe matching as they were before issue 15 made them bounded (commit 8f17de9):
 * every object, video and task held in memory. Kept, frozen, as the oracle the bounded code must
 * agree with byte for byte (test/unit/verify-bounded.test.ts). Do not "fix" it.
 */
import pLimit from 'p-limit';
import { contentKey, decodedFilename, filenameForms, groupBy, isFingerprintOf, objectUri } from '../../src/planner/index.js';
import type { SourceObject } from '../../src/sources/types.js';
import { IN_FLIGHT_STATUSES } from '../../src/twelvelabs/index-reader.js';
import type { CopyRef, DuplicateGroup, KnownItem, MetadataReader, TaskOfVideo, TaskRef, VerifyResult, VideoRef } from '../../src/verify/index.js';

/** VerifyInput as it was: the videos and the state held whole. */
export interface LegacyVerifyInput {
  bucket: string;
  sourceUri: string;
  objects: AsyncIterable<SourceObject>;
  excluded(object: SourceObject): boolean;
  unindexable(object: SourceObject): { code: string; detail: string } | undefined;
  videos: VideoRef[];
  tasks: TaskRef[];
  known(uri: string): KnownItem | undefined;
  edges: MetadataReader;
  concurrency?: number;
}


const IN_FLIGHT: ReadonlySet<string> = new Set(IN_FLIGHT_STATUSES);

interface Expected {
  object: SourceObject;
  uri: string;
  videos: Array<{ video: VideoRef; by: 'fingerprint' | 'filename_size' }>;
}

/**
 * Reconciles a source with an index, trusting neither the plan nor the state: every expected
 * object should have exactly one video, proven by tlmigrate's fingerprint in user_metadata, or
 * for videos without one by file name and size. Metadata is fetched only for videos whose file
 * name is some object's, the only ones a match needs confirming for.
 */
export async function legacyVerifyIndex(input: LegacyVerifyInput): Promise<VerifyResult> {
  const { byUri, byName, excluded } = await expectedObjects(input);
  const result: VerifyResult = {
    source: input.sourceUri,
    objects: byUri.size,
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
  await matchVideos(input, byUri, byName, result);
  // Keys with the same content (size and ETag) upload once: a copy elsewhere covers them.
  const contentCarrier = new Map<string, string>();
  for (const e of byUri.values()) if (e.videos.length > 0 && e.object.etag) contentCarrier.set(contentKey(e.object.size, e.object.etag), e.object.key);
  const tasks = { byId: new Map(input.tasks.map((t) => [t.taskId, t])), byName: groupBy(input.tasks, (t) => t.filename) };
  for (const e of byUri.values()) {
    const { object } = e;
    if (e.videos.length === 1) result.indexed += 1;
    else if (e.videos.length > 1) {
      const videos = e.videos
        .map(({ video, by }) => ({ videoId: video.videoId, createdAt: video.createdAt, by }))
        .sort((a, b) => (a.createdAt ?? '').localeCompare(b.createdAt ?? '') || a.videoId.localeCompare(b.videoId));
      result.duplicated.push({ key: object.key, videos });
    } else {
      const carrier = object.etag ? contentCarrier.get(contentKey(object.size, object.etag)) : undefined;
      if (carrier !== undefined) result.coveredByDuplicate.push({ key: object.key, duplicateOf: carrier });
      else if (!onTheWay(input, e, tasks, result)) notIndexed(input, e, result);
    }
  }
  return result;
}

/** The objects verify expects videos for, by source URI and by every form of their file name. */
async function expectedObjects(input: LegacyVerifyInput): Promise<{ byUri: Map<string, Expected>; byName: Map<string, Expected[]>; excluded: number }> {
  const byUri = new Map<string, Expected>();
  const byName = new Map<string, Expected[]>();
  let excluded = 0;
  for await (const object of input.objects) {
    if (object.key.endsWith('/')) continue;
    if (input.excluded(object)) {
      excluded += 1;
      continue;
    }
    const expected: Expected = { object, uri: objectUri(input.bucket, object.key), videos: [] };
    byUri.set(expected.uri, expected);
    // The platform may name the video decoded or as the presigned URL carried it.
    for (const name of filenameForms(object.key)) {
      const group = byName.get(name);
      if (group) group.push(expected);
      else byName.set(name, [expected]);
    }
  }
  return { byUri, byName, excluded };
}

/** Ties each video to its object: by fingerprint, or for a video without one by file name and size; the rest are unmatched. */
async function matchVideos(input: LegacyVerifyInput, byUri: Map<string, Expected>, byName: Map<string, Expected[]>, result: VerifyResult): Promise<void> {
  const limit = pLimit(input.concurrency ?? 8);
  const candidates = input.videos.filter((v) => byName.has(v.filename));
  for (const video of input.videos) if (!byName.has(video.filename)) result.unmatched.push({ videoId: video.videoId, filename: video.filename, size: video.size, reason: 'no_object' });
  const metadata = await Promise.all(
    candidates.map((video) =>
      limit(async () => {
        if (video.userMetadata) return video.userMetadata;
        result.metadataFetches += 1;
        return input.edges.videoMetadata(video.videoId);
      }),
    ),
  );
  candidates.forEach((video, i) => {
    const meta = metadata[i];
    if (meta === undefined) return; // deleted while we read the index
    const source = meta.tlm_source;
    if (typeof source === 'string') {
      const expected = byUri.get(source);
      if (expected && isFingerprintOf(meta, source, expected.object.etag)) expected.videos.push({ video, by: 'fingerprint' });
      else {
        const inScope = source === input.sourceUri || source.startsWith(input.sourceUri.endsWith('/') ? input.sourceUri : `${input.sourceUri}/`);
        result.unmatched.push({ videoId: video.videoId, filename: video.filename, size: video.size, reason: expected ? 'source_changed' : inScope ? 'no_object' : 'outside_source', tlmSource: source });
      }
      return;
    }
    // No fingerprint: a video from another tool; only file name and size can tie it to an object.
    const same = (byName.get(video.filename) ?? []).filter((e) => video.size === undefined || e.object.size === video.size);
    const etags = new Set(same.map((e) => e.object.etag));
    const owner = [...same].sort((a, b) => a.object.key.localeCompare(b.object.key))[0];
    if (owner && etags.size === 1) owner.videos.push({ video, by: 'filename_size' });
    else result.unmatched.push({ videoId: video.videoId, filename: video.filename, size: video.size, reason: same.length ? 'ambiguous' : 'no_object', ...(same.length ? { candidates: same.map((e) => e.object.key) } : {}) });
  });
}

/** An object without a video whose task (the state's, or one of its file name) is in flight or failed: true when recorded so. */
function onTheWay(input: LegacyVerifyInput, e: Expected, tasks: { byId: Map<string, TaskRef>; byName: Map<string, TaskRef[]> }, result: VerifyResult): boolean {
  const { object } = e;
  const known = input.known(e.uri);
  const knownTask = known?.taskId ? tasks.byId.get(known.taskId) : undefined;
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
  const named = filenameForms(object.key).flatMap((name) => tasks.byName.get(name) ?? []);
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
function notIndexed(input: LegacyVerifyInput, e: Expected, result: VerifyResult): void {
  const { object } = e;
  const never = input.unindexable(object);
  if (never) {
    result.failed.push({ key: object.key, code: never.code, message: `${never.detail} (never submitted: the platform would refuse it)` });
    return;
  }
  const known = input.known(e.uri);
  const detail = known?.videoId ? `the state file records video ${known.videoId}, which the index no longer holds` : undefined;
  result.missing.push({ key: object.key, size: object.size, etag: object.etag, ...(detail ? { detail } : {}) });
}

/**
 * Finds groups of videos that are the same object: the same tlm_source and tlm_etag, read from
 * each video itself (GET), or, for videos known to carry no fingerprint, the same file name and
 * size. Only fingerprint groups are ever deleted (`removeCopies`); a name and size alone cannot tell
 * two different objects apart, so those groups are only reported. Copies share a size and a name
 * (decoded or as the URL carried it), so only videos that share both with another are read.
 * Keeps the oldest ready copy of each group.
 */
export async function legacyFindDuplicateGroups(
  videos: VideoRef[],
  taskOf: (videoId: string) => TaskOfVideo | undefined,
  edges: MetadataReader,
  concurrency = 8,
): Promise<{ groups: DuplicateGroup[]; metadataFetches: number }> {
  const byNameSize = groupBy(videos, (video) => `${decodedFilename(video.filename)}\0${video.size ?? '?'}`);
  const suspects = [...byNameSize.values()].filter((g) => g.length > 1).flat();
  const { metadata, fetches } = await readFingerprints(suspects, edges, concurrency);

  const sets = new Map<string, { by: DuplicateGroup['by']; video: VideoRef; source?: string; etag?: string }[]>();
  for (const video of suspects) {
    const meta = metadata.get(video.videoId);
    if (meta === undefined) continue; // gone meanwhile
    const source = meta.tlm_source;
    const entry =
      typeof source === 'string'
        ? { key: `fp\0${source}\0${String(meta.tlm_etag)}`, value: { by: 'fingerprint' as const, video, source, etag: String(meta.tlm_etag) } }
        : { key: `fs\0${video.filename}\0${video.size ?? '?'}`, value: { by: 'filename_size' as const, video } };
    const set = sets.get(entry.key);
    if (set) set.push(entry.value);
    else sets.set(entry.key, [entry.value]);
  }

  const groups: DuplicateGroup[] = [];
  for (const members of sets.values()) {
    const first = members[0];
    if (members.length < 2 || !first) continue;
    const [keep, ...remove] = members
      .map(({ video }): CopyRef => {
        const task = taskOf(video.videoId);
        return { videoId: video.videoId, createdAt: video.createdAt, taskId: task?.taskId, taskStatus: task?.status };
      })
      // A copy whose task is not known to be ready sorts after the ready ones; then oldest first.
      .sort((a, b) => rank(a) - rank(b) || (a.createdAt ?? '').localeCompare(b.createdAt ?? '') || a.videoId.localeCompare(b.videoId));
    if (!keep) continue;
    groups.push({
      by: first.by,
      filename: first.video.filename,
      size: first.video.size,
      ...(first.source ? { source: first.source, etag: first.etag } : {}),
      keep,
      remove,
    });
  }
  groups.sort((a, b) => (a.source ?? a.filename).localeCompare(b.source ?? b.filename));
  return { groups, metadataFetches: fetches };
}

/**
 * Each suspect's user_metadata, read by GET unless the listing showed it carries no fingerprint:
 * a fingerprint that decides a deletion is always read from the video itself.
 */
async function readFingerprints(suspects: VideoRef[], edges: MetadataReader, concurrency: number) {
  const limit = pLimit(concurrency);
  const metadata = new Map<string, Record<string, unknown> | undefined>();
  let fetches = 0;
  await Promise.all(
    suspects.map((video) =>
      limit(async () => {
        if (video.userMetadata && typeof video.userMetadata.tlm_source !== 'string') metadata.set(video.videoId, video.userMetadata);
        else {
          fetches += 1;
          metadata.set(video.videoId, await edges.videoMetadata(video.videoId));
        }
      }),
    ),
  );
  return { metadata, fetches };
}


function rank(copy: CopyRef): number {
  return copy.taskStatus === undefined || copy.taskStatus === 'ready' ? 0 : 1;
}
