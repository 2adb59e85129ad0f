import { describe, expect, it } from 'vitest';
import { listAllVideos, readAllVideosInto, slimVideo } from '../../src/twelvelabs/index-reader.js';
import type { IndexedVideo, ListVideosQuery, Page } from '../../src/twelvelabs/types.js';

/** An index whose listing says `statedPages` pages of 50 but holds `videos` videos; `ignorePage` answers page 1 whatever is asked. */
function anIndex(videos: number, options: { statedPages?: number; ignorePage?: boolean } = {}) {
  const all: IndexedVideo[] = Array.from({ length: videos }, (_, i) => ({
    _id: `v${String(i).padStart(5, '0')}`,
    created_at: '2025-01-01T00:00:00Z',
    system_metadata: { filename: `clip-${i}.mp4`, size: 1000 + i, duration: 60, width: 1280, height: 720, fps: 30 },
  }));
  const asked: number[] = [];
  return {
    asked,
    listVideos: async (_indexId: string, query: ListVideosQuery = {}): Promise<Page<IndexedVideo>> => {
      const page = options.ignorePage ? 1 : (query.page ?? 1);
      asked.push(query.page ?? 1);
      await new Promise((resolve) => setImmediate(resolve));
      const limit = query.pageLimit ?? 10;
      return {
        data: all.slice((page - 1) * limit, page * limit),
        page_info: { limit_per_page: limit, page, total_page: options.statedPages ?? Math.max(1, Math.ceil(videos / limit)), total_results: videos },
      };
    },
  };
}

describe('listAllVideos', () => {
  it('reads every page once, the one past the total with the others, in page order whatever the arrival order', async () => {
    const index = anIndex(420);
    const videos = await listAllVideos(index, 'i', { concurrency: 4 });
    expect(videos.map((v) => v._id)).toEqual(Array.from({ length: 420 }, (_, i) => `v${String(i).padStart(5, '0')}`));
    expect([...index.asked].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('reads on past the stated total when the listing grew while it was read', async () => {
    const index = anIndex(420, { statedPages: 3 });
    const videos = await listAllVideos(index, 'i', { concurrency: 2 });
    expect(videos).toHaveLength(420);
    expect(Math.max(...index.asked)).toBe(10);
  });

  it('ends on a server that ignores the page number', async () => {
    const index = anIndex(120, { ignorePage: true, statedPages: 1 });
    expect(await listAllVideos(index, 'i')).toHaveLength(50);
  });

  it('keeps only what `keep` keeps of each video', async () => {
    const videos = await listAllVideos(anIndex(60), 'i', { keep: slimVideo });
    expect(videos[0]).toEqual({ _id: 'v00000', system_metadata: { filename: 'clip-0.mp4', size: 1000 } });
  });
});

/** A sink that records every call, in order, and answers as a set of ids. */
function recordingSink() {
  const seen = new Set<string>();
  const calls: Array<[string, string | undefined]> = [];
  return {
    calls,
    add(id: string, video: IndexedVideo) {
      calls.push([id, video.system_metadata?.filename]);
      const fresh = !seen.has(id);
      seen.add(id);
      return fresh;
    },
  };
}

/** Pages answered only when the test says so: `release(page)`, or every page at once with `releaseAll()`. */
function aHeldIndex(pages: IndexedVideo[][], statedPages = pages.length) {
  const asked: number[] = [];
  const waiting = new Map<number, () => void>();
  const held = new Set<number>();
  const answer = (page: number): Page<IndexedVideo> => ({ data: pages[page - 1] ?? [], page_info: { limit_per_page: 50, page, total_page: statedPages, total_results: 0 } });
  return {
    asked,
    hold: (page: number) => held.add(page),
    release(page: number) {
      held.delete(page);
      waiting.get(page)?.();
    },
    listVideos: async (_indexId: string, query: ListVideosQuery = {}): Promise<Page<IndexedVideo>> => {
      const page = query.page ?? 1;
      asked.push(page);
      if (held.has(page)) await new Promise<void>((resolve) => waiting.set(page, resolve));
      else await new Promise((resolve) => setImmediate(resolve));
      return answer(page);
    },
  };
}

const video = (id: string, filename = `${id}.mp4`): IndexedVideo => ({ _id: id, system_metadata: { filename } });
const settle = async () => {
  for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe('readAllVideosInto: a listing streamed into a sink', () => {
  it('hands the sink every item in page order whatever order the pages arrive in, and reads on when the listing grew', async () => {
    const pages = Array.from({ length: 6 }, (_, p) => Array.from({ length: 3 }, (_, i) => video(`p${p + 1}-${i}`)));
    const index = aHeldIndex(pages, 4);
    index.hold(2);
    const sink = recordingSink();
    const done = readAllVideosInto(index, 'i', sink, (v) => v, { concurrency: 3 });
    await settle();
    // Page 2 is late: pages 3 to 5 are in, none handed over before it.
    expect(sink.calls.map(([id]) => id)).toEqual(['p1-0', 'p1-1', 'p1-2']);
    index.release(2);
    await done;
    expect(sink.calls.map(([id]) => id)).toEqual(pages.flat().map((v) => v._id));
    // Stated 4 pages; page 5 (read with the others) had new videos, so 6 and 7 were read after.
    expect([...index.asked].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('a slow page holds back a bounded window of pages, not the whole listing', async () => {
    const pages = Array.from({ length: 200 }, (_, p) => [video(`v${p + 1}`)]);
    const index = aHeldIndex(pages);
    index.hold(2);
    const done = readAllVideosInto(index, 'i', recordingSink(), (v) => v, { concurrency: 2 });
    await settle();
    // 2 readers x 8 pages: pages 2 to 17 asked while 2 is out, page 18 waits for it.
    expect(Math.max(...index.asked)).toBe(17);
    index.release(2);
    await done;
    expect(Math.max(...index.asked)).toBe(201);
  });

  it('a page that repeats ids of an earlier one (the listing shifted) hands them over again, and the sink says they are not new', async () => {
    const index = aHeldIndex([[video('a'), video('b')], [video('b', 'b-renamed.mp4'), video('c')], [video('c')]], 2);
    const sink = recordingSink();
    await readAllVideosInto(index, 'i', sink, (v) => v);
    expect(sink.calls).toEqual([['a', 'a.mp4'], ['b', 'b.mp4'], ['b', 'b-renamed.mp4'], ['c', 'c.mp4'], ['c', 'c.mp4']]);
    // Page 3 (past the stated 2) held nothing new: no page 4.
    expect(Math.max(...index.asked)).toBe(3);
  });

  it('a failed page rejects the read, and nothing reaches the sink after it', async () => {
    const pages = Array.from({ length: 30 }, (_, p) => [video(`v${p + 1}`)]);
    const index = aHeldIndex(pages);
    index.hold(2);
    const failing = {
      listVideos: async (indexId: string, query: ListVideosQuery = {}) => {
        if (query.page === 3) throw new Error('page 3 failed');
        return index.listVideos(indexId, query);
      },
    };
    const sink = recordingSink();
    await expect(readAllVideosInto(failing, 'i', sink, (v) => v, { concurrency: 4 })).rejects.toThrow('page 3 failed');
    // Page 2 answers after the failure: it is not handed over.
    index.release(2);
    await settle();
    expect(sink.calls.map(([id]) => id)).toEqual(['v1']);
  });
});
