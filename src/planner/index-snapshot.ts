import type { IndexedAsset, IndexedVideo, Task } from '../twelvelabs/types.js';
import type { InFlightTask, IndexedVideoRef, LedgerEntry } from './types.js';

/**
 * Reduces what the index listings returned to what matching needs: each video's name, size and
 * (where it is already known without a GET) its user_metadata; the tasks and indexed assets still
 * in flight. Indexed assets that became ready after the video listing was read count as videos.
 */
export function toIndexSnapshot<L extends Iterable<LedgerEntry> | AsyncIterable<LedgerEntry>>(
  ledger: L,
  videos: IndexedVideo[],
  metadataOf: (video: IndexedVideo) => Record<string, unknown> | undefined,
  tasks: Task[],
  indexedAssets: IndexedAsset[],
): { ledger: L; videoRefs: Iterable<IndexedVideoRef>; videoCount: number; inFlight: InFlightTask[] } {
  const inFlight: InFlightTask[] = tasks.map((t) => ({ taskId: t._id, videoId: t.video_id, filename: t.system_metadata?.filename ?? '', status: t.status }));
  const readySince: IndexedVideoRef[] = [];
  const known = indexedAssets.length > 0 ? new Set(videos.map((v) => v._id)) : new Set<string>();
  for (const asset of indexedAssets) {
    const filename = asset.system_metadata?.filename ?? '';
    if (asset.status === 'ready' && !known.has(asset._id)) {
      // Ready since the video listing was read: the filter could not have listed it, so read it.
      readySince.push({ videoId: asset._id, filename, size: asset.system_metadata?.size, createdAt: asset.created_at, userMetadata: asset.user_metadata ?? undefined });
    } else if (asset.status !== 'ready' && asset.status !== 'failed') {
      inFlight.push({ taskId: asset._id, videoId: asset._id, filename, status: asset.status ?? 'pending' });
    }
  }
  // Each video's reference made as the planner reads it, not a second array beside the listing's.
  const videoRefs: Iterable<IndexedVideoRef> = {
    *[Symbol.iterator]() {
      for (const v of videos) yield { videoId: v._id, filename: v.system_metadata?.filename ?? '', size: v.system_metadata?.size, createdAt: v.created_at, userMetadata: metadataOf(v) };
      yield* readySince;
    },
  };
  return { ledger, videoRefs, videoCount: videos.length + readySince.length, inFlight };
}
