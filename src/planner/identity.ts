/** The S3 URI of an object: its source identity, as `tlm_source` carries it. */
export function objectUri(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

/** Same size and ETag: the same content, whatever the key. */
export function contentKey(size: number, etag: string): string {
  return `${size}\0${etag}`;
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
