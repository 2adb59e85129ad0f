import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLAN_VERSION, emptySummary, planMigration, type PlanHeader } from '../../src/planner/index.js';
import { writePlanFile } from '../../src/planner/plan-file.js';
import { S3Source, createS3Client, stripQuotes } from '../../src/sources/s3.js';
import type { SourceObject } from '../../src/sources/types.js';
import { DEFAULT_REQUIREMENTS, DEFAULT_VIDEO_EXTENSIONS } from '../../src/planner/index.js';
import { SourceError } from '../../src/errors.js';
import type * as ThreadedModule from '../../src/sources/threaded-list.js';
import { putObjects } from '../helpers/s3.js';
import { makeWorld, type World } from '../helpers/world.js';

/** Objects between folders, a folder marker, a lone-folder chain, keys past U+FFFF, a folder of two pages, 30 small folders. */
function keys(): string[] {
  const out = ['a.mp4', 'a/1.mp4', 'a/2.mp4', 'a0.mp4', 'b/', 'b/x.mp4', 'b.mov', 'c/d/e/deep.mp4', 'c/d/e/f/deeper.mp4', 'z.mp4'];
  out.push('\u{1F3AC}/clip.mp4', '\uFFFD/clip.mp4', '\uE000.mp4', '\u{1F3AC}.mp4', 'é/clip.mp4', 'sp ace/clip one.mp4');
  // What the listing's XML must carry exactly: entities, a plus, a percent sign, quotes, spaces at the ends.
  out.push('amp & lt < gt >.mp4', 'plus+sign/a+b.mp4', 'pct%20lit.mp4', `quotes "double" 'single'.mp4`, ' lead and trail .mp4', 'tab\there.mp4', 'ü+&<>/x.mp4');
  for (let i = 0; i < 1100; i++) out.push(`big/${String(i).padStart(5, '0')}.mp4`);
  for (let f = 0; f < 30; f++) for (let i = 0; i < 5; i++) out.push(`f${String(f).padStart(2, '0')}/clip-${i}.mp4`);
  return out;
}

describe('the parallel listing on a real S3 (Ceph)', () => {
  let w: World;
  let source: S3Source;
  beforeAll(async () => {
    w = await makeWorld('parallel-list');
    await putObjects(
      w.s3,
      w.bucket,
      keys().map((key, i) => ({ key, body: i % 3 === 0 ? 'the same content' : `${key} ${i}` })),
      32,
    );
    source = new S3Source(createS3Client({ endpoint: w.s3info.endpoint, region: w.s3info.region }), w.bucket);
    process.env.AWS_ACCESS_KEY_ID = w.s3info.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = w.s3info.secretAccessKey;
  });
  afterAll(() => w?.close());

  /** What the planner read before the parallel listing: one ListObjectsV2 loop without a delimiter. */
  async function* flatListing(prefix: string): AsyncGenerator<SourceObject> {
    let token: string | undefined;
    do {
      const page = await w.s3.send(new ListObjectsV2Command({ Bucket: w.bucket, Prefix: prefix || undefined, ContinuationToken: token, MaxKeys: 1000 }));
      for (const o of page.Contents ?? []) {
        yield { key: o.Key ?? '', size: o.Size ?? 0, etag: stripQuotes(o.ETag ?? ''), lastModified: (o.LastModified ?? new Date(0)).toISOString(), storageClass: o.StorageClass, restored: undefined };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
    const out: T[] = [];
    for await (const item of source) out.push(item);
    return out;
  }

  for (const prefix of ['', 'c', 'big/', 'f']) {
    it(`lists the same objects in the same order as the flat listing (prefix '${prefix}')`, async () => {
      const flat = await collect(flatListing(prefix));
      expect(flat.length).toBeGreaterThan(0);
      expect(await collect(source.list({ prefix }))).toEqual(flat);
    });
  }

  it('writes a byte-identical plan file', async () => {
    const header: PlanHeader = {
      version: PLAN_VERSION,
      planId: 'fixed',
      createdAt: '2026-01-01T00:00:00.000Z',
      tool: 'tlmigrate test',
      source: { uri: `s3://${w.bucket}`, bucket: w.bucket, prefix: '' },
      indexId: w.indexId,
      options: { include: [], exclude: [], incremental: true, match: 'filename', probe: false, allFiles: false, extensions: DEFAULT_VIDEO_EXTENSIONS, requirements: DEFAULT_REQUIREMENTS },
    };
    const videos = keys()
      .filter((_, i) => i % 4 === 0)
      .map((key, i) => ({ videoId: `v${i}`, filename: key.split('/').pop() ?? key, size: undefined }));
    const planWith = async (objects: AsyncIterable<SourceObject>, file: string) => {
      const summary = emptySummary();
      const items = planMigration({ source: header.source, objects, videos, inFlight: [], ledger: [], options: header.options, edges: { videoMetadata: async () => ({}) } }, summary);
      await writePlanFile(join(w.dir, file), header, items, () => summary);
      return readFile(join(w.dir, file));
    };
    const flat = await planWith(flatListing(''), 'flat.json');
    const parallel = await planWith(source.list({ prefix: '' }), 'parallel.json');
    expect(parallel.toString('utf8')).toBe(flat.toString('utf8'));
    expect(flat.toString('utf8')).toContain('"reason":"duplicate"');
  });

  describe('on a thread of its own (ThreadedLister, the compiled one the CLI uses)', () => {
    /** The built module (`npm test` builds first): the thread runs dist/sources/list-worker.js. */
    const threaded = async () => (await import(pathToFileURL(join(process.cwd(), 'dist', 'sources', 'threaded-list.js')).href)) as typeof ThreadedModule;
    const settings = () => ({ endpoint: w.s3info.endpoint, region: w.s3info.region });

    for (const prefix of ['', 'f']) {
      it(`lists the same objects in the same order as in this thread, a few at a time (prefix '${prefix}')`, async () => {
        const { ThreadedLister } = await threaded();
        // Batches of 7 and room for 2 of them: the thread waits on the reader about 200 times.
        const lister = new ThreadedLister(settings(), w.bucket, prefix, { bufferObjects: 14, batch: 7 });
        await lister.checkAccess();
        const here = await collect(source.list({ prefix }));
        expect(here.length).toBeGreaterThan(100);
        expect(await collect(lister.list({ prefix }))).toEqual(here);
      });
    }

    it('takes the thread the CLI started early (warmListingThread) and lists the same objects; an untaken one is ended', async () => {
      const { ThreadedLister, warmListingThread, discardWarmListingThread } = await threaded();
      warmListingThread();
      // The thread loads the S3 SDK meanwhile; the lister then hands it its listing.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const lister = new ThreadedLister(settings(), w.bucket, 'f', { bufferObjects: 14, batch: 7 });
      expect(discardWarmListingThread()).toBe(false);
      await lister.checkAccess();
      expect(await collect(lister.list({ prefix: 'f' }))).toEqual(await collect(source.list({ prefix: 'f' })));
      // Taken at once, before its SDK is loaded: it waits for its listing as well.
      warmListingThread();
      expect(await collect(new ThreadedLister(settings(), w.bucket, 'f', { bufferObjects: 1000 }).list({ prefix: 'f' }))).toHaveLength(150);
      warmListingThread();
      expect(discardWarmListingThread()).toBe(true);
      expect(discardWarmListingThread()).toBe(false);
    });

    it('wakes both the access check and the reader when both wait for the thread', async () => {
      const { ThreadedLister } = await threaded();
      const lister = new ThreadedLister(settings(), w.bucket, 'f', { bufferObjects: 1000 });
      // The reader waits first, then the check: each must be woken by the thread's messages.
      const reading = collect(lister.list({ prefix: 'f' }));
      const checked = lister.checkAccess();
      const [objects] = await Promise.all([reading, checked]);
      expect(objects.map((o) => o.key)).toEqual((await collect(source.list({ prefix: 'f' }))).map((o) => o.key));
    });

    it("fails as this thread's check and listing do: the same class, code and line", async () => {
      const { ThreadedLister } = await threaded();
      const missing = `${w.bucket}-missing`;
      const here = new S3Source(createS3Client(settings()), missing);
      const checkHere = await here.checkAccess('').catch((error: unknown) => error);
      const listHere = await collect(here.list({ prefix: '' })).catch((error: unknown) => error);
      const onThread = new ThreadedLister(settings(), missing, '', { bufferObjects: 1000 });
      const checkThere = await onThread.checkAccess().catch((error: unknown) => error);
      const listThere = await collect(onThread.list({ prefix: '' })).catch((error: unknown) => error);
      expect(checkHere).toBeInstanceOf(SourceError);
      expect((checkHere as SourceError).code).toBe('bucket_missing');
      // The built module's SourceError (dist/errors.js), not this test's (src/errors.ts): compared by name.
      const shape = (error: unknown) => ({ name: (error as Error).name, code: (error as SourceError).code, message: (error as Error).message, exitCode: (error as SourceError).exitCode });
      expect([shape(checkThere), shape(listThere)]).toEqual([shape(checkHere), shape(listHere)]);
    });

    it('ends its thread when the reader stops early, and answers a stop with its reason', async () => {
      const { ThreadedLister } = await threaded();
      const first: string[] = [];
      for await (const object of new ThreadedLister(settings(), w.bucket, '', { bufferObjects: 20, batch: 10 }).list({ prefix: '' })) {
        first.push(object.key);
        if (first.length === 5) break;
      }
      expect(first).toEqual((await collect(source.list({ prefix: '' }))).slice(0, 5).map((o) => o.key));
      const stop = new AbortController();
      const reason = new Error('stopped by the test');
      const seen: string[] = [];
      const stopped = (async () => {
        for await (const object of new ThreadedLister(settings(), w.bucket, '', { bufferObjects: 20, batch: 10 }).list({ prefix: '' }, stop.signal)) {
          seen.push(object.key);
          if (seen.length === 3) stop.abort(reason);
        }
      })();
      await expect(stopped).rejects.toBe(reason);
      expect(seen).toHaveLength(3);
      // A check called off: the thread ends, the check fails with the reason.
      const unchecked = new ThreadedLister(settings(), w.bucket, '', { bufferObjects: 20 });
      await expect(unchecked.checkAccess(AbortSignal.abort(reason))).rejects.toBe(reason);
    });
  });
});
