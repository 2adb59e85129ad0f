import { describe, expect, it } from 'vitest';
import { listAllVideos, slimVideo } from '../../src/twelvelabs/index-reader.js';
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
