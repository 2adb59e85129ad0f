import { createHash } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestBucket, deleteBucketRecursive, putObjects, s3Client, s3Server } from '../helpers/s3.js';
import {
  VIDEO_KINDS,
  probeVideo,
  uniqueValidVideo,
  uniqueValidVideoPath,
  videoFixture,
  videoFixturePath,
  videoFixtureSpec,
} from '../helpers/videos.js';

describe('the test S3 server (Ceph radosgw)', () => {
  let client: S3Client;
  const buckets: string[] = [];
  const bucketFor = async (hint: string) => {
    const bucket = await createTestBucket(client, hint);
    buckets.push(bucket);
    return bucket;
  };

  beforeAll(() => {
    client = s3Client(s3Server());
  });
  afterAll(async () => {
    for (const bucket of buckets) await deleteBucketRecursive(client, bucket);
    client.destroy();
  });

  it('round-trips a signed PutObject through ListObjectsV2 and GetObject', async () => {
    const bucket = await bucketFor('round trip');
    const [put] = await putObjects(client, bucket, [{ key: 'videos/hello.mp4', body: 'hello world' }]);
    expect(put?.etag).toBe(`"${createHash('md5').update('hello world').digest('hex')}"`);

    const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect(listed.Contents?.map((o) => [o.Key, o.Size, o.ETag])).toEqual([['videos/hello.mp4', 11, put?.etag]]);
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'videos/hello.mp4' }));
    expect(await got.Body?.transformToString()).toBe('hello world');
  });

  it('lists odd keys back exactly, in UTF-8 byte order', async () => {
    const bucket = await bucketFor('odd keys');
    const keys = [
      'with space.mp4',
      ' leading and trailing ',
      'unicodé/视频/ファイル.mp4',
      'emoji 🎬.mov',
      'plus+sign.mp4',
      'percent%2Bencoded.mp4',
      '100%.mp4',
      "punct !$&'()*,;=@~.mp4",
      'deep/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/clip.mp4',
      'Zebra.mp4',
      'zebra.mp4',
    ];
    await putObjects(client, bucket, keys.map((key) => ({ key, body: key })));

    const listed: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 4, ContinuationToken: token }));
      listed.push(...(page.Contents ?? []).map((o) => o.Key ?? ''));
      token = page.NextContinuationToken;
    } while (token !== undefined);
    expect(listed).toEqual([...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
  });

  it('serves a presigned GET with a Range header as 206 Partial Content', async () => {
    const bucket = await bucketFor('presigned range');
    const body = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
    await putObjects(client, bucket, [{ key: 'clip.mp4', body }]);
    const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: 'clip.mp4' }), { expiresIn: 300 });

    const response = await fetch(url, { headers: { Range: 'bytes=0-99' } });
    expect(response.status).toBe(206);
    expect(Buffer.from(await response.arrayBuffer())).toEqual(body.subarray(0, 100));
  });

  it('refuses a presigned URL whose signature was tampered with (403)', async () => {
    const bucket = await bucketFor('presigned tamper');
    await putObjects(client, bucket, [{ key: 'clip.mp4', body: 'secret' }]);
    const signed = await getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: 'clip.mp4' }), {
      expiresIn: 300,
    });
    const tampered = new URL(signed);
    const signature = tampered.searchParams.get('X-Amz-Signature') ?? '';
    expect(signature).toMatch(/^[0-9a-f]{64}$/);
    tampered.searchParams.set('X-Amz-Signature', `${signature.slice(0, -1)}${signature.endsWith('0') ? '1' : '0'}`);

    expect((await fetch(tampered)).status).toBe(403);
    expect((await fetch(signed)).status).toBe(200);
  });
});

describe.skipIf(!inject('ffmpegAvailable'))('video fixtures', () => {
  it('produces every kind, with distinct bytes', async () => {
    const fixtures = await Promise.all(VIDEO_KINDS.map((kind) => videoFixture(kind)));
    const digests = fixtures.map((bytes) => createHash('sha256').update(bytes).digest('hex'));
    expect(new Set(digests).size).toBe(VIDEO_KINDS.length);
    for (const bytes of fixtures) expect(bytes.length).toBeGreaterThan(0);
    expect((await videoFixture('random_bytes')).length).toBe(64 * 1024);
  });

  it('has valid read by ffprobe as 640x360, 5 s, with audio', async () => {
    const probe = await probeVideo(await videoFixturePath('valid'));
    expect(probe).toMatchObject({ width: 640, height: 360, hasAudio: true });
    expect(probe.durationSec).toBeCloseTo(5, 1);
    expect((await videoFixture('valid')).length).toBeLessThan(200_000);
  });

  it.each(VIDEO_KINDS)('%s matches its spec under ffprobe', async (kind) => {
    const spec = videoFixtureSpec(kind);
    const path = await videoFixturePath(kind);
    expect(path.endsWith(spec.ext)).toBe(true);
    if (spec.probe === undefined) {
      await expect(probeVideo(path)).rejects.toThrow();
      return;
    }
    const probe = await probeVideo(path);
    expect(probe).toMatchObject({ width: spec.probe.width, height: spec.probe.height, hasAudio: spec.probe.hasAudio });
    expect(Math.abs(probe.durationSec - spec.probe.durationSec)).toBeLessThan(0.2);
  });

  it('makes valid videos whose bytes differ per seed', async () => {
    const [a, b, again] = await Promise.all([uniqueValidVideo(1), uniqueValidVideo(2), uniqueValidVideo(1)]);
    expect(a.equals(b)).toBe(false);
    expect(a.equals(again)).toBe(true);
    const probe = await probeVideo(await uniqueValidVideoPath(2));
    expect(probe).toMatchObject({ width: 640, height: 360 });
  });
});
