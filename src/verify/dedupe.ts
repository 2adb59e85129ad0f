import pLimit from 'p-limit';
import { TlmError } from '../errors.js';
import type { MetadataReader, VideoRef } from './types.js';

export interface CopyRef {
  videoId: string;
  createdAt?: string | undefined;
  /** The task that created the video, when the index lists it. */
  taskId?: string | undefined;
  taskStatus?: string | undefined;
}

/** Videos of the index that are copies of the same object; `keep` is the one to leave. */
export interface DuplicateGroup {
  by: 'fingerprint' | 'filename_size';
  filename: string;
  size?: number | undefined;
  /** For fingerprint groups: the object's URI and ETag, as the copies' user_metadata says. */
  source?: string | undefined;
  etag?: string | undefined;
  keep: CopyRef;
  remove: CopyRef[];
}

export interface TaskOfVideo {
  taskId: string;
  status: string;
}

/**
 * Finds groups of videos that are the same object: the same tlm_source and tlm_etag, or, for
 * videos without tlmigrate's fingerprint, the same file name and size. Copies share a file name
 * and size either way, so metadata is read only for videos that share both with another video.
 * Keeps the oldest ready copy of each group.
 */
export async function findDuplicateGroups(
  videos: VideoRef[],
  taskOf: (videoId: string) => TaskOfVideo | undefined,
  edges: MetadataReader,
  concurrency = 8,
): Promise<{ groups: DuplicateGroup[]; metadataFetches: number }> {
  const byNameSize = new Map<string, VideoRef[]>();
  for (const video of videos) {
    const key = `${video.filename}\0${video.size ?? '?'}`;
    const group = byNameSize.get(key);
    if (group) group.push(video);
    else byNameSize.set(key, [video]);
  }
  const suspects = [...byNameSize.values()].filter((g) => g.length > 1).flat();
  const limit = pLimit(concurrency);
  let metadataFetches = 0;
  const metadata = new Map<string, Record<string, unknown> | undefined>();
  await Promise.all(
    suspects.map((video) =>
      limit(async () => {
        if (video.userMetadata) metadata.set(video.videoId, video.userMetadata);
        else {
          metadataFetches += 1;
          metadata.set(video.videoId, await edges.videoMetadata(video.videoId));
        }
      }),
    ),
  );

  const sets = new Map<string, { by: DuplicateGroup['by']; video: VideoRef; source?: string; etag?: string }[]>();
  for (const video of suspects) {
    if (!metadata.has(video.videoId)) continue;
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
    if (members.length < 2) continue;
    const copies = members
      .map(({ video }): CopyRef => {
        const task = taskOf(video.videoId);
        return { videoId: video.videoId, createdAt: video.createdAt, taskId: task?.taskId, taskStatus: task?.status };
      })
      // A copy whose task is not known to be ready sorts after the ready ones; then oldest first.
      .sort((a, b) => rank(a) - rank(b) || (a.createdAt ?? '').localeCompare(b.createdAt ?? '') || a.videoId.localeCompare(b.videoId));
    const [keep, ...remove] = copies;
    const first = members[0];
    if (!keep || !first) continue;
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
  return { groups, metadataFetches };
}

function rank(copy: CopyRef): number {
  return copy.taskStatus === undefined || copy.taskStatus === 'ready' ? 0 : 1;
}

/** The calls a deletion makes, in the platform's order. */
export interface CopyDeleter {
  deleteVideo(videoId: string): Promise<void>;
  deleteTask(taskId: string): Promise<void>;
}

export interface DeletionOutcome {
  videoId: string;
  taskId?: string | undefined;
  videoDeleted: boolean;
  taskDeleted: boolean;
  error?: string | undefined;
}

/**
 * Deletes the extra copies one by one: the video first, then its task (the platform refuses to
 * delete a ready task whose video still exists). Reports each step through `onStep` before moving on,
 * so the caller can log it durably; an API failure stops that copy, not the others.
 */
export async function removeCopies(
  groups: DuplicateGroup[],
  deleter: CopyDeleter,
  onStep: (step: { action: 'delete_video' | 'delete_task'; group: DuplicateGroup; copy: CopyRef }) => Promise<void>,
): Promise<DeletionOutcome[]> {
  const outcomes: DeletionOutcome[] = [];
  for (const group of groups) {
    for (const copy of group.remove) {
      const outcome: DeletionOutcome = { videoId: copy.videoId, taskId: copy.taskId, videoDeleted: false, taskDeleted: false };
      outcomes.push(outcome);
      try {
        await deleter.deleteVideo(copy.videoId);
      } catch (error) {
        outcome.error = describe(error);
        continue;
      }
      outcome.videoDeleted = true;
      // A record that cannot be written is a run-level fault: let it stop the run.
      await onStep({ action: 'delete_video', group, copy });
      if (!copy.taskId) continue;
      try {
        await deleter.deleteTask(copy.taskId);
      } catch (error) {
        outcome.error = describe(error);
        continue;
      }
      outcome.taskDeleted = true;
      await onStep({ action: 'delete_task', group, copy });
    }
  }
  return outcomes;
}

/** An API refusal or a lost answer is this copy's outcome; anything else is a bug and propagates. */
function describe(error: unknown): string {
  if (error instanceof TlmError) return error.message;
  throw error;
}
