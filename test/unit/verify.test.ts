import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/errors.js';
import { DEFAULT_REQUIREMENTS, keyFilter, preflightListing } from '../../src/planner/index.js';
import type { SourceObject } from '../../src/sources/types.js';
import { findDuplicateGroups, isClean, removeCopies, verifyIndex, type KnownItem, type TaskRef, type VerifyInput, type VideoRef } from '../../src/verify/index.js';
import { BUCKET, aSourceObject, asyncIterable, fingerprintOf, uriOf } from './builders.js';

/** Fake GET video: records calls; ids not listed are "gone". */
function fakeMetadata(byVideo: Record<string, Record<string, unknown>>) {
  const calls: string[] = [];
  return {
    calls,
    async videoMetadata(videoId: string) {
      calls.push(videoId);
      return byVideo[videoId];
    },
  };
}

function aVideo(overrides: Partial<VideoRef> & { videoId: string; filename: string }): VideoRef {
  return { size: 50_000_000, createdAt: '2026-05-01T12:00:00.000Z', ...overrides };
}

interface Scenario {
  objects: SourceObject[];
  videos?: VideoRef[];
  metadata?: Record<string, Record<string, unknown>>;
  tasks?: TaskRef[];
  known?: Record<string, KnownItem>;
  sourceUri?: string;
}

async function verify(s: Scenario) {
  const edges = fakeMetadata(s.metadata ?? {});
  const filter = keyFilter({ include: [], exclude: [], extensions: ['mp4'], allFiles: false });
  const input: VerifyInput = {
    bucket: BUCKET,
    sourceUri: s.sourceUri ?? `s3://${BUCKET}`,
    objects: asyncIterable(s.objects),
    excluded: (o) => filter(o.key, o.size) !== undefined,
    unindexable: (o) => preflightListing(o, DEFAULT_REQUIREMENTS),
    videos: s.videos ?? [],
    tasks: s.tasks ?? [],
    known: Object.entries(s.known ?? {}),
    edges,
  };
  return { result: await verifyIndex(input), calls: edges.calls };
}

describe('verifyIndex', () => {
  const a = aSourceObject({ key: 'v/a.mp4' });
  const b = aSourceObject({ key: 'v/b.mp4' });

  it('finds videos and tasks the platform named as the presigned URL carried the key (percent-encoded)', async () => {
    const spaced = aSourceObject({ key: 'v/my clip+1.mp4' });
    const running = aSourceObject({ key: 'v/été.mp4' });
    const legacy = aSourceObject({ key: 'v/old one.mp4' });
    const { result } = await verify({
      objects: [spaced, running, legacy],
      videos: [aVideo({ videoId: 'vs', filename: 'my%20clip%2B1.mp4' }), aVideo({ videoId: 'vl', filename: 'old%20one.mp4', size: legacy.size, userMetadata: {} })],
      metadata: { vs: fingerprintOf(spaced) },
      tasks: [{ taskId: 't1', filename: '%C3%A9t%C3%A9.mp4', status: 'indexing' }],
    });
    expect(result).toMatchObject({ indexed: 2, missing: [], unmatched: [], inProgress: [{ key: running.key, taskId: 't1', status: 'indexing' }] });
  });

  it('clean: each object has its fingerprinted video; metadata read only for videos named like an object', async () => {
    const { result, calls } = await verify({
      objects: [a, b, aSourceObject({ key: 'v/notes.json' }), aSourceObject({ key: 'v/' , size: 0 })],
      videos: [aVideo({ videoId: 'va', filename: 'a.mp4' }), aVideo({ videoId: 'vb', filename: 'b.mp4' }), aVideo({ videoId: 'vx', filename: 'elsewhere.mp4' })],
      metadata: { va: fingerprintOf(a), vb: fingerprintOf(b) },
    });
    expect(isClean(result)).toBe(true);
    expect(result).toMatchObject({ objects: 2, excluded: 1, indexed: 2, missing: [], failed: [], duplicated: [] });
    expect(result.unmatched).toEqual([{ videoId: 'vx', filename: 'elsewhere.mp4', size: 50_000_000, reason: 'no_object' }]);
    expect(calls.sort()).toEqual(['va', 'vb']);
  });

  it('uses user_metadata from the listing when it is there: no GET at all', async () => {
    const { result, calls } = await verify({ objects: [a], videos: [aVideo({ videoId: 'va', filename: 'a.mp4', userMetadata: fingerprintOf(a) })] });
    expect(result.indexed).toBe(1);
    expect(calls).toEqual([]);
  });

  it('a deleted video is missing, naming the video the state still records', async () => {
    const { result } = await verify({ objects: [a], known: { [uriOf(a.key)]: { status: 'ready', taskId: 't', videoId: 'gone' } } });
    expect(result.missing).toEqual([{ key: a.key, size: a.size, etag: a.etag, detail: 'the state file records video gone, which the index no longer holds' }]);
    expect(isClean(result)).toBe(false);
  });

  it('two videos for one object are duplicated: by fingerprint, and legacy copies by filename+size', async () => {
    const legacy = aSourceObject({ key: 'old/legacy.mp4', size: 1234 });
    const { result } = await verify({
      objects: [a, legacy],
      videos: [
        aVideo({ videoId: 'va2', filename: 'a.mp4', createdAt: '2026-05-02T00:00:00.000Z' }),
        aVideo({ videoId: 'va1', filename: 'a.mp4', createdAt: '2026-05-01T00:00:00.000Z' }),
        aVideo({ videoId: 'l1', filename: 'legacy.mp4', size: 1234 }),
        aVideo({ videoId: 'l2', filename: 'legacy.mp4', size: 1234 }),
      ],
      metadata: { va1: fingerprintOf(a), va2: fingerprintOf(a, 'run-2'), l1: {}, l2: {} },
    });
    expect(result.duplicated.map((d) => [d.key, d.videos.map((v) => `${v.videoId}:${v.by}`)])).toEqual([
      [a.key, ['va1:fingerprint', 'va2:fingerprint']],
      [legacy.key, ['l1:filename_size', 'l2:filename_size']],
    ]);
  });

  it('failed: from the state and its task, from a failed task of that name, and objects the platform would refuse', async () => {
    const c = aSourceObject({ key: 'v/c.mp4' });
    const empty = aSourceObject({ key: 'v/empty.mp4', size: 0 });
    const { result } = await verify({
      objects: [a, b, c, empty],
      tasks: [
        { taskId: 'ta', filename: 'a.mp4', status: 'failed' },
        { taskId: 'tb', filename: 'b.mp4', status: 'failed', error: { code: 'video_file_broken', message: 'cannot read' } },
        { taskId: 'tc', filename: 'c.mp4', status: 'indexing' },
      ],
      known: { [uriOf(a.key)]: { status: 'failed', taskId: 'ta', lastError: { code: 'indexing_failed', message: 'no reason given' } } },
    });
    expect(result.failed).toEqual([
      { key: a.key, code: 'indexing_failed', message: 'no reason given', taskId: 'ta' },
      { key: b.key, code: 'video_file_broken', message: 'cannot read', taskId: 'tb' },
      { key: empty.key, code: 'video_file_broken', message: 'the object is empty (0 bytes) (never submitted: the platform would refuse it)' },
    ]);
    expect(result.inProgress).toEqual([{ key: c.key, taskId: 'tc', status: 'indexing' }]);
  });

  it('an indexed asset still indexing (no task: --via assets) is in progress, from the state', async () => {
    const { result } = await verify({ objects: [a], known: { [uriOf(a.key)]: { status: 'indexing', indexedAssetId: 'ia1', videoId: 'ia1' } } });
    expect(result.inProgress).toEqual([{ key: a.key, taskId: 'ia1', status: 'indexing' }]);
  });

  it('a key with the content of an indexed key is covered, not missing', async () => {
    const copy = aSourceObject({ key: 'v/copy of a.mp4', etag: a.etag, size: a.size });
    const { result } = await verify({ objects: [a, copy], videos: [aVideo({ videoId: 'va', filename: 'a.mp4' })], metadata: { va: fingerprintOf(a) } });
    expect(result.coveredByDuplicate).toEqual([{ key: copy.key, duplicateOf: a.key }]);
    expect(isClean(result)).toBe(true);
  });

  it('says why a video matches no object: stale copy, another source, ambiguous legacy name', async () => {
    const twin = aSourceObject({ key: 'w/a.mp4' });
    const { result } = await verify({
      sourceUri: `s3://${BUCKET}/v`,
      objects: [a, twin],
      videos: [aVideo({ videoId: 'stale', filename: 'a.mp4' }), aVideo({ videoId: 'other', filename: 'a.mp4' }), aVideo({ videoId: 'legacy', filename: 'a.mp4' })],
      metadata: { stale: { ...fingerprintOf(a), tlm_etag: 'old-etag' }, other: { tlm_source: 's3://another-bucket/a.mp4', tlm_etag: 'x' }, legacy: {} },
    });
    expect(result.unmatched.map((u) => [u.videoId, u.reason])).toEqual([
      ['stale', 'source_changed'],
      ['other', 'outside_source'],
      ['legacy', 'ambiguous'],
    ]);
    expect(result.missing.map((m) => m.key)).toEqual([a.key, twin.key]);
  });
});

describe('findDuplicateGroups', () => {
  const tasks: Record<string, { taskId: string; status: string }> = { v1: { taskId: 't1', status: 'ready' }, v2: { taskId: 't2', status: 'ready' }, v3: { taskId: 't3', status: 'ready' } };

  it('groups by fingerprint, keeps the oldest ready copy; legacy copies group by filename+size; the two never mix', async () => {
    const a = aSourceObject({ key: 'a.mp4' });
    const edges = fakeMetadata({ v1: fingerprintOf(a), v2: fingerprintOf(a, 'run-2'), v3: fingerprintOf(a, 'run-3'), l1: {}, l2: {}, lone: {} });
    const { groups, metadataFetches } = await findDuplicateGroups(
      [
        aVideo({ videoId: 'v2', filename: 'a.mp4', createdAt: '2026-05-01T00:00:00.000Z' }),
        aVideo({ videoId: 'v1', filename: 'a.mp4', createdAt: '2026-05-02T00:00:00.000Z' }),
        aVideo({ videoId: 'v3', filename: 'a.mp4', createdAt: '2026-05-03T00:00:00.000Z' }),
        aVideo({ videoId: 'l1', filename: 'a.mp4', createdAt: '2026-04-01T00:00:00.000Z' }),
        aVideo({ videoId: 'l2', filename: 'a.mp4', createdAt: '2026-04-02T00:00:00.000Z' }),
        aVideo({ videoId: 'lone', filename: 'only.mp4' }),
      ],
      (id) => tasks[id],
      edges,
    );
    expect(groups.map((g) => [g.by, g.keep.videoId, g.remove.map((c) => `${c.videoId}/${c.taskId}`)])).toEqual([
      ['filename_size', 'l1', ['l2/undefined']],
      ['fingerprint', 'v2', ['v1/t1', 'v3/t3']],
    ]);
    expect(groups[1]).toMatchObject({ source: uriOf(a.key), etag: a.etag });
    expect(metadataFetches).toBe(5);
    expect(edges.calls).not.toContain('lone');
  });

  it('prefers a copy whose task is ready over an older one that is not', async () => {
    const a = aSourceObject({ key: 'a.mp4' });
    const { groups } = await findDuplicateGroups(
      [aVideo({ videoId: 'old', filename: 'a.mp4', createdAt: '2026-01-01T00:00:00.000Z' }), aVideo({ videoId: 'new', filename: 'a.mp4', createdAt: '2026-02-01T00:00:00.000Z' })],
      (id) => (id === 'old' ? { taskId: 'to', status: 'indexing' } : { taskId: 'tn', status: 'ready' }),
      fakeMetadata({ old: fingerprintOf(a), new: fingerprintOf(a) }),
    );
    expect(groups[0]?.keep.videoId).toBe('new');
  });
});

describe('findDuplicateGroups: fingerprints read from each video', () => {
  it('re-reads a fingerprint the listing carried, skips videos known to carry none, and groups both forms of a name', async () => {
    const a = aSourceObject({ key: 'x/my clip.mp4' });
    const edges = fakeMetadata({ dec: fingerprintOf(a), enc: fingerprintOf(a) });
    const { groups, metadataFetches } = await findDuplicateGroups(
      [
        aVideo({ videoId: 'dec', filename: 'my clip.mp4', createdAt: '2026-01-01T00:00:00.000Z', userMetadata: fingerprintOf(a) }),
        aVideo({ videoId: 'enc', filename: 'my%20clip.mp4', createdAt: '2026-01-02T00:00:00.000Z' }),
        aVideo({ videoId: 'l1', filename: 'my clip.mp4', userMetadata: {} }),
      ],
      () => undefined,
      edges,
    );
    expect(groups.map((g) => [g.by, g.keep.videoId, g.remove.map((c) => c.videoId)])).toEqual([['fingerprint', 'dec', ['enc']]]);
    expect(edges.calls.sort()).toEqual(['dec', 'enc']);
    expect(metadataFetches).toBe(2);
  });

  it('never takes a listed fingerprint the video itself no longer carries', async () => {
    const a = aSourceObject({ key: 'a.mp4' });
    const { groups } = await findDuplicateGroups(
      [aVideo({ videoId: 'v1', filename: 'a.mp4', userMetadata: fingerprintOf(a) }), aVideo({ videoId: 'v2', filename: 'a.mp4', userMetadata: fingerprintOf(a) })],
      () => undefined,
      fakeMetadata({ v1: fingerprintOf(a), v2: { tlm_source: uriOf('b.mp4'), tlm_etag: 'other' } }),
    );
    expect(groups).toEqual([]);
  });
});

describe('removeCopies', () => {
  it('deletes nothing of a group that shares only a file name and size', async () => {
    const calls: string[] = [];
    const outcomes = await removeCopies(
      [
        { by: 'filename_size', filename: 'clip.mp4', size: 10, keep: { videoId: 'a' }, remove: [{ videoId: 'b', taskId: 'tb' }] },
        { by: 'fingerprint', filename: 'x.mp4', source: uriOf('x.mp4'), keep: { videoId: 'k' }, remove: [{ videoId: 'd' }] },
      ],
      { deleteVideo: async (id) => void calls.push(`video ${id}`), deleteTask: async (id) => void calls.push(`task ${id}`) },
      async () => undefined,
    );
    expect(calls).toEqual(['video d']);
    expect(outcomes.map((o) => o.videoId)).toEqual(['d']);
  });

  it('deletes each video before its task, records each step, and goes on past a refusal', async () => {
    const calls: string[] = [];
    const steps: string[] = [];
    const outcomes = await removeCopies(
      [{ by: 'fingerprint', filename: 'a.mp4', keep: { videoId: 'k' }, remove: [{ videoId: 'v1', taskId: 't1' }, { videoId: 'v2', taskId: 't2' }, { videoId: 'v3' }] }],
      {
        deleteVideo: async (id) => {
          calls.push(`video ${id}`);
          if (id === 'v2') throw new ApiError({ status: 404, code: 'resource_not_exist', message: 'gone', method: 'DELETE', path: `/videos/${id}` });
        },
        deleteTask: async (id) => {
          calls.push(`task ${id}`);
        },
      },
      async ({ action, copy }) => {
        steps.push(`${action} ${copy.videoId}`);
      },
    );
    expect(calls).toEqual(['video v1', 'task t1', 'video v2', 'video v3']);
    expect(steps).toEqual(['delete_video v1', 'delete_task v1', 'delete_video v3']);
    expect(outcomes.map((o) => [o.videoId, o.videoDeleted, o.taskDeleted, Boolean(o.error)])).toEqual([
      ['v1', true, true, false],
      ['v2', false, false, true],
      ['v3', true, false, false],
    ]);
  });
});
