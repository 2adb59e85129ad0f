import { existsSync } from 'node:fs';
import { ApiError, StateFileError } from '../errors.js';
import { loadState, type StateFile } from '../state/index.js';
import type { TwelveLabsClient } from '../twelvelabs/client.js';
import { listAllVideos } from '../twelvelabs/index-reader.js';
import { createdVideoIds, findOurVideos, knownMetadata, type OurVideos } from '../twelvelabs/our-videos.js';
import type { IndexedVideo, Task } from '../twelvelabs/types.js';
import type { TaskRef, VideoRef } from '../verify/index.js';
import { DEFAULT_STATE } from './options.js';
import type { Progress } from './progress.js';


/**
 * The state file verify and dedupe read for context: the one named by --state (which must exist
 * and belong to the index), else ./tlmigrate-state.json when it exists and belongs to the index.
 */
export async function stateForIndex(flag: string | undefined, indexId: string): Promise<{ path: string; state: StateFile } | undefined> {
  const path = flag ?? DEFAULT_STATE;
  if (flag === undefined && !existsSync(path)) return undefined;
  const state = await loadState(path);
  if (!state) throw new StateFileError('state_missing', `state file ${path} not found: pass the state file of the migration, or leave --state out`);
  if (state.indexId !== indexId) {
    if (flag === undefined) return undefined;
    throw new StateFileError('state_mismatch', `state file ${path} belongs to index ${state.indexId}, not ${indexId}: pass the state of this index, or leave --state out`);
  }
  return { path, state };
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
 * Every video of the index, with what is known of its fingerprint without a GET: the marker filter
 * is trusted only as far as it proves itself against `known` (the state's videos) and one GET
 * (src/twelvelabs/our-videos.ts); otherwise every candidate's fingerprint is read per video.
 */
export async function readVideos(
  api: Pick<TwelveLabsClient, 'listVideos' | 'getVideo'>,
  indexId: string,
  known: Iterable<string>,
  progress: Progress,
): Promise<{ videos: VideoRef[]; ours: OurVideos }> {
  const all = await listAllVideos(api, indexId, { onPage: (_k, p, t) => progress.update(`index: page ${p}/${t} of videos`) });
  const ours = await findOurVideos(api, indexId, all, known);
  return { videos: all.map((v) => toVideoRef(v, ours)), ours };
}

/** The videos a state file says tlmigrate created: known to carry its marker. */
export function recordedVideoIds(state: StateFile | undefined): string[] {
  return createdVideoIds(Object.values(state?.items ?? {}));
}

export function toVideoRef(v: IndexedVideo, ours: OurVideos): VideoRef {
  return { videoId: v._id, filename: v.system_metadata?.filename ?? '', size: v.system_metadata?.size, createdAt: v.created_at, userMetadata: knownMetadata(v, ours) };
}

export function toTaskRef(t: Task): TaskRef {
  const e = t.error;
  const error = typeof e === 'object' && e?.code ? { code: e.code, message: e.message ?? '' } : typeof e === 'string' && e ? { code: 'indexing_failed', message: e } : undefined;
  return { taskId: t._id, videoId: t.video_id, filename: t.system_metadata?.filename ?? '', status: t.status, createdAt: t.created_at, ...(error ? { error } : {}) };
}
