import { randomBytes } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { inject } from 'vitest';
import type { S3ServerInfo } from '../../scripts/s3-server.js';

export type { S3ServerInfo };

/** The run's S3 server, started by test/global-setup.ts. */
export function s3Server(): S3ServerInfo {
  return inject('s3');
}

/** A client for the test server; checksums only when required, since Ceph rejects streamed ones. */
export function s3Client(info: S3ServerInfo): S3Client {
  return new S3Client({
    endpoint: info.endpoint,
    region: info.region,
    credentials: { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey },
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

let bucketCounter = 0;

/** Creates a bucket named after `hint`, unique across tests, workers and runs. */
export async function createTestBucket(client: S3Client, hint: string): Promise<string> {
  const suffix = `${(bucketCounter++).toString(36)}-${randomBytes(5).toString('hex')}`;
  const stem =
    hint
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 63 - 'tlm--'.length - suffix.length)
      .replace(/-+$/, '') || 'bucket';
  const bucket = `tlm-${stem}-${suffix}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

export type PutResult = { key: string; etag: string; size: number };

/** Uploads objects as Buffers (streamed bodies fail on Ceph), `concurrency` at a time. */
export async function putObjects(
  client: S3Client,
  bucket: string,
  objects: ReadonlyArray<{ key: string; body: Buffer | string }>,
  concurrency = 16,
): Promise<PutResult[]> {
  const results: PutResult[] = new Array<PutResult>(objects.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < objects.length; i = next++) {
      const { key, body } = objects[i]!;
      const bytes = typeof body === 'string' ? Buffer.from(body) : body;
      const out = await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes }));
      results[i] = { key, etag: out.ETag ?? '', size: bytes.length };
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, objects.length)) }, worker));
  return results;
}

/** Deletes every object and unfinished multipart upload, then the bucket. */
export async function deleteBucketRecursive(client: S3Client, bucket: string): Promise<void> {
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    const keys = (page.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [{ Key: o.Key }]));
    if (keys.length > 0) {
      const out = await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
      const failed = out.Errors?.[0];
      if (failed) throw new Error(`could not delete s3://${bucket}/${failed.Key}: ${failed.Code} ${failed.Message}`);
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);

  const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  for (const upload of uploads.Uploads ?? []) {
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.Key, UploadId: upload.UploadId }));
  }
  await client.send(new DeleteBucketCommand({ Bucket: bucket }));
}
