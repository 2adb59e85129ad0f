/**
 * `npm run bench:plan-scale [-- --sizes 100000,1000000]`
 *
 * Peak RSS and wall time of `plan` on synthetic archives, through the real code path (writePlan:
 * the parallel listing, the index reader, the planner, the plan file) with in-process fakes behind
 * the real interfaces: a bucket that answers ListObjectsV2 pages (PageLister) and an index API that
 * answers the listing pages (PlanIndexApi). N objects over 100 prefixes (each size its own), N indexed videos (half
 * match an object by file name + size, as in bench:plan) and one video tlmigrate made, so the
 * marker filter proves itself and no per-video GET is needed. Each size runs in a child process of
 * its own, so its peak RSS is its own. Prints one line per size:
 *   plan: N objects, RSS X MiB, wall Y s
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { PLAN_DEFAULTS } from '../../src/cli/options.js';
import { writePlan, type PlanArgs, type PlanIndexApi } from '../../src/cli/plan-command.js';
import { createLogger } from '../../src/log.js';
import { listInParallel, type ListPage, type PageLister, type PageQuery } from '../../src/sources/parallel-list.js';
import type { ListOptions, SourceLister, SourceObject } from '../../src/sources/types.js';
import type { IndexedVideo, Page } from '../../src/twelvelabs/types.js';

const PREFIXES = 100;
const VIDEO_PAGE = 50;
const MARKER_VIDEO = 'video-made-by-tlmigrate';

const pad = (i: number) => String(i).padStart(8, '0');
/** Sizes of their own, as real videos have: bench:plan's equal sizes are a worst case of their own. */
const sizeOf = (i: number) => 10_000_000 + i;

/** N objects `pPPP/clip-IIIIIIII.mp4` (object i under prefix i % 100), generated page by page, never held. */
class SyntheticBucket implements PageLister, SourceLister {
  constructor(private readonly n: number) {}

  list(options: ListOptions, signal?: AbortSignal): AsyncIterable<SourceObject> {
    return listInParallel(this, { prefix: options.prefix, concurrency: 8 }, signal);
  }

  async listPage(query: PageQuery): Promise<ListPage> {
    await new Promise((resolve) => setImmediate(resolve));
    if (query.prefix === '' && query.delimiter === '/') {
      return { objects: [], prefixes: Array.from({ length: Math.min(PREFIXES, this.n) }, (_, p) => `p${String(p).padStart(3, '0')}/`) };
    }
    // Key order is prefix p, then j, for object i = p + 100 j; a folder's listing (pNNN/) stays in its p.
    const folder = /^p(\d{3})\/$/.exec(query.prefix);
    if (query.delimiter || (query.prefix !== '' && !folder)) throw new Error(`the synthetic bucket lists '', '' with '/' and pNNN/ only, not ${JSON.stringify(query)}`);
    let [p, j] = query.token ? query.token.split(',').map(Number) : folder ? [Number(folder[1]), 0] : start(query.startAfter);
    const last = folder ? Number(folder[1]) : PREFIXES - 1;
    const objects: SourceObject[] = [];
    while (p !== undefined && j !== undefined && p <= last && objects.length < 1000) {
      const i = p + PREFIXES * j;
      if (i >= this.n) [p, j] = [p + 1, 0];
      else {
        objects.push(syntheticObject(i));
        j += 1;
      }
    }
    const more = p !== undefined && j !== undefined && p <= last && (p < last || p + PREFIXES * j < this.n);
    return { objects: parsed(objects), prefixes: [], next: more ? `${p},${j}` : undefined };
  }
}

/** The position (prefix, index in it) of the first key after `startAfter`: a folder minus its slash, or a key. */
function start(startAfter: string | undefined): number[] {
  const m = /^p(\d{3})(?:\/clip-(\d{8})\.mp4)?$/.exec(startAfter ?? '');
  if (!startAfter || !m) return [0, 0];
  return m[2] === undefined ? [Number(m[1]), 0] : [Number(m[2]) % PREFIXES, Math.floor(Number(m[2]) / PREFIXES) + 1];
}

/** As a parser would hand it over: flat strings, not the string ropes template literals build (they weigh more). */
function parsed<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function syntheticObject(i: number): SourceObject {
  return {
    key: `p${String(i % PREFIXES).padStart(3, '0')}/clip-${pad(i)}.mp4`,
    size: sizeOf(i),
    etag: i.toString(16).padStart(32, '0'),
    lastModified: '2026-01-01T00:00:00.000Z',
    storageClass: 'STANDARD',
  };
}

/** The index as its listing pages show it: video i is object i's name and size for even i, a name of its own for odd i. */
function syntheticIndex(n: number): PlanIndexApi {
  const video = (i: number): IndexedVideo => ({
    _id: `video-${pad(i)}-0123456789ab`,
    created_at: '2025-06-01T00:00:00Z',
    updated_at: '2025-06-01T00:00:00Z',
    indexed_at: '2025-06-01T00:05:00Z',
    system_metadata: { filename: i % 2 === 0 ? `clip-${pad(i)}.mp4` : `legacy-only-${pad(i)}.mp4`, size: sizeOf(i), duration: 60, fps: 30, width: 1280, height: 720 },
  });
  const marker: IndexedVideo = { _id: MARKER_VIDEO, created_at: '2025-06-02T00:00:00Z', system_metadata: { filename: 'made-earlier.mp4', size: 4096 } };
  const markerMetadata = { tlm_tool: 'tlmigrate', tlm_source: 's3://elsewhere/made-earlier.mp4', tlm_etag: 'abc', tlm_size: 4096 };
  const empty = <T>(): Page<T> => ({ data: [], page_info: { limit_per_page: VIDEO_PAGE, page: 1, total_page: 1, total_results: 0 } });
  return {
    listVideos: async (_indexId, query = {}) => {
      await new Promise((resolve) => setImmediate(resolve));
      const page = query.page ?? 1;
      if (query.userMetadata) return page === 1 ? { data: [marker], page_info: { limit_per_page: VIDEO_PAGE, page: 1, total_page: 1, total_results: 1 } } : empty();
      const total = n + 1;
      const data: IndexedVideo[] = [];
      for (let i = (page - 1) * VIDEO_PAGE; i < Math.min(total, page * VIDEO_PAGE); i++) data.push(i === n ? marker : video(i));
      return parsed({ data, page_info: { limit_per_page: VIDEO_PAGE, page, total_page: Math.ceil(total / VIDEO_PAGE), total_results: total } });
    },
    listTasks: async () => empty(),
    listIndexedAssets: async () => empty(),
    getVideo: async (_indexId, videoId) => (videoId === MARKER_VIDEO ? { ...marker, user_metadata: markerMetadata } : video(Number(videoId.slice(6, 14)))),
  };
}

async function child(n: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tlm-plan-scale-'));
  const args: PlanArgs = {
    source: 's3://scale',
    index: 'index-scale',
    out: join(dir, 'plan.json'),
    state: join(dir, 'no-state.json'),
    ...PLAN_DEFAULTS,
    include: [],
    exclude: [],
  };
  const t0 = performance.now();
  try {
    const { summary } = await writePlan({
      args,
      spec: { bucket: 'scale', prefix: '' },
      api: syntheticIndex(n),
      index: { index_name: 'scale', models: [{ model_name: 'marengo2.7' }] },
      lister: new SyntheticBucket(n),
      log: createLogger({ level: 'silent' }),
      progress: { update: () => undefined, done: () => undefined },
    });
    const wall = (performance.now() - t0) / 1000;
    const expectedSkips = Math.ceil(n / 2);
    if (summary.total !== n || summary.counts.skip !== expectedSkips) throw new Error(`planned ${summary.total} objects with ${summary.counts.skip} skips; expected ${n} with ${expectedSkips}`);
    const size = (await stat(args.out)).size;
    process.stdout.write(`${JSON.stringify({ n, rssKiB: process.resourceUsage().maxRSS, wall, planBytes: size })}\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function main(): number {
  const { values } = parseArgs({ options: { sizes: { type: 'string' }, child: { type: 'string' } }, strict: true });
  if (values.child !== undefined) {
    void child(Number(values.child)).catch((error: unknown) => {
      process.stderr.write(`plan-scale: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    });
    return -1;
  }
  const sizes = (values.sizes ?? '100000,1000000').split(',').map((s) => Number(s.replace(/_/g, '')));
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) {
    process.stderr.write('plan-scale: --sizes takes positive whole numbers, e.g. --sizes 100000,1000000\n');
    return 2;
  }
  const results: Array<{ n: number; rssKiB: number; wall: number }> = [];
  for (const n of sizes) {
    const run = spawnSync(process.execPath, [...process.execArgv, process.argv[1] ?? '', '--child', String(n)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 });
    if (run.status !== 0) return 1;
    const r = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as { n: number; rssKiB: number; wall: number };
    results.push(r);
    process.stdout.write(`plan: ${n} objects, RSS ${(r.rssKiB / 1024).toFixed(1)} MiB, wall ${r.wall.toFixed(2)} s\n`);
  }
  const [first, last] = [results[0], results[results.length - 1]];
  if (first && last && last.n > first.n) {
    process.stdout.write(`slope: ${(((last.rssKiB - first.rssKiB) / 1024 / (last.n - first.n)) * 1000).toFixed(3)} MiB per 1k objects (${first.n} -> ${last.n})\n`);
  }
  return 0;
}

const code = main();
if (code >= 0) process.exitCode = code;
