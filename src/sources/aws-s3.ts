import { createRequire } from 'node:module';
import type * as ClientS3 from '@aws-sdk/client-s3';

let loaded: typeof ClientS3 | undefined;

/**
 * The S3 client's classes, loaded with require on first use: the package is CommonJS, and
 * importing it as ESM makes Node scan its whole bundle for export names first (~60 ms of every
 * plan's start-up); loading it ~80 ms of CPU. Loaded when the first S3 client or command is made,
 * so that plan sends its first API request before paying for it.
 */
export function s3Sdk(): Pick<typeof ClientS3, 'GetObjectCommand' | 'HeadObjectCommand' | 'ListObjectsV2Command' | 'S3Client'> {
  loaded ??= createRequire(import.meta.url)('@aws-sdk/client-s3') as typeof ClientS3;
  return loaded;
}
