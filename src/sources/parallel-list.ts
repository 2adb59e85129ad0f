import { prefetch } from './prefetch.js';
import type { SourceObject } from './types.js';

/** One ListObjectsV2 page: the objects, and with a delimiter the "folders" rolled up under it. */
export interface ListPage {
  objects: SourceObject[];
  prefixes: string[];
  /** The continuation token; absent on the last page. */
  next?: string | undefined;
}

/** The one request a parallel listing needs: a page of keys under a prefix, optionally rolled up at `/`. */
export interface PageLister {
  listPage(query: { prefix: string; delimiter?: '/' | undefined; token?: string | undefined }, signal?: AbortSignal): Promise<ListPage>;
}

export interface ParallelListOptions {
  prefix: string;
  /** Prefixes listed at once (rclone's --checkers). */
  concurrency: number;
  /** Objects each prefix ahead of the one being read may buffer: memory is about concurrency x this. */
  bufferPerPrefix?: number;
  /** How deep to follow a chain of single folders (`videos/2024/`) before listing what is below it. */
  maxDepth?: number;
}

type Entry = { object: SourceObject } | { prefix: string };

/**
 * Lists every object under `prefix` in exactly the order one flat ListObjectsV2 listing returns
 * (UTF-8 byte order of the keys), but reads the folders below in parallel, as rclone does: one
 * listing with Delimiter '/' finds the folders, then up to `concurrency` of them are listed at
 * once while the output is read in key order. A folder's keys are a contiguous range of the flat
 * order, so the concatenation is the flat listing. A store that ignores the delimiter answers with
 * every key and no folders: that is the flat listing itself.
 */
export async function* listInParallel(pages: PageLister, options: ParallelListOptions, signal?: AbortSignal): AsyncGenerator<SourceObject> {
  const buffer = options.bufferPerPrefix ?? 2000;
  const entries = (await descend(pages, options.prefix, options.maxDepth ?? 4, signal))[Symbol.asyncIterator]();
  // In key order: objects between folders, and folders being listed ahead of the one being read.
  const queue: Array<{ object: SourceObject } | { folder: ReturnType<typeof prefetch<SourceObject>> }> = [];
  let folders = 0;
  let done = false;
  try {
    for (;;) {
      while (!done && folders < options.concurrency && queue.length < buffer) {
        const next = await entries.next();
        if (next.done) done = true;
        else if ('object' in next.value) queue.push(next.value);
        else {
          queue.push({ folder: prefetch(flatListing(pages, next.value.prefix, signal), buffer) });
          folders += 1;
        }
      }
      const first = queue.shift();
      if (!first) return;
      if ('object' in first) yield first.object;
      else {
        yield* first.folder;
        folders -= 1;
      }
    }
  } finally {
    for (const entry of queue) if ('folder' in entry) entry.folder.stop();
    await entries.return?.();
  }
}

/** Follows a chain of lone folders down (`videos/` -> `videos/2024/`), then streams the first level with more than one entry. */
async function descend(pages: PageLister, prefix: string, maxDepth: number, signal?: AbortSignal): Promise<AsyncIterable<Entry>> {
  let current = prefix;
  for (let depth = 0; ; depth++) {
    const first = await pages.listPage({ prefix: current, delimiter: '/' }, signal);
    const lone = first.prefixes[0];
    if (depth < maxDepth && first.next === undefined && first.objects.length === 0 && first.prefixes.length === 1 && lone !== undefined) {
      current = lone;
      continue;
    }
    return levelEntries(pages, current, first, signal);
  }
}

/** A level's objects and folders in key order, page after page (each page holds both, in order, up to 1000 entries). */
async function* levelEntries(pages: PageLister, prefix: string, first: ListPage, signal?: AbortSignal): AsyncGenerator<Entry> {
  let page: ListPage | undefined = first;
  while (page) {
    yield* mergeInKeyOrder(page.objects, page.prefixes);
    page = page.next === undefined ? undefined : await pages.listPage({ prefix, delimiter: '/', token: page.next }, signal);
  }
}

function* mergeInKeyOrder(objects: SourceObject[], prefixes: string[]): Generator<Entry> {
  let o = 0;
  let p = 0;
  while (o < objects.length || p < prefixes.length) {
    const object = objects[o];
    const prefix = prefixes[p];
    if (object !== undefined && (prefix === undefined || compareKeys(object.key, prefix) < 0)) {
      yield { object };
      o += 1;
    } else if (prefix !== undefined) {
      yield { prefix };
      p += 1;
    }
  }
}

/** S3 orders keys by their UTF-8 bytes, which differs from JavaScript's UTF-16 order past U+FFFF. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

async function* flatListing(pages: PageLister, prefix: string, signal?: AbortSignal): AsyncGenerator<SourceObject> {
  let token: string | undefined;
  do {
    const page = await pages.listPage({ prefix, token }, signal);
    yield* page.objects;
    token = page.next;
  } while (token !== undefined);
}
