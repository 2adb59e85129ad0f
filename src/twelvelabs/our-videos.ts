import { ApiError } from '../errors.js';
import type { TwelveLabsClient } from './client.js';
import { TLM_MARKER, listAllVideos } from './index-reader.js';
import type { IndexedVideo } from './types.js';

/**
 * What the user-metadata filter of the video listing proved at run time. Its encoding is not
 * confirmed (shared/twelvelabs-api.md): a server may honour it, ignore it (every video listed) or
 * misread it (nothing listed), so an empty filtered list is no proof that no video is ours.
 * - `works`: it listed a video that carries the marker, and every video known to carry it
 * - `all-listed`: it listed every video (ignored, or every video is ours): it tells nothing
 * - `broken`: it left out a video known to carry the marker, or listed one without it
 * - `unproven`: it listed nothing, and no video present is known to carry the marker
 */
export type MarkerFilterVerdict = 'works' | 'all-listed' | 'broken' | 'unproven';

/** Which videos of an index tlmigrate made, as far as the marker filter can be trusted to say. */
export interface OurVideos {
  verdict: MarkerFilterVerdict;
  /** What the filter listed, only when it `works`: every other video is known to carry no fingerprint. */
  ids: VideoIds | undefined;
}

/** Ids looked up one at a time: a Set, or a listing spilled to disk (`SpilledListing`). */
export interface VideoIds {
  has(id: string): boolean;
}

/** A listing as the judgement reads it when it is not held as an array: how many, which, each in order, the first. */
export interface ListedVideoIds extends VideoIds {
  readonly size: number;
  idsInOrder(): AsyncIterable<string>;
  readonly first: Pick<IndexedVideo, '_id' | 'user_metadata'> | undefined;
}

export interface MarkerFilterEvidence {
  /** Every video of the index (unfiltered listing). */
  all: readonly Pick<IndexedVideo, '_id'>[] | ListedVideoIds;
  /** The listing filtered by tlmigrate's marker. */
  filtered: readonly Pick<IndexedVideo, '_id' | 'user_metadata'>[] | ListedVideoIds;
  /** Videos known to carry the marker: those the state's ledger recorded (streamed from it by plan). */
  known: Iterable<string> | AsyncIterable<string>;
}

type MarkerApi = Pick<TwelveLabsClient, 'getVideo'>;

/**
 * Judges the marker filter against what is known: the ledger's videos must all be listed, and
 * one listed video, read by GET, must carry the marker. One GET at most. The listings are read
 * through lookups and one pass in order, so spilled listings of millions of videos are never held.
 */
export async function judgeMarkerFilter(api: MarkerApi, indexId: string, evidence: MarkerFilterEvidence, signal?: AbortSignal): Promise<OurVideos> {
  const all = asListed(evidence.all);
  const listed = asListed(evidence.filtered);
  const unknown: OurVideos = { verdict: 'unproven', ids: undefined };
  // Every video listed needs at least as many ids listed: most answers are settled by the counts.
  if (all.size > 0 && listed.size >= all.size && (await everyId(all.idsInOrder(), (id) => listed.has(id)))) return { ...unknown, verdict: 'all-listed' };
  for await (const id of evidence.known) if (!listed.has(id) && all.has(id)) return { ...unknown, verdict: 'broken' };
  const sample = listed.first;
  if (!sample) return unknown;
  const metadata = sample.user_metadata ?? (await readMetadata(api, indexId, sample._id, signal));
  if (metadata === undefined) return unknown;
  if (metadata.tlm_tool !== TLM_MARKER.tlm_tool) return { ...unknown, verdict: 'broken' };
  return { verdict: 'works', ids: listed };
}

/** An array of listed videos (each id once, as the reader returns them) as a ListedVideoIds. */
function asListed(videos: readonly Pick<IndexedVideo, '_id' | 'user_metadata'>[] | ListedVideoIds): ListedVideoIds {
  if ('idsInOrder' in videos) return videos;
  const ids = new Set(videos.map((v) => v._id));
  return {
    size: ids.size,
    has: (id) => ids.has(id),
    idsInOrder: async function* () {
      yield* ids;
    },
    first: videos[0],
  };
}

async function everyId(ids: AsyncIterable<string>, test: (id: string) => boolean): Promise<boolean> {
  for await (const id of ids) if (!test(id)) return false;
  return true;
}

/** Lists the index's videos by tlmigrate's marker and judges the answer (see `judgeMarkerFilter`). */
export async function findOurVideos(
  api: Pick<TwelveLabsClient, 'listVideos' | 'getVideo'>,
  indexId: string,
  all: readonly Pick<IndexedVideo, '_id'>[],
  known: Iterable<string>,
  signal?: AbortSignal,
): Promise<OurVideos> {
  const filtered = await listAllVideos(api, indexId, { userMetadata: TLM_MARKER, ...(signal ? { signal } : {}) });
  return judgeMarkerFilter(api, indexId, { all, filtered, known }, signal);
}

/** What a migration's records (state items, ledger entries) say about one object's video. */
export interface VideoRecord {
  videoId?: string | undefined;
  taskId?: string | undefined;
  indexedAssetId?: string | undefined;
  /** Set for items the plan skipped: their video was matched (perhaps a legacy one), not created. */
  reason?: string | undefined;
}

/** Whether a record's video is one tlmigrate created: a task or indexed asset of its own, not a match. */
function created(r: VideoRecord): r is VideoRecord & { videoId: string } {
  return Boolean(r.videoId && r.reason === undefined && (r.taskId || r.indexedAssetId));
}

/** The videos tlmigrate created, by its records. */
export function createdVideoIds(records: Iterable<VideoRecord>): string[] {
  const ids: string[] = [];
  for (const r of records) if (created(r)) ids.push(r.videoId);
  return ids;
}

/** The videos tlmigrate created, by records streamed (a state's ledger): none held. */
export async function* streamCreatedVideoIds(records: AsyncIterable<VideoRecord>): AsyncGenerator<string> {
  for await (const r of records) if (created(r)) yield r.videoId;
}

/** Known to carry no fingerprint: one shared object, not one per legacy video. */
const NO_METADATA: Record<string, unknown> = Object.freeze({});

/**
 * A video's user_metadata as far as it is known without a GET: the listing's when it carried it,
 * `{}` when a working filter shows the video is not tlmigrate's, else undefined (read it).
 */
export function knownMetadata(video: Pick<IndexedVideo, '_id' | 'user_metadata'>, ours: OurVideos): Record<string, unknown> | undefined {
  if (video.user_metadata) return video.user_metadata;
  return ours.ids && !ours.ids.has(video._id) ? NO_METADATA : undefined;
}

/** One listed video's user_metadata (`{}` when it has none); undefined when it is gone. */
async function readMetadata(api: MarkerApi, indexId: string, videoId: string, signal?: AbortSignal): Promise<Record<string, unknown> | undefined> {
  try {
    return (await api.getVideo(indexId, videoId, signal)).user_metadata ?? {};
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.code === 'resource_not_exist')) return undefined;
    throw error;
  }
}
