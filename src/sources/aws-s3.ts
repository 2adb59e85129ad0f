import { createRequire } from 'node:module';
import type * as ClientS3 from '@aws-sdk/client-s3';

/**
 * The S3 client's classes, loaded with require: the package is CommonJS, and importing it as ESM
 * makes Node scan its whole bundle for export names first (~60 ms of every plan's start-up).
 */
export const { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } = createRequire(import.meta.url)('@aws-sdk/client-s3') as typeof ClientS3;
