import { describe, expect, it } from 'vitest';
import { DEFAULT_REQUIREMENTS, decodedFilename, emptySummary, filenameForms, formatPlanSummary, requirementsForModels } from '../../src/planner/index.js';
import type { PlanItem, PlanOptions, ProbeResult } from '../../src/planner/index.js';
import type { SourceObject } from '../../src/sources/types.js';
import { MB, aLedgerEntry, aSourceObject, anInFlightTask, anIndexedVideo, fakeEdges, fingerprintOf, plan, uriOf } from './builders.js';

const GB = 1_000_000_000;

/** The parts of an item a table row states. */
function outcome(item: PlanItem): { action: string; reason?: string } {
  return item.reason === undefined ? { action: item.action } : { action: item.action, reason: item.reason };
}

describe('planMigration: ledger of earlier runs', () => {
  const clip = aSourceObject({ key: 'shows/ep1.mp4' });

  it.each([
    ['ready', { action: 'skip', reason: 'indexed' }],
    ['intent', { action: 'skip', reason: 'in_progress' }],
    ['unknown', { action: 'skip', reason: 'in_progress' }],
    ['submitted', { action: 'skip', reason: 'in_progress' }],
    ['uploading', { action: 'skip', reason: 'in_progress' }],
    ['validating', { action: 'skip', reason: 'in_progress' }],
    ['pending', { action: 'skip', reason: 'in_progress' }],
    ['queued', { action: 'skip', reason: 'in_progress' }],
    ['indexing', { action: 'skip', reason: 'in_progress' }],
    ['planned', { action: 'upload' }],
  ])('status %s -> %o', async (status, expected) => {
    const { items } = await plan({ objects: [clip], ledger: [aLedgerEntry(clip, { status })] });
    expect(items).toHaveLength(1);
    expect(outcome(items[0] as PlanItem)).toEqual(expected);
    if (expected.action === 'skip') expect(items[0]?.match).toEqual({ by: 'ledger', taskId: 'task-shows/ep1.mp4', videoId: 'video-shows/ep1.mp4' });
  });

  it.each([
    ['video_resolution_too_low', 'video_resolution_too_low'],
    [undefined, 'failed'],
  ])('failed with code %s -> fail/%s, not retried silently', async (errorCode, reason) => {
    const { items } = await plan({ objects: [clip], ledger: [aLedgerEntry(clip, { status: 'failed', errorCode })] });
    expect(outcome(items[0] as PlanItem)).toEqual({ action: 'fail', reason });
    expect(items[0]?.detail).toMatch(/--retry-failed/);
  });

  it.each([
    ['the ETag changed', { etag: 'etag-new' }],
    ['the size changed', { size: 51 * MB }],
  ])('a ready entry is ignored when %s since', async (_why, change) => {
    const changed = { ...clip, ...change };
    const { items } = await plan({ objects: [changed], ledger: [aLedgerEntry(clip)] });
    expect(outcome(items[0] as PlanItem)).toEqual({ action: 'upload' });
  });

  it('counts ledger matches in summary.indexedBy', async () => {
    const { summary } = await plan({ objects: [clip], ledger: [aLedgerEntry(clip)] });
    expect(summary.indexedBy).toEqual({ ledger: 1 });
    expect(summary.reasons).toEqual({ indexed: 1 });
  });
});

describe('planMigration: fingerprint in user_metadata', () => {
  const clip = aSourceObject({ key: 'shows/ep1.mp4', size: 80 * MB });

  it('matches a listed video that carries user_metadata, without fetching it', async () => {
    const video = anIndexedVideo({ videoId: 'v1', filename: 'ep1.mp4', size: clip.size, userMetadata: fingerprintOf(clip) });
    const { items, edges } = await plan({ objects: [clip], videos: [video] });
    expect(items).toEqual([expect.objectContaining({ key: clip.key, action: 'skip', reason: 'indexed', match: { by: 'fingerprint', videoId: 'v1' } })]);
    expect(edges.metadataCalls).toEqual([]);
  });

  it('fetches user_metadata through the edge, only for candidates with the same file name and size', async () => {
    const videos = [
      anIndexedVideo({ videoId: 'other-size', filename: 'ep1.mp4', size: 81 * MB }),
      anIndexedVideo({ videoId: 'other-name', filename: 'ep2.mp4', size: clip.size }),
      anIndexedVideo({ videoId: 'ours', filename: 'ep1.mp4', size: clip.size }),
    ];
    const edges = fakeEdges({ ours: fingerprintOf(clip), 'other-size': fingerprintOf(clip), 'other-name': fingerprintOf(clip) });
    const { items } = await plan({ objects: [clip], videos, edges });
    expect(items[0]).toMatchObject({ action: 'skip', reason: 'indexed', match: { by: 'fingerprint', videoId: 'ours' } });
    expect(edges.metadataCalls).toEqual(['ours']);
  });

  it('treats a video whose size the listing did not give as a candidate', async () => {
    const edges = fakeEdges({ v1: fingerprintOf(clip) });
    const { items } = await plan({ objects: [clip], videos: [anIndexedVideo({ videoId: 'v1', filename: 'ep1.mp4', size: undefined })], edges });
    expect(items[0]?.match).toEqual({ by: 'fingerprint', videoId: 'v1' });
    expect(edges.metadataCalls).toEqual(['v1']);
  });

  it('does not match a tlmigrate video of the same key with another ETag (replaced since), nor take it as legacy', async () => {
    const video = anIndexedVideo({ videoId: 'v1', filename: 'ep1.mp4', size: clip.size, userMetadata: { ...fingerprintOf(clip), tlm_etag: 'etag-before' } });
    const { items, summary } = await plan({ objects: [clip], videos: [video] });
    expect(outcome(items[0] as PlanItem)).toEqual({ action: 'upload' });
    expect(summary.collisions).toBe(0);
  });

  it.each([
    ['another key with the same file name', uriOf('other/ep1.mp4'), 'other/ep1.mp4'],
    ['the same key in another bucket', 's3://other-bucket/shows/ep1.mp4', 's3://other-bucket/shows/ep1.mp4'],
    ['another key and file name', uriOf('elsewhere/renamed.mp4'), 'elsewhere/renamed.mp4'],
  ])('skips as a duplicate the content the index holds under %s, naming that key', async (_case, source, named) => {
    const video = anIndexedVideo({ videoId: 'v1', filename: source.slice(source.lastIndexOf('/') + 1), size: clip.size, userMetadata: { ...fingerprintOf(clip), tlm_source: source } });
    const { items, summary } = await plan({ objects: [clip], videos: [video] });
    expect(items[0]).toMatchObject({ action: 'skip', reason: 'duplicate', match: { by: 'source_content', duplicateOf: named, videoId: 'v1' } });
    expect(summary.collisions).toBe(0);
  });

  it('reads the fingerprint of a same-size video the listing gave without metadata, once', async () => {
    const twin = aSourceObject({ key: 'old/x.mp4', etag: clip.etag, size: clip.size });
    const edges = fakeEdges({ v9: fingerprintOf(twin) });
    const { items } = await plan({ objects: [clip, aSourceObject({ key: 'shows/ep2.mp4', etag: 'e2', size: clip.size })], videos: [anIndexedVideo({ videoId: 'v9', filename: 'x.mp4', size: clip.size })], edges });
    expect(items[0]).toMatchObject({ action: 'skip', reason: 'duplicate', match: { duplicateOf: 'old/x.mp4' } });
    expect(outcome(items[1] as PlanItem)).toEqual({ action: 'upload' });
    expect(edges.metadataCalls).toEqual(['v9']);
  });

  it('reads each unread video of a size once, however many objects of that size ask, and takes the twin the index listed first', async () => {
    const at = (key: string) => aSourceObject({ key, etag: clip.etag, size: clip.size });
    const unread = (videoId: string, filename: string) => anIndexedVideo({ videoId, filename, size: clip.size });
    const videos = [unread('u1', 'a.mp4'), anIndexedVideo({ videoId: 'l1', filename: 'z.mp4', size: clip.size, userMetadata: fingerprintOf(at('old/two.mp4')) }), unread('u2', 'ep1.mp4')];
    const edges = fakeEdges({ u1: fingerprintOf(at('old/one.mp4')), u2: fingerprintOf(at('old/three.mp4')) });
    const others = Array.from({ length: 20 }, (_, i) => aSourceObject({ key: `more/${i}.mp4`, etag: `e${i}`, size: clip.size }));
    const { items } = await plan({ objects: [clip, ...others], videos, edges, concurrency: 4 });
    expect(items[0]).toMatchObject({ action: 'skip', reason: 'duplicate', match: { duplicateOf: 'old/one.mp4', videoId: 'u1' } });
    expect(items.slice(1).every((item) => item.action === 'upload')).toBe(true);
    expect([...edges.metadataCalls].sort()).toEqual(['u1', 'u2']);
  });

  it('reads a numeric tlm_etag as text', async () => {
    const numeric = aSourceObject({ key: 'n/123.mp4', etag: '123' });
    const video = anIndexedVideo({ videoId: 'v1', filename: '123.mp4', userMetadata: { ...fingerprintOf(numeric), tlm_etag: 123 } });
    const { items } = await plan({ objects: [numeric], videos: [video] });
    expect(items[0]?.match).toEqual({ by: 'fingerprint', videoId: 'v1' });
  });
});

describe('filenameForms: the names a presigned URL may give a video', () => {
  it.each<[string, string[]]>([
    ['shows/ep1.mp4', ['ep1.mp4']],
    ['shows/a-b_c~d.e.mp4', ['a-b_c~d.e.mp4']],
    ['shows/my clip.mp4', ['my clip.mp4', 'my%20clip.mp4']],
    ['shows/a+b.mp4', ['a+b.mp4', 'a%2Bb.mp4']],
    ['shows/été.mov', ['été.mov', '%C3%A9t%C3%A9.mov']],
    ['shows/日本 ü.mp4', ['日本 ü.mp4', '%E6%97%A5%E6%9C%AC%20%C3%BC.mp4']],
    // The AWS SDK escapes these too (RFC 3986), unlike encodeURIComponent.
    ["shows/it's (1)!*.mp4", ["it's (1)!*.mp4", 'it%27s%20%281%29%21%2A.mp4']],
    ['shows/x%20y.mp4', ['x%20y.mp4', 'x%2520y.mp4']],
    ['shows/a&b=c;d,e@f$g:h.mp4', ['a&b=c;d,e@f$g:h.mp4', 'a%26b%3Dc%3Bd%2Ce%40f%24g%3Ah.mp4']],
    ['top level.mp4', ['top level.mp4', 'top%20level.mp4']],
  ])('%s -> %j', (key, forms) => {
    expect(filenameForms(key)).toEqual(forms);
    // The encoded form decodes back to the name of the key.
    expect(decodedFilename(forms.at(-1) ?? '')).toBe(forms[0]);
  });

  it('decodedFilename leaves a name that is not valid percent-encoding alone', () => {
    expect(decodedFilename('100%.mp4')).toBe('100%.mp4');
    expect(decodedFilename('plain.mp4')).toBe('plain.mp4');
  });
});

describe('planMigration: a video named by the platform as the URL carried it (percent-encoded)', () => {
  const clip = aSourceObject({ key: 'shows/my clip+1.mp4', size: 80 * MB });
  const encoded = 'my%20clip%2B1.mp4';

  it('matches its fingerprint', async () => {
    const edges = fakeEdges({ v1: fingerprintOf(clip) });
    const { items } = await plan({ objects: [clip], videos: [anIndexedVideo({ videoId: 'v1', filename: encoded, size: clip.size })], edges });
    expect(items[0]).toMatchObject({ action: 'skip', reason: 'indexed', match: { by: 'fingerprint', videoId: 'v1' } });
  });

  it('matches a legacy video by file name and size', async () => {
    const { items } = await plan({ objects: [clip], videos: [anIndexedVideo({ videoId: 'l1', filename: encoded, size: clip.size, userMetadata: {} })] });
    expect(items[0]).toMatchObject({ action: 'skip', reason: 'indexed', match: { by: 'filename_size', videoId: 'l1' } });
  });

  it('sees its task in flight under that name (confirmed by the fingerprint)', async () => {
    const { items } = await plan({ objects: [clip], inFlight: [anInFlightTask({ filename: encoded, taskId: 't1', videoId: 'v1' })], edges: fakeEdges({ v1: fingerprintOf(clip) }) });
    expect(items[0]).toMatchObject({ action: 'skip', reason: 'in_progress', match: { by: 'task', taskId: 't1' } });
  });

  it('reports a collision when two keys share the decoded name and size, whatever form the legacy video has', async () => {
    const twin = aSourceObject({ key: 'other/my clip+1.mp4', size: clip.size });
    const { items, summary } = await plan({ objects: [clip, twin], videos: [anIndexedVideo({ videoId: 'l1', filename: encoded, size: clip.size, userMetadata: {} })] });
    expect(items.map(outcome)).toEqual([{ action: 'upload' }, { action: 'upload' }]);
    expect(summary.collisions).toBe(2);
  });
});

describe('planMigration: legacy videos (no tlm_ keys)', () => {
  const clip = aSourceObject({ key: 'shows/ep1.mp4', size: 80 * MB });
  const legacy = anIndexedVideo({ videoId: 'legacy-1', filename: 'ep1.mp4', size: clip.size, userMetadata: { project: 'old' } });

  it.each([
    ['listed with user_metadata', legacy, {}],
    ['fetched: user_metadata empty', { ...legacy, userMetadata: undefined }, { 'legacy-1': {} }],
    ['fetched: the edge knows nothing', { ...legacy, userMetadata: undefined }, {}],
  ])('matches by file name and size (%s) with --match filename', async (_case, video, metadata) => {
    const { items, summary } = await plan({ objects: [clip], videos: [video], edges: fakeEdges(metadata) });
    expect(items).toEqual([expect.objectContaining({ action: 'skip', reason: 'indexed', match: { by: 'filename_size', videoId: 'legacy-1' } })]);
    expect(summary.indexedBy).toEqual({ filename_size: 1 });
  });

  it('does not match a legacy video of another size', async () => {
    const { items } = await plan({ objects: [clip], videos: [{ ...legacy, size: clip.size + 1 }] });
    expect(outcome(items[0] as PlanItem)).toEqual({ action: 'upload' });
  });

  it('--match fingerprint ignores file-name matches and uploads', async () => {
    const { items, summary } = await plan({ objects: [clip], videos: [legacy], options: { match: 'fingerprint' } });
    expect(outcome(items[0] as PlanItem)).toEqual({ action: 'upload' });
    expect(summary.indexedBy).toEqual({});
  });

  it('--match fingerprint still matches by fingerprint', async () => {
    const ours = anIndexedVideo({ videoId: 'v1', filename: 'ep1.mp4', size: clip.size, userMetadata: fingerprintOf(clip) });
    const { items } = await plan({ objects: [clip], videos: [legacy, ours], options: { match: 'fingerprint' } });
    expect(items[0]?.match).toEqual({ by: 'fingerprint', videoId: 'v1' });
  });

  it('prefers a fingerprint match over a legacy match of the same name', async () => {
    const ours = anIndexedVideo({ videoId: 'v1', filename: 'ep1.mp4', size: clip.size, userMetadata: fingerprintOf(clip) });
    const { items } = await plan({ objects: [clip], videos: [legacy, ours] });
    expect(items[0]?.match).toEqual({ by: 'fingerprint', videoId: 'v1' });
  });
});

describe('planMigration: basename collisions', () => {
  const a = aSourceObject({ key: 'cam-a/clip.mp4', size: 70 * MB, etag: 'etag-a' });
  const b = aSourceObject({ key: 'cam-b/clip.mp4', size: 70 * MB, etag: 'etag-b' });
  const legacy = anIndexedVideo({ videoId: 'legacy-1', filename: 'clip.mp4', size: 70 * MB, userMetadata: {} });
  const before = aSourceObject({ key: 'a-first.mp4' });
  const between = aSourceObject({ key: 'between.mp4' });
  const after = aSourceObject({ key: 'z-last.mp4' });

  it('uploads both keys, each naming the other, and defers them to the end', async () => {
    const { items, summary } = await plan({ objects: [before, a, between, b, after], videos: [legacy] });
    expect(items.map((i) => i.key)).toEqual([before.key, between.key, after.key, a.key, b.key]);
    expect(items.slice(3)).toEqual([
      expect.objectContaining({ key: a.key, action: 'upload', collision: [b.key] }),
      expect.objectContaining({ key: b.key, action: 'upload', collision: [a.key] }),
    ]);
    expect(items[3]?.match).toBeUndefined();
    expect(summary.collisions).toBe(2);
    expect(summary.counts).toEqual({ upload: 5, skip: 0, fail: 0 });
    expect(summary.indexedBy).toEqual({});
  });

  it('does not call two keys with the same content a collision', async () => {
    const copy = { ...a, key: 'cam-b/clip.mp4' };
    const { items, summary } = await plan({ objects: [a, copy], videos: [legacy] });
    expect(summary.collisions).toBe(0);
    expect(items.map(outcome)).toEqual([
      { action: 'skip', reason: 'duplicate' },
      { action: 'skip', reason: 'indexed' },
    ]);
  });

  it('names the other key even when that key was matched another way', async () => {
    const ours = anIndexedVideo({ videoId: 'v-a', filename: 'clip.mp4', size: a.size, userMetadata: fingerprintOf(a) });
    const { byKey, summary } = await plan({ objects: [a, b], videos: [legacy, ours] });
    expect(byKey(a.key)).toMatchObject({ action: 'skip', reason: 'indexed', match: { by: 'fingerprint' } });
    expect(byKey(b.key)).toMatchObject({ action: 'upload', collision: [a.key] });
    expect(summary.collisions).toBe(1);
  });

  it('is not a collision when the sizes differ', async () => {
    const bigger = { ...b, size: 71 * MB };
    const { byKey, summary } = await plan({ objects: [a, bigger], videos: [legacy] });
    expect(byKey(a.key)).toMatchObject({ action: 'skip', match: { by: 'filename_size' } });
    expect(byKey(bigger.key)).toMatchObject({ action: 'upload' });
    expect(byKey(bigger.key).collision).toBeUndefined();
    expect(summary.collisions).toBe(0);
  });
});

describe('planMigration: duplicates in the source', () => {
  const first = aSourceObject({ key: 'a/first.mp4', etag: 'same', size: 40 * MB });
  const second = aSourceObject({ key: 'b/second.mp4', etag: 'same', size: 40 * MB });
  const third = aSourceObject({ key: 'c/third.mov', etag: 'same', size: 40 * MB });

  it('uploads the first key and skips the others, naming the first', async () => {
    const { items, summary } = await plan({ objects: [first, second, third] });
    expect(items.map((i) => [i.key, i.action, i.reason, i.match?.duplicateOf])).toEqual([
      [first.key, 'upload', undefined, undefined],
      [second.key, 'skip', 'duplicate', first.key],
      [third.key, 'skip', 'duplicate', first.key],
    ]);
    expect(summary.reasons).toEqual({ duplicate: 2 });
    expect(summary.bytes).toEqual({ upload: 40 * MB, total: 120 * MB });
  });

  it('does not call the same ETag with another size a duplicate', async () => {
    const { items } = await plan({ objects: [first, { ...second, size: 41 * MB }] });
    expect(items.map((i) => i.action)).toEqual(['upload', 'upload']);
  });

  it('skips a moved key whose content an earlier run indexed under its old key', async () => {
    const old = aSourceObject({ key: 'old/first.mp4', etag: 'same', size: 40 * MB });
    const { items } = await plan({ objects: [first], ledger: [aLedgerEntry(old)] });
    expect(items[0]).toMatchObject({ action: 'skip', reason: 'duplicate', match: { by: 'source_content', duplicateOf: old.key, videoId: 'video-old/first.mp4' } });
  });
});

describe('planMigration: incremental false', () => {
  it('plans every object: no ledger, no dedupe, no index matching', async () => {
    const ready = aSourceObject({ key: 'ready.mp4' });
    const fingerprinted = aSourceObject({ key: 'fp.mp4' });
    const legacyName = aSourceObject({ key: 'legacy.mp4' });
    const dupA = aSourceObject({ key: 'dup-a.mp4', etag: 'dup' });
    const dupB = aSourceObject({ key: 'dup-b.mp4', etag: 'dup' });
    const running = aSourceObject({ key: 'running.mp4' });
    const edges = fakeEdges();
    const { items, summary } = await plan({
      objects: [ready, fingerprinted, legacyName, dupA, dupB, running],
      ledger: [aLedgerEntry(ready)],
      videos: [
        anIndexedVideo({ videoId: 'v1', filename: 'fp.mp4', userMetadata: fingerprintOf(fingerprinted) }),
        anIndexedVideo({ videoId: 'v2', filename: 'legacy.mp4' }),
      ],
      inFlight: [anInFlightTask({ filename: 'running.mp4' })],
      options: { incremental: false },
      edges,
    });
    expect(items.map((i) => [i.key, i.action])).toEqual([
      ['ready.mp4', 'upload'],
      ['fp.mp4', 'upload'],
      ['legacy.mp4', 'upload'],
      ['dup-a.mp4', 'upload'],
      ['dup-b.mp4', 'upload'],
      ['running.mp4', 'upload'],
    ]);
    expect(edges.metadataCalls).toEqual([]);
    expect(summary.counts.upload).toBe(6);
  });

  it('still applies the filters and the preflight', async () => {
    const { items } = await plan({
      objects: [aSourceObject({ key: 'notes.txt' }), aSourceObject({ key: 'empty.mp4', size: 0 })],
      options: { incremental: false },
    });
    expect(items.map(outcome)).toEqual([
      { action: 'skip', reason: 'excluded' },
      { action: 'fail', reason: 'video_file_broken' },
    ]);
  });
});

describe('planMigration: filters', () => {
  it.each<[string, Partial<PlanOptions>, { key: string; size?: number }, { action: string; reason?: string }]>([
    ['include matches', { include: ['clips/**'] }, { key: 'clips/a.mp4' }, { action: 'upload' }],
    ['include does not match', { include: ['clips/**'] }, { key: 'raw/a.mp4' }, { action: 'skip', reason: 'excluded' }],
    ['include reaches dot folders', { include: ['clips/**'] }, { key: 'clips/.hidden/a.mp4' }, { action: 'upload' }],
    ['exclude matches', { exclude: ['**/proxy/**'] }, { key: 'show/proxy/a.mp4' }, { action: 'skip', reason: 'excluded' }],
    ['exclude wins over include', { include: ['**/*.mp4'], exclude: ['tmp/**'] }, { key: 'tmp/a.mp4' }, { action: 'skip', reason: 'excluded' }],
    ['under min size', { minSize: 10 * MB }, { key: 'a.mp4', size: 10 * MB - 1 }, { action: 'skip', reason: 'excluded' }],
    ['exactly min size', { minSize: 10 * MB }, { key: 'a.mp4', size: 10 * MB }, { action: 'upload' }],
    ['over max size', { maxSize: 100 * MB }, { key: 'a.mp4', size: 100 * MB + 1 }, { action: 'skip', reason: 'excluded' }],
    ['exactly max size', { maxSize: 100 * MB }, { key: 'a.mp4', size: 100 * MB }, { action: 'upload' }],
    ['not a video', {}, { key: 'docs/notes.txt' }, { action: 'skip', reason: 'excluded' }],
    ['no extension', {}, { key: 'docs/README' }, { action: 'skip', reason: 'excluded' }],
    ['not a video, --all-files', { allFiles: true }, { key: 'docs/notes.txt' }, { action: 'fail', reason: 'unsupported_file_type' }],
    ['upper-case extension', {}, { key: 'CLIPS/A.MP4' }, { action: 'upload' }],
    ['mixed-case extension', {}, { key: 'Movie.MoV' }, { action: 'upload' }],
    ['custom extensions, with dot and case', { extensions: ['.MXF'] }, { key: 'a.mxf' }, { action: 'upload' }],
    ['custom extensions replace the defaults', { extensions: ['mxf'] }, { key: 'a.mp4' }, { action: 'skip', reason: 'excluded' }],
  ])('%s', async (_case, options, object, expected) => {
    const { items } = await plan({ objects: [aSourceObject(object)], options });
    expect(items.map(outcome)).toEqual([expected]);
  });

  it('says which rule excluded the key', async () => {
    const { items } = await plan({ objects: [aSourceObject({ key: 'a.mp4', size: 1 })], options: { minSize: 1000 } });
    expect(items[0]?.detail).toBe('smaller than --min-size 1000');
  });

  it('ignores folder markers and counts them apart', async () => {
    const { items, summary } = await plan({
      objects: [aSourceObject({ key: 'videos/', size: 0 }), aSourceObject({ key: 'videos/a.mp4' }), aSourceObject({ key: 'videos/sub/', size: 0 })],
    });
    expect(items.map((i) => i.key)).toEqual(['videos/a.mp4']);
    expect(summary.ignored).toBe(2);
    expect(summary.total).toBe(1);
  });
});

describe('planMigration: storage classes', () => {
  it.each<[string, Partial<SourceObject>, { action: string; reason?: string }]>([
    ['GLACIER, not restored', { storageClass: 'GLACIER' }, { action: 'fail', reason: 'source_archived' }],
    ['DEEP_ARCHIVE, not restored', { storageClass: 'DEEP_ARCHIVE' }, { action: 'fail', reason: 'source_archived' }],
    ['DEEP_ARCHIVE, restore not finished', { storageClass: 'DEEP_ARCHIVE', restored: false }, { action: 'fail', reason: 'source_archived' }],
    ['GLACIER, restored', { storageClass: 'GLACIER', restored: true }, { action: 'upload' }],
    ['GLACIER_IR (instant retrieval)', { storageClass: 'GLACIER_IR' }, { action: 'upload' }],
    ['STANDARD_IA', { storageClass: 'STANDARD_IA' }, { action: 'upload' }],
    ['INTELLIGENT_TIERING', { storageClass: 'INTELLIGENT_TIERING' }, { action: 'upload' }],
  ])('%s', async (_case, object, expected) => {
    const { items } = await plan({ objects: [aSourceObject({ key: 'a.mp4', ...object })] });
    expect(outcome(items[0] as PlanItem)).toEqual(expected);
    expect(items[0]?.storageClass).toBe(object.storageClass);
  });

  it('omits STANDARD from the item', async () => {
    const { items } = await plan({ objects: [aSourceObject({ key: 'a.mp4', storageClass: 'STANDARD' })] });
    expect(items[0]).not.toHaveProperty('storageClass');
  });
});

describe('planMigration: keys a URL cannot carry faithfully', () => {
  it.each<[string, { action: string; reason?: string }]>([
    ['a/../x.mp4', { action: 'fail', reason: 'source_key_unsupported' }],
    ['a/./x.mp4', { action: 'fail', reason: 'source_key_unsupported' }],
    ['../x.mp4', { action: 'fail', reason: 'source_key_unsupported' }],
    ['a/..', { action: 'skip', reason: 'excluded' }],
    ['a//b.mp4', { action: 'fail', reason: 'source_key_unsupported' }],
    ['/leading.mp4', { action: 'fail', reason: 'source_key_unsupported' }],
    ['a/...mp4', { action: 'upload' }],
    ['a/..b/x.mp4', { action: 'upload' }],
    ['a/%2e%2e/x.mp4', { action: 'upload' }],
    ['new\nline.mp4', { action: 'upload' }],
  ])('%j -> %o', async (key, expected) => {
    const { items } = await plan({ objects: [aSourceObject({ key })] });
    expect(outcome(items[0] as PlanItem)).toEqual(expected);
    if (expected.reason === 'source_key_unsupported') expect(items[0]?.detail).toMatch(/segment.*: rename the object \(aws s3 mv\)$/);
  });

  it('fails before duplicate matching: a copy at a good key is the one uploaded', async () => {
    const bad = aSourceObject({ key: 'a/../x.mp4', etag: 'same' });
    const good = aSourceObject({ key: 'y.mp4', etag: 'same' });
    const { items } = await plan({ objects: [bad, good] });
    expect(items.map(outcome)).toEqual([{ action: 'fail', reason: 'source_key_unsupported' }, { action: 'upload' }]);
  });
});

describe('planMigration: preflight', () => {
  it.each<[string, number, { action: string; reason?: string }]>([
    ['empty', 0, { action: 'fail', reason: 'video_file_broken' }],
    ['one byte', 1, { action: 'upload' }],
    ['exactly 2 GiB', 2 * 1024 ** 3, { action: 'upload' }],
    ['2 GiB + 1', 2 * 1024 ** 3 + 1, { action: 'fail', reason: 'video_filesize_too_large' }],
    ['3 GB', 3 * GB, { action: 'fail', reason: 'video_filesize_too_large' }],
  ])('size %s', async (_case, size, expected) => {
    const { items } = await plan({ objects: [aSourceObject({ key: 'a.mp4', size })] });
    expect(outcome(items[0] as PlanItem)).toEqual(expected);
  });

  it('explains a too-large file in decimal units', async () => {
    const { items } = await plan({ objects: [aSourceObject({ key: 'a.mp4', size: 3 * GB })] });
    expect(items[0]?.detail).toBe('3.0 GB is over the 2.1 GB limit');
  });

  const hd = { durationSeconds: 60, width: 1920, height: 1080 };
  it.each<[string, ProbeResult, { action: string; reason?: string }]>([
    ['HD, one minute', hd, { action: 'upload' }],
    ['exactly 4 s', { ...hd, durationSeconds: 4 }, { action: 'upload' }],
    ['too short', { ...hd, durationSeconds: 3.9 }, { action: 'fail', reason: 'video_duration_too_short' }],
    ['exactly 2 h', { ...hd, durationSeconds: 7200 }, { action: 'upload' }],
    ['too long', { ...hd, durationSeconds: 7201 }, { action: 'fail', reason: 'video_duration_too_long' }],
    ['unknown duration', { width: 1920, height: 1080 }, { action: 'upload' }],
    ['360p exactly', { ...hd, width: 640, height: 360 }, { action: 'upload' }],
    ['resolution too low', { ...hd, width: 320, height: 240 }, { action: 'fail', reason: 'video_resolution_too_low' }],
    ['portrait too narrow', { ...hd, width: 300, height: 640 }, { action: 'fail', reason: 'video_resolution_too_low' }],
    ['4K UHD', { ...hd, width: 3840, height: 2160 }, { action: 'upload' }],
    ['portrait 4K', { ...hd, width: 2160, height: 3840 }, { action: 'upload' }],
    ['8K: too high', { ...hd, width: 7680, height: 4320 }, { action: 'fail', reason: 'video_resolution_too_high' }],
    ['long side too long', { ...hd, width: 5200, height: 2160 }, { action: 'fail', reason: 'video_resolution_too_high' }],
    ['2.4:1 exactly', { ...hd, width: 2160, height: 900 }, { action: 'upload' }],
    ['too wide', { ...hd, width: 1920, height: 600 }, { action: 'fail', reason: 'video_resolution_invalid_aspect_ratio' }],
    ['too tall', { ...hd, width: 600, height: 1920 }, { action: 'fail', reason: 'video_resolution_invalid_aspect_ratio' }],
    ['unreadable', { error: 'moov atom not found' }, { action: 'fail', reason: 'video_file_broken' }],
    ['no video stream', { durationSeconds: 60 }, { action: 'fail', reason: 'video_file_broken' }],
  ])('probe: %s', async (_case, probe, expected) => {
    const object = aSourceObject({ key: 'a.mp4' });
    const { items } = await plan({ objects: [object], options: { probe: true }, edges: fakeEdges({}, { 'a.mp4': probe }) });
    expect(outcome(items[0] as PlanItem)).toEqual(expected);
    expect(items[0]?.probe).toEqual(probe);
  });

  it('probes only objects that would otherwise be uploaded, and only with --probe', async () => {
    const objects = [
      aSourceObject({ key: 'new.mp4' }),
      aSourceObject({ key: 'empty.mp4', size: 0 }),
      aSourceObject({ key: 'done.mp4' }),
      aSourceObject({ key: 'notes.txt' }),
    ];
    const probes = { 'new.mp4': { durationSeconds: 60, width: 1920, height: 1080 } };
    const ledger = [aLedgerEntry(objects[2] as SourceObject)];
    const withProbe = await plan({ objects, ledger, options: { probe: true }, edges: fakeEdges({}, probes) });
    expect(withProbe.edges.probeCalls).toEqual(['new.mp4']);
    const without = await plan({ objects, ledger, options: { probe: false }, edges: fakeEdges({}, probes) });
    expect(without.edges.probeCalls).toEqual([]);
    expect(without.items[0]).not.toHaveProperty('probe');
  });

  it('skips an object whose task is in flight in the index, confirmed by its fingerprint', async () => {
    const running = aSourceObject({ key: 'a/running.mp4' });
    const { items } = await plan({
      objects: [running, aSourceObject({ key: 'a/idle.mp4' })],
      inFlight: [anInFlightTask({ taskId: 't1', videoId: 'v1', filename: 'running.mp4', status: 'validating' })],
      edges: fakeEdges({ v1: fingerprintOf(running) }),
    });
    expect(items[0]).toMatchObject({ action: 'skip', reason: 'in_progress', match: { by: 'task', taskId: 't1', videoId: 'v1' } });
    expect(outcome(items[1] as PlanItem)).toEqual({ action: 'upload' });
  });

  it.each([
    ['whose video cannot be read yet', {}],
    ["of another prefix's object", { v1: fingerprintOf(aSourceObject({ key: 'cam1/GOPR0001.MP4' })) }],
  ])('does not skip an object for a task of its file name %s (apply decides before sending)', async (_case, metadata) => {
    const { items } = await plan({
      objects: [aSourceObject({ key: 'cam2/GOPR0001.MP4' })],
      inFlight: [anInFlightTask({ taskId: 't1', videoId: 'v1', filename: 'GOPR0001.MP4', status: 'validating' })],
      edges: fakeEdges(metadata),
    });
    expect(outcome(items[0] as PlanItem)).toEqual({ action: 'upload' });
  });

  it('does not trust a ready ledger entry whose video is no longer in the index', async () => {
    const clip = aSourceObject({ key: 'shows/ep1.mp4' });
    const { items } = await plan({ objects: [clip], ledger: [aLedgerEntry(clip)], ledgerVideosGone: true });
    expect(outcome(items[0] as PlanItem)).toEqual({ action: 'upload' });
  });
});

describe('requirementsForModels', () => {
  it.each<[string[], number]>([
    [[], 7200],
    [['marengo2.7'], 7200],
    [['marengo3.0'], 7200],
    [['pegasus1.2'], 3600],
    [['marengo2.7', 'pegasus1.2'], 3600],
    [['Pegasus 1.5'], 3600],
    [['some-future-model'], 7200],
  ])('%j -> max %i s', (models, maxDuration) => {
    const profile = requirementsForModels(DEFAULT_REQUIREMENTS, models);
    expect(profile.maxDurationSeconds).toBe(maxDuration);
    expect({ ...profile, maxDurationSeconds: 0 }).toEqual({ ...DEFAULT_REQUIREMENTS, maxDurationSeconds: 0 });
  });

  it('does not loosen a stricter base', () => {
    expect(requirementsForModels({ ...DEFAULT_REQUIREMENTS, maxDurationSeconds: 600 }, ['marengo3.0']).maxDurationSeconds).toBe(600);
  });

  it.each([
    [['marengo2.7'], 'upload'],
    [['marengo2.7', 'pegasus1.2'], 'fail'],
  ])('a 90-minute video on an index with %j -> %s', async (models, action) => {
    const { items } = await plan({
      objects: [aSourceObject({ key: 'film.mp4' })],
      options: { probe: true, requirements: requirementsForModels(DEFAULT_REQUIREMENTS, models) },
      edges: fakeEdges({}, { 'film.mp4': { durationSeconds: 90 * 60, width: 1920, height: 1080 } }),
    });
    expect(items[0]?.action).toBe(action);
  });
});

describe('planMigration: summary', () => {
  it('counts actions, bytes, reasons and how items were found', async () => {
    const indexed = aSourceObject({ key: 'done/a.mp4', size: 10 * MB });
    const fp = aSourceObject({ key: 'done/b.mp4', size: 20 * MB });
    const running = aSourceObject({ key: 'running.mp4', size: 7 * MB });
    const { summary } = await plan({
      objects: [
        aSourceObject({ key: 'new/a.mp4', size: 100 * MB }),
        aSourceObject({ key: 'new/b.mp4', size: 200 * MB }),
        indexed,
        fp,
        aSourceObject({ key: 'legacy/c.mp4', size: 30 * MB }),
        aSourceObject({ key: 'copy/a.mp4', size: 100 * MB, etag: 'etag-of-new/a.mp4' }),
        aSourceObject({ key: 'doc.pdf', size: 1 * MB }),
        aSourceObject({ key: 'empty.mp4', size: 0 }),
        aSourceObject({ key: 'huge.mp4', size: 3 * GB }),
        aSourceObject({ key: 'cold.mp4', size: 5 * MB, storageClass: 'GLACIER' }),
        running,
        aSourceObject({ key: 'folder/', size: 0 }),
      ],
      ledger: [aLedgerEntry(indexed)],
      videos: [
        anIndexedVideo({ videoId: 'v-fp', filename: 'b.mp4', size: 20 * MB, userMetadata: fingerprintOf(fp) }),
        anIndexedVideo({ videoId: 'v-legacy', filename: 'c.mp4', size: 30 * MB, userMetadata: {} }),
      ],
      inFlight: [anInFlightTask({ filename: 'running.mp4', videoId: 'v-run' })],
      edges: fakeEdges({ 'v-run': fingerprintOf(running) }),
    });
    expect(summary).toEqual({
      total: 11,
      counts: { upload: 2, skip: 6, fail: 3 },
      bytes: { upload: 300 * MB, total: 300 * MB + 10 * MB + 20 * MB + 30 * MB + 100 * MB + 1 * MB + 0 + 3 * GB + 5 * MB + 7 * MB },
      reasons: { indexed: 3, duplicate: 1, excluded: 1, in_progress: 1, video_file_broken: 1, video_filesize_too_large: 1, source_archived: 1 },
      indexedBy: { ledger: 1, fingerprint: 1, filename_size: 1 },
      collisions: 0,
      ignored: 1,
    });
    expect(formatPlanSummary(summary)).toBe(
      'Plan: 2 to upload (300.0 MB), 3 already indexed (1 by earlier runs, 1 by fingerprint, 1 by filename+size), 1 already in progress, ' +
        '3 will fail preflight (1 source_archived, 1 video_file_broken, 1 video_filesize_too_large), 1 duplicate in source, 1 excluded.',
    );
  });
});

describe('formatPlanSummary', () => {
  it('writes the Terraform-style line with thousands separators and decimal units', () => {
    const summary = {
      ...emptySummary(),
      total: 4_620,
      counts: { upload: 1_204, skip: 3_409, fail: 7 },
      bytes: { upload: 412_630_000_000, total: 2_000_000_000_000 },
      reasons: { indexed: 3_310, in_progress: 12, duplicate: 40, excluded: 47, video_duration_too_short: 5, source_archived: 2 },
      indexedBy: { fingerprint: 3_000, filename_size: 310 },
    };
    expect(formatPlanSummary(summary)).toBe(
      'Plan: 1,204 to upload (412.6 GB), 3,310 already indexed (3,000 by fingerprint, 310 by filename+size), 12 already in progress, ' +
        '7 will fail preflight (5 video_duration_too_short, 2 source_archived), 40 duplicates in source, 47 excluded.',
    );
  });

  it('writes an empty plan', () => {
    expect(formatPlanSummary(emptySummary())).toBe('Plan: 0 to upload (0 B), 0 already indexed, 0 will fail preflight, 0 duplicates in source, 0 excluded.');
  });

  it('adds a warning line for collisions', () => {
    const text = formatPlanSummary({ ...emptySummary(), counts: { upload: 2, skip: 0, fail: 0 }, collisions: 2 });
    expect(text.split('\n')).toHaveLength(2);
    expect(text.split('\n')[1]).toMatch(/^Warning: 2 objects share a file name and size with a legacy video/);
  });

  it.each<[number, string]>([
    [999, '999 B'],
    [1_000, '1.0 KB'],
    [1_500_000, '1.5 MB'],
    [412_630_000_000, '412.6 GB'],
    [3_200_000_000_000, '3.2 TB'],
  ])('bytes %i -> %s', (bytes, text) => {
    expect(formatPlanSummary({ ...emptySummary(), bytes: { upload: bytes, total: bytes } })).toContain(`to upload (${text})`);
  });
});

describe('planMigration: order', () => {
  it('yields in listing order even when edge calls finish out of order', async () => {
    const objects = Array.from({ length: 40 }, (_, n) => aSourceObject({ key: `k/${String(n).padStart(2, '0')}.mp4` }));
    const delays = objects.map((_, n) => (n * 7) % 5);
    const edges = fakeEdges();
    const probe = edges.probe;
    expect(probe).toBeUndefined();
    edges.probe = async (object) => {
      const n = objects.findIndex((o) => o.key === object.key);
      for (let turn = 0; turn < (delays[n] ?? 0) * 3; turn++) await new Promise((resolve) => setImmediate(resolve));
      edges.probeCalls.push(object.key);
      return { durationSeconds: 60, width: 1920, height: 1080 };
    };
    const { items } = await plan({ objects, options: { probe: true }, edges, concurrency: 8 });
    expect(items.map((i) => i.key)).toEqual(objects.map((o) => o.key));
    expect(edges.probeCalls).not.toEqual(objects.map((o) => o.key));
  });

  it('yields in listing order when only some objects wait for a GET (the others are decided at once), and a failed GET fails the plan', async () => {
    const objects = Array.from({ length: 30 }, (_, n) => aSourceObject({ key: `m/${String(n).padStart(2, '0')}.mp4` }));
    // Every third object has a video of its name whose metadata the listing did not carry: a GET, answered out of order.
    const videos = objects.filter((_, n) => n % 3 === 0).map((o, n) => anIndexedVideo({ videoId: `v${n}`, filename: o.key.slice(2), size: o.size }));
    const edges = fakeEdges();
    edges.videoMetadata = async (videoId) => {
      edges.metadataCalls.push(videoId);
      for (let turn = 0; turn < (Number(videoId.slice(1)) * 7) % 5; turn++) await new Promise((resolve) => setImmediate(resolve));
      const twelfth = objects[12];
      return videoId === 'v4' && twelfth ? fingerprintOf(twelfth) : {};
    };
    const { items } = await plan({ objects, videos, edges, concurrency: 4 });
    expect(items.map((i) => i.key)).toEqual([...objects.filter((_, n) => n % 3 !== 0 || n === 12), ...objects.filter((_, n) => n % 3 === 0 && n !== 12)].map((o) => o.key));
    expect(items.find((i) => i.key === 'm/12.mp4')?.match?.by).toBe('fingerprint');
    expect(edges.metadataCalls).toHaveLength(10);
    const failing = fakeEdges();
    failing.videoMetadata = async () => {
      throw new Error('the GET failed');
    };
    await expect(plan({ objects, videos, edges: failing, concurrency: 4 })).rejects.toThrow('the GET failed');
  });

  it('keeps the first listed key as the owner of duplicated content under concurrency', async () => {
    const objects = Array.from({ length: 20 }, (_, n) => aSourceObject({ key: `d/${String(n).padStart(2, '0')}.mp4`, etag: 'same' }));
    const { items } = await plan({ objects, concurrency: 4 });
    expect(items[0]?.action).toBe('upload');
    expect(new Set(items.slice(1).map((i) => i.match?.duplicateOf))).toEqual(new Set(['d/00.mp4']));
  });

  it('defers legacy matches after every other item, in their listing order', async () => {
    const objects = [aSourceObject({ key: 'x/legacy1.mp4' }), aSourceObject({ key: 'x/new1.mp4' }), aSourceObject({ key: 'x/legacy2.mp4' }), aSourceObject({ key: 'x/new2.mp4' })];
    const { items } = await plan({
      objects,
      videos: [anIndexedVideo({ videoId: 'l1', filename: 'legacy1.mp4', userMetadata: {} }), anIndexedVideo({ videoId: 'l2', filename: 'legacy2.mp4', userMetadata: {} })],
    });
    expect(items.map((i) => i.key)).toEqual(['x/new1.mp4', 'x/new2.mp4', 'x/legacy1.mp4', 'x/legacy2.mp4']);
  });
});
