import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiError, ConfigError, StateFileError } from '../errors.js';
import { SpilledListing } from '../planner/index-listing.js';
import { planWorkFiles } from '../planner/plan-file.js';
import { makeTempFolder } from '../report/spool.js';
import { openStateView, type StateView } from '../state/index.js';
import type { TwelveLabsClient } from '../twelvelabs/client.js';
import { TLM_MARKER, readAllVideosInto, readTasksInto, slimVideo } from '../twelvelabs/index-reader.js';
import { judgeMarkerFilter, knownMetadata, streamCreatedVideoIds, type OurVideos } from '../twelvelabs/our-videos.js';
import type { IndexedVideo, Task } from '../twelvelabs/types.js';
import type { KnownItem, ListedTask, TaskRef, VerifyWork, VideoRef } from '../verify/index.js';
import { DEFAULT_STATE } from './options.js';
import type { Progress } from './progress.js';

/**
 * The state verify and dedupe read for context, opened for reading (in one file or in parts; its
 * items streamed, never held): the one named by --state (which must exist and belong to the
 * index), else ./tlmigrate-state.json when it exists and belongs to the index. Close it when done.
 */
export async function stateForIndex(flag: string | undefined, indexId: string): Promise<StateView | undefined> {
  const path = flag ?? DEFAULT_STATE;
  if (flag === undefined && !existsSync(path)) return undefined;
  const view = await openStateView(path);
  if (!view) throw new StateFileError('state_missing', `state file ${path} not found: pass the state file of the migration, or leave --state out`);
  if (view.header.indexId !== indexId) {
    await view.close();
    if (flag === undefined) return undefined;
    throw new StateFileError('state_mismatch', `state file ${path} belongs to index ${view.header.indexId}, not ${indexId}: pass the state of this index, or leave --state out`);
  }
  return view;
}

/**
 * Temporary files for one command's listings and lookups (the planner's kinds: lines, and tables
 * whose hash index alone is in memory), in a private folder removed however `work` ends.
 */
export async function withWorkFiles<T>(name: string, work: (files: VerifyWork) => Promise<T>, memoryBytes?: number): Promise<T> {
  const dir = await makeTempFolder(name);
  const files = planWorkFiles(join(dir, name), { memoryBytes, unwritable: (_path, code, error) => new ConfigError('tmpdir_unwritable', `cannot write a temporary file in ${dir} (${code}): free space there, or set TMPDIR to a writable folder with room`, { cause: error }) });
  try {
    return await work(files);
  } finally {
    files.remove();
    await rm(dir, { recursive: true, force: true });
  }
}

/** One video's user_metadata; `{}` when it has none; undefined when the video is gone. */
export function metadataReader(api: Pick<TwelveLabsClient, 'getVideo'>, indexId: string, signal?: AbortSignal) {
  return {
    async videoMetadata(videoId: string): Promise<Record<string, unknown> | undefined> {
      try {
        return (await api.getVideo(indexId, videoId, signal)).user_metadata ?? {};
      } catch (error) {
        if (error instanceof ApiError && (error.status === 404 || error.code === 'resource_not_exist')) return undefined;
        throw error;
      }
    },
  };
}

/**
 * Every video of the index, spilled to `work` as its pages arrive (as plan does), with what is
 * known of its fingerprint without a GET: the marker filter is trusted only as far as it proves
 * itself against `known` (the state's videos, streamed) and one GET (src/twelvelabs/our-videos.ts);
 * otherwise every candidate's fingerprint is read per video. `videos` may be read more than once.
 */
export async function readVideos(
  api: Pick<TwelveLabsClient, 'listVideos' | 'getVideo'>,
  indexId: string,
  known: AsyncIterable<string>,
  progress: Progress,
  work: VerifyWork,
): Promise<{ videos: AsyncIterable<VideoRef>; count: number; ours: OurVideos }> {
  const all = new SpilledListing<IndexedVideo>(work.tables, work.lines('videos'), 'videos');
  await readAllVideosInto(api, indexId, all, keptVideo, { onPage: (_k, p, t) => progress.update(`index: page ${p}/${t} of videos`) });
  const marked = new SpilledListing<IndexedVideo>(work.tables, work.lines('marked'), 'marked');
  await readAllVideosInto(api, indexId, marked, slimVideo, { userMetadata: TLM_MARKER });
  const ours = await judgeMarkerFilter(api, indexId, { all, filtered: marked, known });
  return { videos: { [Symbol.asyncIterator]: () => videoRefs(all, ours) }, count: all.size, ours };
}

/** What verify and dedupe need of a listed video: the planner's slim video and its creation time. */
function keptVideo(video: IndexedVideo): IndexedVideo {
  const slim = slimVideo(video);
  if (video.created_at !== undefined) slim.created_at = video.created_at;
  return slim;
}

async function* videoRefs(listing: SpilledListing<IndexedVideo>, ours: OurVideos): AsyncGenerator<VideoRef> {
  for await (const video of listing.items()) yield toVideoRef(video, ours);
}

/**
 * Every task of the index, spilled to `work` as its pages arrive (id, video, status), read back
 * in listing order: a video's task is the last one listed for it.
 */
export async function readTasks(api: Pick<TwelveLabsClient, 'listTasks'>, indexId: string, progress: Progress, work: VerifyWork): Promise<{ tasks: AsyncIterable<ListedTask>; count: number }> {
  const listing = new SpilledListing<Pick<Task, '_id' | 'video_id' | 'status'>>(work.tables, work.lines('tasks'), 'tasks');
  const keep = (t: Task) => ({ _id: t._id, status: t.status, ...(t.video_id ? { video_id: t.video_id } : {}) });
  await readTasksInto(api, { indexId }, listing, keep, { onPage: (_k, p, t) => progress.update(`index: page ${p}/${t} of tasks`) });
  async function* withVideo(): AsyncGenerator<ListedTask> {
    for await (const t of listing.items()) if (t.video_id) yield { videoId: t.video_id, taskId: t._id, status: t.status };
  }
  return { tasks: { [Symbol.asyncIterator]: withVideo }, count: listing.size };
}

/** The videos a state says tlmigrate created (known to carry its marker), streamed from it. */
export async function* recordedVideoIds(view: StateView | undefined): AsyncGenerator<string> {
  if (!view) return;
  yield* streamCreatedVideoIds(itemsOf(view));
}

async function* itemsOf(view: StateView) {
  for await (const [, item] of view.items()) yield item;
}

/** What a state recorded per source URI, streamed from it, as verify reads it (a hint). */
export async function* knownItems(view: StateView | undefined): AsyncGenerator<[string, KnownItem]> {
  if (!view) return;
  for await (const [uri, item] of view.items()) {
    const known: KnownItem = { status: item.status };
    if (item.taskId) known.taskId = item.taskId;
    if (item.videoId) known.videoId = item.videoId;
    if (item.indexedAssetId) known.indexedAssetId = item.indexedAssetId;
    if (item.lastError) known.lastError = { code: item.lastError.code, message: item.lastError.message };
    yield [uri, known];
  }
}

export function toVideoRef(v: IndexedVideo, ours: OurVideos): VideoRef {
  return { videoId: v._id, filename: v.system_metadata?.filename ?? '', size: v.system_metadata?.size, createdAt: v.created_at, userMetadata: knownMetadata(v, ours) };
}

export function toTaskRef(t: Task): TaskRef {
  const e = t.error;
  const error = typeof e === 'object' && e?.code ? { code: e.code, message: e.message ?? '' } : typeof e === 'string' && e ? { code: 'indexing_failed', message: e } : undefined;
  return { taskId: t._id, videoId: t.video_id, filename: t.system_metadata?.filename ?? '', status: t.status, createdAt: t.created_at, ...(error ? { error } : {}) };
}
