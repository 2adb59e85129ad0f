import { invalid } from './api-error.js';
import type { MetadataValue, TaskFailure, UserMetadata, VideoMeta } from './model.js';

/** The platform's video requirements (the strictest current reading of the docs). */
export interface VideoLimits {
  /** POST /tasks: 2 GB. */
  maxFileSize: number;
  /** POST /assets with `method=url`: 4 GB. Indexing an asset checks this one, not `maxFileSize`. */
  maxAssetUrlSize: number;
  /** POST /assets with `method=direct`: 200 MB. */
  maxAssetDirectSize: number;
  minDurationSec: number;
  maxDurationSec: number;
  minSide: number;
  /** Upper bound of the long side and of the short side: 5184x2160. */
  maxLongSide: number;
  maxShortSide: number;
  maxAspectRatio: number;
}

export const DEFAULT_LIMITS: VideoLimits = {
  maxFileSize: 2 * 1024 ** 3,
  maxAssetUrlSize: 4 * 1024 ** 3,
  maxAssetDirectSize: 200 * 1024 ** 2,
  minDurationSec: 4,
  maxDurationSec: 7200,
  minSide: 360,
  maxLongSide: 5184,
  maxShortSide: 2160,
  maxAspectRatio: 2.4,
};

/** `video_filesize_too_large` above the size limit. */
export function fileTooLarge(size: number, limits: VideoLimits): TaskFailure | undefined {
  if (size <= limits.maxFileSize) return undefined;
  return {
    code: 'video_filesize_too_large',
    message: `The video is too large. Please use a video with a size less than ${humanSize(limits.maxFileSize)}. The current size is ${humanSize(size)}.`,
  };
}

/** An asset over its upload method's limit; the message names the limit. */
export function assetTooLarge(size: number, limit: number, method: 'url' | 'direct'): TaskFailure | undefined {
  if (size <= limit) return undefined;
  const how = method === 'url' ? 'uploaded by URL' : 'uploaded directly';
  return {
    code: 'asset_filesize_too_large',
    message: `The file is too large: ${size} bytes. Video and audio files ${how} may be at most ${humanSize(limit)} (${limit} bytes).`,
  };
}

/** `video_file_broken`, with an optional detail saying what went wrong. */
export function fileBroken(detail?: string): TaskFailure {
  const message = 'Cannot read video file. Please check the video file is valid and try again.';
  return { code: 'video_file_broken', message: detail ? `${message} (${detail})` : message };
}

/** Duration and resolution checks, in the order the platform reports them. */
export function checkVideo(meta: VideoMeta, limits: VideoLimits): TaskFailure | undefined {
  const seconds = `${limits.minDurationSec} seconds and ${limits.maxDurationSec / 3600} hours(${limits.maxDurationSec} seconds)`;
  if (meta.duration < limits.minDurationSec) {
    return {
      code: 'video_duration_too_short',
      message: `Video is too short. Please use video with duration between ${seconds}. Current duration is ${meta.duration} seconds.`,
    };
  }
  if (meta.duration > limits.maxDurationSec) {
    return {
      code: 'video_duration_too_long',
      message: `Video is too long. Please use video with duration between ${seconds}. Current duration is ${meta.duration} seconds.`,
    };
  }
  const resolution = `${meta.width}x${meta.height}`;
  const range = `${limits.minSide}x${limits.minSide} and ${limits.maxLongSide}x${limits.maxShortSide}`;
  const long = Math.max(meta.width, meta.height);
  const short = Math.min(meta.width, meta.height);
  if (short < limits.minSide) {
    return {
      code: 'video_resolution_too_low',
      message: `The resolution of the video is too low. Please upload a video with resolution between ${range}. Current resolution is ${resolution}.`,
    };
  }
  if (long > limits.maxLongSide || short > limits.maxShortSide) {
    return {
      code: 'video_resolution_too_high',
      message: `The resolution of the video is too high. Please upload a video with resolution between ${range}. Current resolution is ${resolution}.`,
    };
  }
  if (long / short > limits.maxAspectRatio) {
    return {
      code: 'video_resolution_invalid_aspect_ratio',
      message: `The aspect ratio of the video is invalid. Please upload a video with aspect ratio between 1:1 and ${limits.maxAspectRatio}:1. Current resolution is ${resolution}.`,
    };
  }
  return undefined;
}

/** True when the first bytes look like a container FFmpeg reads: the 'basic' probe's readability test. */
export function looksLikeVideo(head: Buffer): boolean {
  if (head.length < 4) return false;
  const box = head.subarray(4, 8).toString('latin1');
  if (['ftyp', 'moov', 'mdat', 'free', 'wide', 'skip'].includes(box)) return true;
  if (head.readUInt32BE(0) === 0x1a45dfa3) return true;
  const magic = head.subarray(0, 4).toString('latin1');
  if (magic === 'RIFF' || magic === 'OggS' || magic.startsWith('FLV')) return true;
  if (head[0] === 0x47 && (head.length <= 188 || head[188] === 0x47)) return true;
  const startCode = head.readUInt32BE(0);
  return startCode === 0x000001ba || startCode === 0x000001b3;
}

/** Parses the `user_metadata` form field: a JSON object whose values are strings, numbers or booleans. */
export function parseUserMetadata(raw: string): UserMetadata {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw invalid('The user_metadata parameter must be a JSON-encoded object.');
  }
  return userMetadataObject(parsed, 'The user_metadata parameter must be a JSON-encoded object.');
}

/** Checks a `user_metadata` value (a JSON body's object, or a parsed form field): scalar values only. */
export function userMetadataObject(value: unknown, notAnObject = 'The user_metadata parameter must be an object.'): UserMetadata {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid(notAnObject);
  const metadata: UserMetadata = {};
  for (const [key, entry] of Object.entries(value)) {
    if (!isMetadataValue(entry)) {
      throw invalid(`The value of user_metadata.${key} must be a string, an integer, a float or a boolean.`);
    }
    metadata[key] = entry;
  }
  return metadata;
}

/** A user-metadata value the platform stores: string, finite number or boolean. */
export function isMetadataValue(value: unknown): value is MetadataValue {
  return typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
}

function humanSize(bytes: number): string {
  const gb = bytes / 1024 ** 3;
  return gb >= 1 ? `${Number(gb.toFixed(2))}GB` : `${Number((bytes / 1024 ** 2).toFixed(2))}MB`;
}
