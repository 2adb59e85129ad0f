import picomatch from 'picomatch';
import type { PlanOptions } from './types.js';

/** Video containers the platform reads; anything else is `skip/excluded` unless `--all-files`. */
export const DEFAULT_VIDEO_EXTENSIONS = [
  'mp4', 'm4v', 'mov', 'qt', 'mkv', 'webm', 'avi', 'wmv', 'flv', 'mpg', 'mpeg', 'm2v', 'ts', 'mts', 'm2ts', '3gp', '3g2', 'mxf', 'ogv', 'vob', 'f4v', 'asf', 'dv',
];

export type Exclusion = { reason: 'excluded'; detail: string } | { reason: 'unsupported_file_type'; detail: string };

/** Builds the key filter once per plan: globs, size bounds, extensions. */
export function keyFilter(options: Pick<PlanOptions, 'include' | 'exclude' | 'minSize' | 'maxSize' | 'extensions' | 'allFiles'>) {
  const include = options.include.length ? picomatch(options.include, { dot: true }) : undefined;
  const exclude = options.exclude.length ? picomatch(options.exclude, { dot: true }) : undefined;
  const extensions = new Set(options.extensions.map((e) => e.toLowerCase().replace(/^\./, '')));
  return (key: string, size: number): Exclusion | undefined => {
    if (include && !include(key)) return { reason: 'excluded', detail: 'does not match --include' };
    if (exclude?.(key)) return { reason: 'excluded', detail: 'matches --exclude' };
    if (options.minSize !== undefined && size < options.minSize) return { reason: 'excluded', detail: `smaller than --min-size ${options.minSize}` };
    if (options.maxSize !== undefined && size > options.maxSize) return { reason: 'excluded', detail: `larger than --max-size ${options.maxSize}` };
    if (!extensions.has(extensionOf(key))) {
      const ext = extensionOf(key) || '(none)';
      return options.allFiles
        ? { reason: 'unsupported_file_type', detail: `.${ext} is not a video container the platform reads` }
        : { reason: 'excluded', detail: `extension ${ext} is not a video type (use --all-files or --extensions to include it)` };
    }
    return undefined;
  };
}

export function extensionOf(key: string): string {
  const name = basename(key);
  const dot = name.lastIndexOf('.');
  return dot <= 0 ? '' : name.slice(dot + 1).toLowerCase();
}

/** The file name the platform records: the URL path's last segment, decoded. */
export function basename(key: string): string {
  const slash = key.lastIndexOf('/');
  return slash === -1 ? key : key.slice(slash + 1);
}

/** One path segment as the AWS SDK writes it into a (presigned) URL: RFC 3986, `!'()*` included. */
function presignedSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * The names the platform may give a video fetched from this key's presigned URL: the decoded last
 * path segment, and the segment as the URL carries it (`a b+é.mp4` -> `a%20b%2B%C3%A9.mp4`) when
 * that differs. Which one the real API keeps is not documented, so searches and matches try both.
 */
export function filenameForms(key: string): string[] {
  const decoded = basename(key);
  // Most names need no encoding: skip encodeURIComponent and its replace for them.
  if (/^[A-Za-z0-9._~-]*$/.test(decoded)) return [decoded];
  const encoded = presignedSegment(decoded);
  return encoded === decoded ? [decoded] : [decoded, encoded];
}

/** A file name as one of `filenameForms` gave it, back in the decoded form (unchanged if it is not valid percent-encoding). */
export function decodedFilename(name: string): string {
  if (!name.includes('%')) return name;
  try {
    return decodeURIComponent(name);
  } catch {
    return name;
  }
}

/** Folder markers: zero-byte keys ending in `/`. */
export function isFolderMarker(key: string, size: number): boolean {
  return key.endsWith('/') && size === 0;
}
