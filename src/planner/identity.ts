import { basename } from './filters.js';

/** The S3 URI of an object: its source identity, as `tlm_source` carries it. */
export function objectUri(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

/** Same size and ETag: the same content, whatever the key. */
export function contentKey(size: number, etag: string): string {
  return `${size}\0${etag}`;
}

/** RFC 3986 escaping of one path segment, as the AWS SDK's presigner writes it into the URL. */
function escapeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * The names the platform may give a video fetched from this key's presigned URL: the decoded last
 * path segment, or the segment as the URL carries it (percent-encoded). Which one the real API
 * keeps is not documented, so searches and matches accept both.
 */
export function filenameForms(key: string): string[] {
  const decoded = basename(key);
  const encoded = escapeSegment(decoded);
  return encoded === decoded ? [decoded] : [decoded, encoded];
}

/** Whether a video's or task's user_metadata names this object (source URI and ETag). */
export function isFingerprintOf(metadata: Record<string, unknown> | null | undefined, uri: string, etag: string): boolean {
  return metadata?.['tlm_source'] === uri && String(metadata['tlm_etag']) === etag;
}

/** The source and content a tlmigrate fingerprint names; undefined for metadata without one. */
export function fingerprintContent(metadata: Record<string, unknown> | null | undefined): { uri: string; content: string } | undefined {
  const source = metadata?.['tlm_source'];
  const etag = metadata?.['tlm_etag'];
  const size = Number(metadata?.['tlm_size']);
  if (typeof source !== 'string' || etag === undefined || !Number.isFinite(size)) return undefined;
  return { uri: source, content: contentKey(size, String(etag)) };
}
