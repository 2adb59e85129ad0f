import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/errors.js';
import { createdVideoIds, judgeMarkerFilter, knownMetadata, type MarkerFilterVerdict } from '../../src/twelvelabs/our-videos.js';
import type { IndexedVideo } from '../../src/twelvelabs/types.js';

const MARKED = { tlm_tool: 'tlmigrate', tlm_source: 's3://b/k.mp4', tlm_etag: 'e' };

/** GET video over a fixed index: ids not in it are gone (404). */
function fakeVideos(metadata: Record<string, Record<string, unknown>>) {
  const calls: string[] = [];
  return {
    calls,
    async getVideo(indexId: string, videoId: string): Promise<IndexedVideo> {
      calls.push(videoId);
      const found = metadata[videoId];
      if (!found) throw new ApiError({ status: 404, code: 'resource_not_exist', message: 'gone', method: 'GET', path: `/indexes/${indexId}/videos/${videoId}` });
      return { _id: videoId, user_metadata: found };
    },
  };
}

const ids = (...list: string[]) => list.map((_id) => ({ _id }));

describe('judgeMarkerFilter: whether the user-metadata filter can be trusted', () => {
  const index = { ours1: MARKED, ours2: MARKED, legacy: {}, other: { project: 'x' } };

  it.each<[string, { all: string[]; filtered: string[]; known?: string[] }, MarkerFilterVerdict, number]>([
    // [case, listings, verdict, GETs]
    ['honoured: lists ours, a GET confirms the marker', { all: ['ours1', 'ours2', 'legacy'], filtered: ['ours1', 'ours2'] }, 'works', 1],
    ['honoured, and lists every video the ledger recorded', { all: ['ours1', 'legacy'], filtered: ['ours1'], known: ['ours1', 'deleted-since'] }, 'works', 1],
    ['ignored: lists every video', { all: ['ours1', 'legacy'], filtered: ['ours1', 'legacy'] }, 'all-listed', 0],
    ['misread: lists nothing, though the ledger names a video present', { all: ['ours1', 'legacy'], filtered: [], known: ['ours1'] }, 'broken', 0],
    ['misread: leaves out a video the ledger names', { all: ['ours1', 'ours2', 'legacy'], filtered: ['ours1'], known: ['ours2'] }, 'broken', 0],
    ['misread: lists a video without the marker', { all: ['ours1', 'legacy', 'other'], filtered: ['other'] }, 'broken', 1],
    ['lists nothing, and nothing is known: no proof either way', { all: ['legacy', 'other'], filtered: [] }, 'unproven', 0],
    ['lists nothing in an empty index', { all: [], filtered: [] }, 'unproven', 0],
    ['the video read to confirm is gone', { all: ['ours1', 'legacy'], filtered: ['gone'] }, 'unproven', 1],
  ])('%s -> %s', async (_case, listings, verdict, gets) => {
    const api = fakeVideos(index);
    const ours = await judgeMarkerFilter(api, 'idx', { all: ids(...listings.all), filtered: ids(...listings.filtered), known: listings.known ?? [] });
    expect(ours.verdict).toBe(verdict);
    expect(api.calls).toHaveLength(gets);
    expect(ours.ids === undefined).toBe(verdict !== 'works');
  });

  it('takes the marker from the listing when it carries user_metadata, without a GET', async () => {
    const api = fakeVideos({});
    const ours = await judgeMarkerFilter(api, 'idx', { all: ids('a', 'b'), filtered: [{ _id: 'a', user_metadata: MARKED }], known: [] });
    expect(ours.verdict).toBe('works');
    expect(api.calls).toEqual([]);
  });
});

describe('knownMetadata', () => {
  const works = { verdict: 'works' as const, ids: new Set(['ours']) };
  const unproven = { verdict: 'unproven' as const, ids: undefined };

  it.each<[string, Pick<IndexedVideo, '_id' | 'user_metadata'>, typeof works | typeof unproven, Record<string, unknown> | undefined]>([
    ['listed metadata wins', { _id: 'x', user_metadata: { a: 1 } }, works, { a: 1 }],
    ['a working filter left it out: no fingerprint', { _id: 'legacy' }, works, {}],
    ['a working filter listed it: read it', { _id: 'ours' }, works, undefined],
    ['an unproven filter: read it', { _id: 'legacy' }, unproven, undefined],
    ['null metadata is not metadata', { _id: 'legacy', user_metadata: null }, unproven, undefined],
  ])('%s', (_case, video, ours, expected) => {
    expect(knownMetadata(video, ours)).toEqual(expected);
  });
});

describe('createdVideoIds', () => {
  it('takes the videos of tasks and indexed assets tlmigrate created, not the ones a plan matched', () => {
    expect(
      createdVideoIds([
        { videoId: 'v-task', taskId: 't1' },
        { videoId: 'v-asset', indexedAssetId: 'v-asset' },
        { videoId: 'v-legacy', reason: 'indexed' },
        { videoId: 'v-matched-ours', reason: 'indexed', taskId: 't9' },
        { taskId: 't-failed' },
        { videoId: 'v-no-task' },
      ]),
    ).toEqual(['v-task', 'v-asset']);
  });
});
