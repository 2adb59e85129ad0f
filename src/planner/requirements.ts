import type { ProbeResult, RequirementsProfile } from './types.js';

const GB = 1024 ** 3;

/** The strictest current reading of the platform's video requirements (shared/twelvelabs-api.md). */
export const DEFAULT_REQUIREMENTS: RequirementsProfile = {
  maxFileSizeBytes: 2 * GB,
  minDurationSeconds: 4,
  maxDurationSeconds: 2 * 3600,
  minWidth: 360,
  minHeight: 360,
  maxLongSide: 5184,
  maxShortSide: 2160,
  maxAspectRatio: 2.4,
};

/** By URL, POST /assets takes videos up to 4 GB; POST /tasks up to 2 GB. */
export const ASSETS_MAX_FILE_SIZE = 4 * GB;

/**
 * A multipart upload takes video up to 10 GB (twelvelabs-js 1.3.4): `--via assets` plans larger files
 * than the URL path takes that way. Read as binary GB, like the 4 GB of the older docs (4294967296).
 */
export const MULTIPART_MAX_FILE_SIZE = 10 * GB;

/** Per-model duration ceilings; an index with several models gets the strictest. */
const MODEL_MAX_DURATION: Array<[RegExp, number]> = [
  [/pegasus/i, 3600],
  [/marengo.?3/i, 4 * 3600],
  [/marengo/i, 2 * 3600],
];

/** Tightens the profile for the index's models. */
export function requirementsForModels(base: RequirementsProfile, modelNames: string[]): RequirementsProfile {
  let maxDuration = base.maxDurationSeconds;
  for (const name of modelNames) {
    const ceiling = MODEL_MAX_DURATION.find(([re]) => re.test(name))?.[1];
    if (ceiling !== undefined) maxDuration = Math.min(maxDuration, ceiling);
  }
  return { ...base, maxDurationSeconds: maxDuration };
}

/** The profile a plan uses: the path's size limit, the user's overrides, then the index's models. */
export function requirementsFor(via: 'tasks' | 'assets', overrides: Partial<RequirementsProfile>, modelNames: string[]): RequirementsProfile {
  const base = via === 'assets' ? { ...DEFAULT_REQUIREMENTS, maxFileSizeBytes: MULTIPART_MAX_FILE_SIZE } : DEFAULT_REQUIREMENTS;
  return requirementsForModels({ ...base, ...overrides }, modelNames);
}

/**
 * `--via assets`: an object over the URL path's limit (or a lowered threshold) is uploaded in parts,
 * streamed from the source. Undefined = by URL.
 */
export function uploadMethod(size: number, options: { via?: 'tasks' | 'assets' | undefined; multipartThresholdBytes?: number | undefined }): 'multipart' | undefined {
  if (options.via !== 'assets') return undefined;
  return size > multipartThreshold(options) ? 'multipart' : undefined;
}

/** The size above which `--via assets` uploads in parts: `--multipart-threshold`, else the URL path's 4 GB. */
export function multipartThreshold(options: { multipartThresholdBytes?: number | undefined }): number {
  return options.multipartThresholdBytes ?? ASSETS_MAX_FILE_SIZE;
}

export interface PreflightFailure {
  code: string;
  detail: string;
}

/** Checks from the listing alone: size and storage class. */
export function preflightListing(
  object: { size: number; storageClass?: string | undefined; restored?: boolean | undefined },
  requirements: RequirementsProfile,
): PreflightFailure | undefined {
  if (object.storageClass && ARCHIVE_CLASSES.has(object.storageClass) && object.restored !== true) {
    return {
      code: 'source_archived',
      detail: `object is in the ${object.storageClass} storage class and not restored: restore it (aws s3api restore-object) and re-plan`,
    };
  }
  if (object.size === 0) return { code: 'video_file_broken', detail: 'the object is empty (0 bytes)' };
  if (object.size > requirements.maxFileSizeBytes) {
    return {
      code: 'video_filesize_too_large',
      detail: `${formatBytes(object.size)} is over the ${formatBytes(requirements.maxFileSizeBytes)} limit`,
    };
  }
  return undefined;
}

const ARCHIVE_CLASSES = new Set(['GLACIER', 'DEEP_ARCHIVE']);

/**
 * Keys a presigned URL cannot carry faithfully: URL parsers resolve `.` and `..` segments away and
 * servers or proxies may merge empty ones (`a//b`, a leading `/`), so the platform would fetch
 * another object, or none. They fail preflight; the fix is renaming the object.
 */
export function preflightKey(key: string): PreflightFailure | undefined {
  // Neither a dot segment (it starts the key or follows a slash) nor an empty one: most keys, at once.
  if (key[0] !== '.' && key[0] !== '/' && !key.includes('/.') && !key.includes('//')) return undefined;
  const segments = key.split('/');
  const dots = segments.find((s) => s === '.' || s === '..');
  if (dots !== undefined) {
    return { code: 'source_key_unsupported', detail: `the key has a '${dots}' path segment, which a URL resolves away (the platform would fetch another object): rename the object (aws s3 mv)` };
  }
  if (segments.slice(0, -1).includes('')) {
    return { code: 'source_key_unsupported', detail: "the key has an empty path segment ('//' or a leading '/'), which servers and proxies may merge: rename the object (aws s3 mv)" };
  }
  return undefined;
}

/** Checks from an ffprobe result: duration, resolution, aspect ratio, readability. */
export function preflightProbe(probe: ProbeResult, requirements: RequirementsProfile): PreflightFailure | undefined {
  if (probe.error !== undefined) return { code: 'video_file_broken', detail: `ffprobe could not read it: ${probe.error}` };
  const { durationSeconds: d, width: w, height: h } = probe;
  if (w === undefined || h === undefined || w <= 0 || h <= 0) return { code: 'video_file_broken', detail: 'no video stream found' };
  if (d !== undefined && d < requirements.minDurationSeconds) {
    return { code: 'video_duration_too_short', detail: `${d.toFixed(1)} s is under the ${requirements.minDurationSeconds} s minimum` };
  }
  if (d !== undefined && d > requirements.maxDurationSeconds) {
    return { code: 'video_duration_too_long', detail: `${(d / 60).toFixed(1)} min is over the ${requirements.maxDurationSeconds / 60} min maximum` };
  }
  if (w < requirements.minWidth || h < requirements.minHeight) {
    return { code: 'video_resolution_too_low', detail: `${w}x${h} is under ${requirements.minWidth}x${requirements.minHeight}` };
  }
  const long = Math.max(w, h);
  const short = Math.min(w, h);
  if (long > requirements.maxLongSide || short > requirements.maxShortSide) {
    return { code: 'video_resolution_too_high', detail: `${w}x${h} is over ${requirements.maxLongSide}x${requirements.maxShortSide}` };
  }
  if (long / short > requirements.maxAspectRatio + 1e-9) {
    return {
      code: 'video_resolution_invalid_aspect_ratio',
      detail: `${w}x${h} (${(long / short).toFixed(2)}:1) is outside 1:1 to ${requirements.maxAspectRatio}:1`,
    };
  }
  return undefined;
}

/** 412.6 GB style: decimal units, one decimal. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}
