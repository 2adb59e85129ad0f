/**
 * bench:plan's servers and buckets: the shared Ceph when TLM_TEST_S3_* name one (left running), else
 * a Ceph of its own (withServers); and seeded buckets kept across runs, because seeding 100k objects
 * takes minutes while listing them takes seconds.
 */
import { CreateBucketCommand, HeadBucketCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { performance } from 'node:perf_hooks';
import { putObjects, s3Client } from '../../test/helpers/s3.js';
import { startSimulator, type SimulatorOptions } from '../../test/sim/index.js';
import type { S3ServerInfo } from '../s3-server.js';
import { OBJECT_BYTES, checkInterrupted, log, objectKey, since, withServers, type Servers } from './common.js';

/** The S3 server named by TLM_TEST_S3_ENDPOINT / _ACCESS_KEY / _SECRET_KEY, if any (`source /work/s3-env.sh`). */
export function sharedS3(): S3ServerInfo | undefined {
  const endpoint = process.env.TLM_TEST_S3_ENDPOINT;
  const accessKeyId = process.env.TLM_TEST_S3_ACCESS_KEY;
  const secretAccessKey = process.env.TLM_TEST_S3_SECRET_KEY;
  if (!endpoint || !accessKeyId || !secretAccessKey) return undefined;
  return { endpoint, region: 'us-east-1', accessKeyId, secretAccessKey, dir: '', pids: [] };
}

/** Runs `body` against the shared S3 (never stopped here) and a fresh simulator; else starts both (withServers). */
export async function withBenchServers(simOptions: SimulatorOptions, body: (servers: Servers) => Promise<void>): Promise<number> {
  const s3info = sharedS3();
  if (!s3info) return withServers(simOptions, body);
  log(`using the shared S3 at ${s3info.endpoint} (TLM_TEST_S3_ENDPOINT)`);
  const sim = await startSimulator(simOptions);
  const s3 = s3Client(s3info);
  try {
    await body({ s3info, s3, sim });
    return 0;
  } catch (error) {
    process.stderr.write(`bench: the run failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  } finally {
    s3.destroy();
    await sim.close().catch(() => undefined);
  }
}

/** Objects in a bucket (one ListObjectsV2 loop); undefined when the bucket does not exist. */
async function countObjects(s3: S3Client, bucket: string): Promise<number | undefined> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch {
    return undefined;
  }
  let token: string | undefined;
  let n = 0;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    n += page.KeyCount ?? page.Contents?.length ?? 0;
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return n;
}

export interface BenchBucket {
  bucket: string;
  objects: Array<{ key: string; filename: string; size: number }>;
  seedSeconds: number;
  reused: boolean;
}

/**
 * `tlm-bench-plan-<n>`: n objects named by objectKey(i), OBJECT_BYTES each, each with its own
 * content. Reused when it already holds n objects; otherwise (missing, or a seeding cut short)
 * every object is put again, which is idempotent.
 */
export async function benchBucket(s3: S3Client, n: number, concurrency: number): Promise<BenchBucket> {
  const bucket = `tlm-bench-plan-${n}`;
  const objects = Array.from({ length: n }, (_, i) => ({ ...objectKey(i), size: OBJECT_BYTES }));
  const found = await countObjects(s3, bucket);
  if (found === n) {
    log(`reusing s3://${bucket} (${n.toLocaleString('en-US')} objects, seeded by an earlier run)`);
    return { bucket, objects, seedSeconds: 0, reused: true };
  }
  if (found === undefined) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const t0 = performance.now();
  const ticker = setInterval(() => log(`seeding s3://${bucket}: ${done.toLocaleString('en-US')}/${n.toLocaleString('en-US')}`), 15_000);
  let done = 0;
  try {
    const slice = 1000;
    for (let start = 0; start < n; start += slice) {
      checkInterrupted();
      const part = objects.slice(start, start + slice).map((o, j) => {
        const body = Buffer.alloc(OBJECT_BYTES, 0x20);
        body.write(`bench object ${start + j} ${bucket}\n`);
        return { key: o.key, body };
      });
      await putObjects(s3, bucket, part, concurrency);
      done += part.length;
    }
  } finally {
    clearInterval(ticker);
  }
  const seedSeconds = since(t0) / 1000;
  log(`seeded s3://${bucket} with ${n.toLocaleString('en-US')} objects in ${seedSeconds.toFixed(1)} s (kept for later runs)`);
  return { bucket, objects, seedSeconds, reused: false };
}
