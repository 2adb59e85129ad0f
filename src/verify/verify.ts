import pLimit from 'p-limit';
import { filenameForms } from '../planner/index.js';
import type { SourceObject } from '../sources/types.js';
import { IN_FLIGHT_STATUSES } from '../twelvelabs/index-reader.js';
import type { TaskRef, VerifyInput, VerifyResult, VideoRef } from './types.js';

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
export async function verifyIndex(input: VerifyInput): Promise<VerifyResult> {
  const byUri = new Map<string, Expected>();
  const byName = new Map<string, Expected[]>();
  let excluded = 0;
  for await (const object of input.objects) {
    if (object.key.endsWith('/')) continue;
    if (input.excluded(object)) {
      excluded += 1;
      continue;
    }
    const expected: Expected = { object, uri: `s3://${input.bucket}/${object.key}`, videos: [] };
    byUri.set(expected.uri, expected);
    // The platform may name the video decoded or as the presigned URL carried it.
    for (const name of filenameForms(object.key)) {
      const group = byName.get(name);
      if (group) group.push(expected);
      else byName.set(name, [expected]);
    }
  }

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

  const limit = pLimit(input.concurrency ?? 8);
  const candidates = input.videos.filter((v) => byName.has(v.filename));
  const nameless = input.videos.filter((v) => !byName.has(v.filename));
  for (const video of nameless) result.unmatched.push({ videoId: video.videoId, filename: video.filename, size: video.size, reason: 'no_object' });
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
      if (expected && String(meta.tlm_etag) === expected.object.etag) expected.videos.push({ video, by: 'fingerprint' });
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

  // Keys with the same content (size and ETag) upload once: a copy elsewhere covers them.
  const contentCarrier = new Map<string, string>();
  for (const e of byUri.values()) if (e.videos.length > 0 && e.object.etag) contentCarrier.set(contentKey(e.object), e.object.key);
  const tasksById = new Map(input.tasks.map((t) => [t.taskId, t]));
  const tasksByName = new Map<string, TaskRef[]>();
  for (const task of input.tasks) {
    const group = tasksByName.get(task.filename);
    if (group) group.push(task);
    else tasksByName.set(task.filename, [task]);
  }

  for (const e of byUri.values()) {
    const { object } = e;
    if (e.videos.length === 1) {
      result.indexed += 1;
      continue;
    }
    if (e.videos.length > 1) {
      const videos = e.videos
        .map(({ video, by }) => ({ videoId: video.videoId, createdAt: video.createdAt, by }))
        .sort((a, b) => (a.createdAt ?? '').localeCompare(b.createdAt ?? '') || a.videoId.localeCompare(b.videoId));
      result.duplicated.push({ key: object.key, videos });
      continue;
    }
    const carrier = object.etag ? contentCarrier.get(contentKey(object)) : undefined;
    if (carrier !== undefined) {
      result.coveredByDuplicate.push({ key: object.key, duplicateOf: carrier });
      continue;
    }
    const known = input.known(e.uri);
    const knownTask = known?.taskId ? tasksById.get(known.taskId) : undefined;
    if (knownTask && IN_FLIGHT.has(knownTask.status)) {
      result.inProgress.push({ key: object.key, taskId: knownTask.taskId, status: knownTask.status });
      continue;
    }
    if (knownTask?.status === 'failed' || (known?.status === 'failed' && !knownTask)) {
      const code = known?.lastError?.code ?? knownTask?.error?.code ?? 'indexing_failed';
      const message = known?.lastError?.message ?? knownTask?.error?.message ?? 'the platform marked the task failed';
      result.failed.push({ key: object.key, code, message, taskId: known?.taskId });
      continue;
    }
    if (known?.indexedAssetId && !known.taskId && (IN_FLIGHT.has(known.status) || known.status === 'submitted')) {
      result.inProgress.push({ key: object.key, taskId: known.indexedAssetId, status: known.status });
      continue;
    }
    if (!known?.taskId) {
      const named = filenameForms(object.key).flatMap((name) => tasksByName.get(name) ?? []);
      const running = named.find((t) => IN_FLIGHT.has(t.status));
      if (running) {
        result.inProgress.push({ key: object.key, taskId: running.taskId, status: running.status });
        continue;
      }
      const failedTask = named.find((t) => t.status === 'failed');
      if (failedTask) {
        result.failed.push({ key: object.key, code: failedTask.error?.code ?? 'indexing_failed', message: failedTask.error?.message ?? 'a task with this file name failed (the API gave no reason)', taskId: failedTask.taskId });
        continue;
      }
    }
    const never = input.unindexable(object);
    if (never) {
      result.failed.push({ key: object.key, code: never.code, message: `${never.detail} (never submitted: the platform would refuse it)` });
      continue;
    }
    const detail = known?.videoId ? `the state file records video ${known.videoId}, which the index no longer holds` : undefined;
    result.missing.push({ key: object.key, size: object.size, etag: object.etag, ...(detail ? { detail } : {}) });
  }
  return result;
}

function contentKey(object: SourceObject): string {
  return `${object.size}\0${object.etag}`;
}

/** Nothing missing, in progress, failed or duplicated. */
export function isClean(result: VerifyResult): boolean {
  return result.missing.length === 0 && result.inProgress.length === 0 && result.failed.length === 0 && result.duplicated.length === 0;
}
