import { existsSync } from 'node:fs';
import { ApiError, StateFileError } from '../errors.js';
import { loadState, type StateFile } from '../state/index.js';
import type { TwelveLabsClient } from '../twelvelabs/client.js';
import { TLM_MARKER, listAllVideos } from '../twelvelabs/index-reader.js';
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
 * Every video of the index, and which of them tlmigrate made (one listing filtered by its marker):
 * the others carry no fingerprint, so matching them needs no GET of their metadata. A server that
 * ignored the filter would list everything as ours, which only costs those GETs back.
 */
export async function readVideos(api: Pick<TwelveLabsClient, 'listVideos'>, indexId: string, progress: Progress): Promise<VideoRef[]> {
  const videos = await listAllVideos(api, indexId, { onPage: (_k, p, t) => progress.update(`index: page ${p}/${t} of videos`) });
  const ours = new Set((await listAllVideos(api, indexId, { userMetadata: TLM_MARKER })).map((v) => v._id));
  return videos.map((v) => toVideoRef(v, ours));
}

export function toVideoRef(v: IndexedVideo, ours?: ReadonlySet<string>): VideoRef {
  const userMetadata = v.user_metadata ?? (ours && !ours.has(v._id) ? {} : undefined);
  return { videoId: v._id, filename: v.system_metadata?.filename ?? '', size: v.system_metadata?.size, createdAt: v.created_at, userMetadata };
}

export function toTaskRef(t: Task): TaskRef {
  const e = t.error;
  const error = typeof e === 'object' && e?.code ? { code: e.code, message: e.message ?? '' } : typeof e === 'string' && e ? { code: 'indexing_failed', message: e } : undefined;
  return { taskId: t._id, videoId: t.video_id, filename: t.system_metadata?.filename ?? '', status: t.status, createdAt: t.created_at, ...(error ? { error } : {}) };
}
