import { ConfigError } from '../errors.js';
import type { SourceSpec } from './types.js';

const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Parses `s3://bucket[/prefix]`. */
export function parseS3Uri(uri: string, flag = '--source'): SourceSpec {
  const match = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(uri);
  if (!match?.[1]) {
    throw new ConfigError('source_malformed', `${flag} '${uri}' is not an S3 URI: write it as s3://BUCKET or s3://BUCKET/PREFIX`);
  }
  const bucket = match[1];
  if (!BUCKET_RE.test(bucket) || bucket.includes('..')) {
    throw new ConfigError('source_malformed', `${flag}: '${bucket}' is not a valid S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)`);
  }
  return { bucket, prefix: match[2] ?? '' };
}

/** The S3 URI of one object, as recorded in user_metadata and the state file. */
export function objectUri(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}
