import { describe, expect, it } from 'vitest';
import { writePlanFile } from '../../src/planner/plan-file.js';
import { PLAN_VERSION, emptySummary, planMigration, type PlanHeader } from '../../src/planner/index.js';
import { compareKeys, listInParallel } from '../../src/sources/parallel-list.js';
import type { SourceObject } from '../../src/sources/types.js';
import { MemoryBucket } from '../helpers/memory-bucket.js';
import { aSourceObject, anIndexedVideo, fakeEdges, somePlanOptions } from './builders.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { useTmpDir } from './tmp-dir.js';

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}

/** Keys that exercise the order: objects between folders, folder markers, a lone-folder chain, keys past U+FFFF, a folder of several pages. */
function trickyKeys(): string[] {
  const keys = ['a.mp4', 'a/1.mp4', 'a/2.mp4', 'a0.mp4', 'b/', 'b/x.mp4', 'b.mov', 'c/d/e/deep.mp4', 'c/d/e/f/deeper.mp4', 'z.mp4'];
  keys.push('\u{1F3AC}/clip.mp4', '\uFFFD/clip.mp4', '\uE000.mp4', '\u{1F3AC}.mp4', 'é/clip.mp4');
  for (let i = 0; i < 2500; i++) keys.push(`big/${String(i).padStart(5, '0')}.mp4`);
  for (let f = 0; f < 40; f++) for (let i = 0; i < 30; i++) keys.push(`f${String(f).padStart(2, '0')}/clip-${i}.mp4`);
  return keys;
}

const bucketOf = (keys: string[], options: ConstructorParameters<typeof MemoryBucket>[1] = {}) =>
  new MemoryBucket(
    keys.map((key, i) => aSourceObject({ key, size: 1000 + (i % 7) })),
    options,
  );

describe('listInParallel', () => {
  const tmp = useTmpDir();
  const layouts: Array<[string, string[], string]> = [
    ['tricky keys, whole bucket', trickyKeys(), ''],
    ['tricky keys under a prefix without its slash', trickyKeys(), 'c'],
    ['a lone folder chain', ['v/2024/01/a.mp4', 'v/2024/01/b.mp4', 'v/2024/02/c.mp4'], ''],
    ['objects only (no folders)', Array.from({ length: 2300 }, (_, i) => `clip-${i}.mp4`), ''],
    ['an empty listing', [], 'nothing/'],
  ];
  for (const [name, keys, prefix] of layouts) {
    for (const concurrency of [1, 3, 16]) {
      it(`returns exactly the flat listing: ${name}, concurrency ${concurrency}`, async () => {
        const bucket = bucketOf(keys, { pageSize: 100 });
        const flat = await collect(bucket.flat(prefix));
        const parallel = await collect(listInParallel(bucket, { prefix, concurrency, bufferPerRange: 50 }));
        expect(parallel).toEqual(flat);
        expect(parallel.length).toBe(keys.filter((k) => k.startsWith(prefix)).length);
      });
    }
  }

  it('falls back to the flat listing on a store that ignores the delimiter', async () => {
    const bucket = bucketOf(trickyKeys(), { pageSize: 100, ignoreDelimiter: true });
    expect(await collect(listInParallel(bucket, { prefix: '', concurrency: 8 }))).toEqual(await collect(bucket.flat()));
  });

  it('lists folders in parallel, but never more than concurrency (+1 for the folder listing) at once', async () => {
    const bucket = bucketOf(trickyKeys(), { pageSize: 10 });
    await collect(listInParallel(bucket, { prefix: '', concurrency: 4, bufferPerRange: 20 }));
    expect(bucket.maxInFlight).toBeGreaterThan(1);
    expect(bucket.maxInFlight).toBeLessThanOrEqual(5);
  });

  it('lists neighbouring small folders together: a bucket of many small folders costs few requests', async () => {
    const keys = Array.from({ length: 200 }, (_, f) => Array.from({ length: 5 }, (_, i) => `f${String(f).padStart(3, '0')}/clip-${i}.mp4`)).flat();
    const bucket = bucketOf(keys);
    expect(await collect(listInParallel(bucket, { prefix: '', concurrency: 4 }))).toEqual(await collect(bucket.flat()));
    // One folder listing, and one request per range (about 2 x concurrency of them), not one per folder.
    expect(bucket.requests).toBeLessThanOrEqual(1 + 1 + 2 * 4 + 1 + 1);
  });

  it('orders keys by UTF-8 bytes, as S3 does, not by UTF-16 code units', () => {
    expect(compareKeys('\u{1F3AC}', '\uE000')).toBeGreaterThan(0);
    expect('\u{1F3AC}' < '\uE000').toBe(true);
  });

  it('stops the folders listed ahead when the reader stops early', async () => {
    const bucket = bucketOf(trickyKeys(), { pageSize: 10 });
    const seen: SourceObject[] = [];
    for await (const object of listInParallel(bucket, { prefix: '', concurrency: 8, bufferPerRange: 20 })) {
      seen.push(object);
      if (seen.length === 5) break;
    }
    const requests = bucket.requests;
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(bucket.requests).toBe(requests);
  });

  it('gives a byte-identical plan file to the flat listing', async () => {
    const dir = tmp.dir;
    const keys = trickyKeys();
    const bucket = bucketOf(keys, { pageSize: 100 });
    const header: PlanHeader = {
      version: PLAN_VERSION,
      planId: 'fixed',
      createdAt: '2026-01-01T00:00:00.000Z',
      tool: 'tlmigrate test',
      source: { uri: 's3://media-archive', bucket: 'media-archive', prefix: '' },
      indexId: 'index-1',
      options: somePlanOptions(),
    };
    // Legacy videos for some names, so that deferred matches and collisions are part of the order.
    const videos = keys.filter((_, i) => i % 3 === 0).map((key, i) => anIndexedVideo({ videoId: `v${i}`, filename: key.split('/').pop() ?? key, size: undefined }));
    const planWith = async (objects: AsyncIterable<SourceObject>, file: string) => {
      const summary = emptySummary();
      const items = planMigration({ source: header.source, objects, videos, inFlight: [], ledger: [], options: header.options, edges: fakeEdges(), concurrency: 8 }, summary);
      await writePlanFile(join(dir, file), header, items, () => summary);
      return readFile(join(dir, file));
    };
    const flat = await planWith(bucket.flat(), 'flat.json');
    const parallel = await planWith(listInParallel(bucket, { prefix: '', concurrency: 8, bufferPerRange: 30 }), 'parallel.json');
    expect(parallel.equals(flat)).toBe(true);
    expect(flat.toString('utf8').split('\n').length).toBeGreaterThan(keys.length / 2);
  });
});
