import type { IndexedAsset, IndexedVideo, Task } from '../twelvelabs/types.js';
import type { SpilledListing } from './index-listing.js';
import type { InFlightTask, IndexedVideoRef } from './types.js';

/** What the planner reads of the index: its videos (streamed from their listing), their ids, and the tasks in flight. */
export interface IndexSnapshot<L> {
  ledger: L;
  /** Each video's reference, made as the planner reads it: the listing is read again, never held. */
  videoRefs: AsyncIterable<IndexedVideoRef>;
  /** Whether a video is in the index: the listing's own lookup, not a second table of its ids. */
  videoIds: { has(videoId: string): boolean };
  videoCount: number;
  /** The tasks (and indexed assets) in flight, streamed from their listings. */
  inFlight: AsyncIterable<InFlightTask>;
  inFlightCount: number;
}

/**
 * Reduces what the index listings returned to what matching needs: each video's name, size and
 * (where it is already known without a GET) its user_metadata; the tasks and indexed assets still
 * in flight. Indexed assets that became ready after the video listing was read count as videos.
 */
export async function toIndexSnapshot<L>(
  ledger: L,
  videos: SpilledListing<IndexedVideo>,
  metadataOf: (video: IndexedVideo) => Record<string, unknown> | undefined,
  tasks: SpilledListing<Task>,
  indexedAssets?: SpilledListing<IndexedAsset>,
): Promise<IndexSnapshot<L>> {
  // Ready since the video listing was read: the filter could not have listed them, so read them. Few: those indexed during the read.
  const readySince = new Set<string>();
  const isReadySince = (asset: IndexedAsset) => asset.status === 'ready' && !videos.has(asset._id);
  const isInFlight = (asset: IndexedAsset) => asset.status !== 'ready' && asset.status !== 'failed';
  let inFlightCount = tasks.size;
  for await (const asset of indexedAssets?.items() ?? []) {
    if (isReadySince(asset)) readySince.add(asset._id);
    else if (isInFlight(asset)) inFlightCount += 1;
  }
  const inFlight: AsyncIterable<InFlightTask> = {
    async *[Symbol.asyncIterator]() {
      for await (const t of tasks.items()) yield { taskId: t._id, videoId: t.video_id, filename: t.system_metadata?.filename ?? '', status: t.status };
      for await (const asset of indexedAssets?.items() ?? []) {
        if (isInFlight(asset)) yield { taskId: asset._id, videoId: asset._id, filename: asset.system_metadata?.filename ?? '', status: asset.status ?? 'pending' };
      }
    },
  };
  const videoRefs: AsyncIterable<IndexedVideoRef> = {
    async *[Symbol.asyncIterator]() {
      for await (const v of videos.items()) yield { videoId: v._id, filename: v.system_metadata?.filename ?? '', size: v.system_metadata?.size, createdAt: v.created_at, userMetadata: metadataOf(v) };
      if (readySince.size === 0) return;
      for await (const asset of indexedAssets?.items() ?? []) {
        if (!isReadySince(asset)) continue;
        yield { videoId: asset._id, filename: asset.system_metadata?.filename ?? '', size: asset.system_metadata?.size, createdAt: asset.created_at, userMetadata: asset.user_metadata ?? undefined };
      }
    },
  };
  const videoIds = { has: (id: string) => videos.has(id) || readySince.has(id) };
  return { ledger, videoRefs, videoIds, videoCount: videos.size + readySince.size, inFlight, inFlightCount };
}
