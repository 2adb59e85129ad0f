import { prefetch } from './prefetch.js';
import type { SourceObject } from './types.js';

/** One ListObjectsV2 page: the objects, and with a delimiter the "folders" rolled up under it. */
export interface ListPage {
  objects: SourceObject[];
  prefixes: string[];
  /** The continuation token; absent on the last page. */
  next?: string | undefined;
}

export interface PageQuery {
  prefix: string;
  delimiter?: '/' | undefined;
  token?: string | undefined;
  /** Keys after this one only (ListObjectsV2 StartAfter; ignored with a token). */
  startAfter?: string | undefined;
}

/** The one request a parallel listing needs: a page of keys under a prefix, optionally rolled up at `/`. */
export interface PageLister {
  listPage(query: PageQuery, signal?: AbortSignal): Promise<ListPage>;
}

export interface ParallelListOptions {
  prefix: string;
  /** Folder listings at once (rclone's --checkers). */
  concurrency: number;
  /** Objects each listing ahead of the one being read may buffer: memory is about concurrency x this. */
  bufferPerRange?: number;
  /** How deep to follow a chain of single folders (`videos/2024/`) before listing what is below it. */
  maxDepth?: number;
}

type Entry = { object: SourceObject } | { prefix: string };
type Listing = ReturnType<typeof prefetch<SourceObject>>;

/** Keys a range of neighbouring small folders is sized to: 80% of a 1000-key page, so that its end shows on its last page, not on one more. */
const RANGE_KEYS = 800;

/**
 * Lists every object under `prefix` in exactly the order one flat ListObjectsV2 listing returns
 * (UTF-8 byte order of the keys), but reads the folders below in parallel, as rclone does with its
 * checkers: a listing with Delimiter '/' streams the folders and the objects between them, and up
 * to `concurrency` folders are listed at once while the output is read in key order. Once the
 * first folders show that folders are small, neighbouring folders are listed together as one key
 * range (a page's worth), so a bucket of many small folders costs few requests. A folder's keys
 * are a contiguous range of the flat order, so the concatenation is the flat listing; a store that
 * ignores the delimiter shows no folders, and its answer is the flat listing itself.
 */
export async function* listInParallel(pages: PageLister, options: ParallelListOptions, signal?: AbortSignal): AsyncGenerator<SourceObject> {
  const buffer = options.bufferPerRange ?? 2000;
  const { level, entries } = await descend(pages, options.prefix, options.maxDepth ?? 4, signal);
  const reader = entries[Symbol.asyncIterator]();
  const sizes = { folders: 0, objects: 0 };
  // In key order: objects between folders, and folder listings running ahead of the one being read.
  const queue: Array<{ object: SourceObject } | { listing: Listing }> = [];
  let peeked: Entry | undefined;
  let listings = 0;
  let done = false;
  const nextEntry = async () => {
    if (peeked) {
      const entry = peeked;
      peeked = undefined;
      return entry;
    }
    const next = await reader.next();
    return next.done ? undefined : next.value;
  };
  try {
    for (;;) {
      while (!done && listings < options.concurrency && queue.length < buffer) {
        const entry = await nextEntry();
        if (entry === undefined) done = true;
        else if ('object' in entry) queue.push(entry);
        else {
          const group = [entry.prefix];
          const want = sizes.folders >= options.concurrency ? Math.floor(RANGE_KEYS / Math.max(1, sizes.objects / sizes.folders)) : 1;
          while (group.length < want) {
            const more = await nextEntry();
            if (more === undefined || 'object' in more) {
              peeked = more;
              break;
            }
            group.push(more.prefix);
          }
          queue.push({ listing: prefetch(group.length === 1 ? measured(keyRange(pages, entry.prefix, {}, signal), sizes) : folders(pages, level, group, signal), buffer) });
          listings += 1;
        }
      }
      const first = queue.shift();
      if (!first) return;
      if ('object' in first) yield first.object;
      else {
        yield* first.listing;
        listings -= 1;
      }
    }
  } finally {
    for (const entry of queue) if ('listing' in entry) entry.listing.stop();
    await reader.return?.();
  }
}

/** Follows a chain of lone folders down (`videos/` -> `videos/2024/`), then streams the first level with more than one entry. */
async function descend(pages: PageLister, prefix: string, maxDepth: number, signal?: AbortSignal): Promise<{ level: string; entries: AsyncIterable<Entry> }> {
  let level = prefix;
  for (let depth = 0; ; depth++) {
    const first = await pages.listPage({ prefix: level, delimiter: '/' }, signal);
    const lone = first.prefixes[0];
    if (depth < maxDepth && first.next === undefined && first.objects.length === 0 && first.prefixes.length === 1 && lone !== undefined) {
      level = lone;
      continue;
    }
    return { level, entries: levelEntries(pages, level, first, signal) };
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

/** One folder's listing, adding its size to `sizes` when it ends. */
async function* measured(listing: AsyncIterable<SourceObject>, sizes: { folders: number; objects: number }): AsyncGenerator<SourceObject> {
  let n = 0;
  for await (const object of listing) {
    n += 1;
    yield object;
  }
  sizes.folders += 1;
  sizes.objects += n;
}

/**
 * Neighbouring folders (no object between them) as one flat range of the level: from just before
 * the first folder (StartAfter) until the first key past the last folder.
 */
async function* folders(pages: PageLister, level: string, group: string[], signal?: AbortSignal): AsyncGenerator<SourceObject> {
  const first = group[0] ?? '';
  const last = group[group.length - 1] ?? '';
  // The first folder minus its slash sorts before its keys; keys between the two (`a-1`, `a.mp4`) were listed before this range.
  for await (const object of keyRange(pages, level, { startAfter: first.slice(0, -1) }, signal)) {
    if (compareKeys(object.key, first) < 0) continue;
    if (!object.key.startsWith(last) && compareKeys(object.key, last) > 0) return;
    yield object;
  }
}

async function* keyRange(pages: PageLister, prefix: string, from: { startAfter?: string }, signal?: AbortSignal): AsyncGenerator<SourceObject> {
  let token: string | undefined;
  let startAfter = from.startAfter;
  do {
    const page = await pages.listPage({ prefix, token, startAfter }, signal);
    yield* page.objects;
    token = page.next;
    startAfter = undefined;
  } while (token !== undefined);
}

/** S3 orders keys by their UTF-8 bytes, which differs from JavaScript's UTF-16 order past U+FFFF. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
