import pLimit from 'p-limit';
import { TlmError } from '../errors.js';
import { HashSlots, decodedFilename, groupBy, hash32 } from '../planner/index.js';
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

/** A task of the index as dedupe needs it, in listing order: the last one listed for a video is its task. */
export interface ListedTask extends TaskOfVideo {
  videoId: string;
}

/**
 * Finds groups of videos that are the same object: the same tlm_source and tlm_etag, read from
 * each video itself (GET), or, for videos known to carry no fingerprint, the same file name and
 * size. Only fingerprint groups are ever deleted (`removeCopies`); a name and size alone cannot tell
 * two different objects apart, so those groups are only reported. Copies share a size and a name
 * (decoded or as the URL carried it), so only videos that share both with another are read.
 * Keeps the oldest ready copy of each group.
 *
 * `videos` is read twice (a listing spilled to disk, or an array): first to count each name and
 * size by a 32-bit hash, then to keep the videos whose hash came more than once (the copies, and
 * the rare collision, which grouping by the name and size itself then drops). `tasks` (or a lookup)
 * is read once, for the copies' tasks only. Memory: 8 bytes a hash slot, and the copies.
 */
export async function findDuplicateGroups(
  videos: Iterable<VideoRef> | AsyncIterable<VideoRef>,
  tasks: ((videoId: string) => TaskOfVideo | undefined) | Iterable<ListedTask> | AsyncIterable<ListedTask>,
  edges: MetadataReader,
  concurrency = 8,
): Promise<{ groups: DuplicateGroup[]; metadataFetches: number }> {
  const byNameSize = groupBy(await sharedNameAndSize(videos), nameAndSize);
  const suspects = [...byNameSize.values()].filter((g) => g.length > 1).flat();
  const taskOf = typeof tasks === 'function' ? tasks : await tasksOf(tasks, new Set(suspects.map((v) => v.videoId)));
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


/** Whether a group's extra copies may be deleted: only copies proven by their own fingerprint. */
export function isDeletable(group: DuplicateGroup): boolean {
  return group.by === 'fingerprint';
}

function nameAndSize(video: VideoRef): string {
  return `${decodedFilename(video.filename)}\0${video.size ?? '?'}`;
}

/** The videos whose name and size (by hash) some other video has too, in listing order. */
async function sharedNameAndSize(videos: Iterable<VideoRef> | AsyncIterable<VideoRef>): Promise<VideoRef[]> {
  const counts = new HashSlots();
  let counted = 0;
  for await (const video of videos) {
    counted += 1;
    const hash = hash32(nameAndSize(video));
    counts.set(hash, (counts.get(hash) ?? 0) + 1);
  }
  const shared: VideoRef[] = [];
  let again = 0;
  for await (const video of videos) {
    again += 1;
    if ((counts.get(hash32(nameAndSize(video))) ?? 0) > 1) shared.push(video);
  }
  // A one-shot stream read twice would find no copies at all: a bug, never "no duplicates".
  if (again !== counted) throw new Error(`findDuplicateGroups: the videos must be readable twice (read ${counted}, then ${again})`);
  return shared;
}

/** The task of each of these videos: the last one listed for it. */
async function tasksOf(tasks: Iterable<ListedTask> | AsyncIterable<ListedTask>, videoIds: ReadonlySet<string>): Promise<(videoId: string) => TaskOfVideo | undefined> {
  const byVideo = new Map<string, TaskOfVideo>();
  for await (const task of tasks) if (videoIds.has(task.videoId)) byVideo.set(task.videoId, { taskId: task.taskId, status: task.status });
  return (videoId) => byVideo.get(videoId);
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
 * Deletes the extra copies of the deletable groups one by one (others are skipped: see
 * `isDeletable`): the video first, then its task (the platform refuses to delete a ready task whose
 * video still exists). Reports each step through `onStep` before moving on, so the caller can log
 * it durably; an API failure stops that copy, not the others.
 */
export async function removeCopies(
  groups: DuplicateGroup[],
  deleter: CopyDeleter,
  onStep: (step: { action: 'delete_video' | 'delete_task'; group: DuplicateGroup; copy: CopyRef }) => Promise<void>,
): Promise<DeletionOutcome[]> {
  const outcomes: DeletionOutcome[] = [];
  for (const group of groups.filter(isDeletable)) {
    for (const copy of group.remove) {
      const outcome: DeletionOutcome = { videoId: copy.videoId, taskId: copy.taskId, videoDeleted: false, taskDeleted: false };
      outcomes.push(outcome);
      const attempt = (step: () => Promise<void>) =>
        step().then(
          () => true,
          (error: unknown) => {
            outcome.error = describe(error);
            return false;
          },
        );
      outcome.videoDeleted = await attempt(() => deleter.deleteVideo(copy.videoId));
      if (!outcome.videoDeleted) continue;
      // A record that cannot be written is a run-level fault: let it stop the run.
      await onStep({ action: 'delete_video', group, copy });
      const { taskId } = copy;
      if (!taskId) continue;
      outcome.taskDeleted = await attempt(() => deleter.deleteTask(taskId));
      if (outcome.taskDeleted) await onStep({ action: 'delete_task', group, copy });
    }
  }
  return outcomes;
}

/** An API refusal or a lost answer is this copy's outcome; anything else is a bug and propagates. */
function describe(error: unknown): string {
  if (error instanceof TlmError) return error.message;
  throw error;
}
