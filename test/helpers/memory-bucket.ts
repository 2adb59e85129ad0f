import type { ListPage, PageLister, PageQuery } from '../../src/sources/parallel-list.js';
import type { SourceObject } from '../../src/sources/types.js';

const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/**
 * A bucket in memory that answers ListObjectsV2 the way S3 does: keys in UTF-8 byte order, a
 * delimiter rolls keys up into common prefixes, and a page holds up to `pageSize` entries of
 * either kind. `ignoreDelimiter` plays a store that does not support delimiters.
 */
export class MemoryBucket implements PageLister {
  readonly objects: SourceObject[];
  requests = 0;
  inFlight = 0;
  maxInFlight = 0;

  constructor(
    objects: Iterable<SourceObject>,
    private readonly options: { pageSize?: number; ignoreDelimiter?: boolean } = {},
  ) {
    this.objects = [...objects].sort((a, b) => byBytes(a.key, b.key));
  }

  async listPage(query: PageQuery): Promise<ListPage> {
    this.requests += 1;
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise((resolve) => setImmediate(resolve));
    this.inFlight -= 1;
    const delimiter = this.options.ignoreDelimiter ? undefined : query.delimiter;
    const size = this.options.pageSize ?? 1000;
    const page: ListPage = { objects: [], prefixes: [] };
    let last: string | undefined;
    for (const object of this.objects) {
      if (!object.key.startsWith(query.prefix)) continue;
      const slash = delimiter ? object.key.indexOf(delimiter, query.prefix.length) : -1;
      const entry = slash === -1 ? object.key : object.key.slice(0, slash + 1);
      if (query.token !== undefined && byBytes(entry, query.token) <= 0) continue;
      if (query.token === undefined && query.startAfter && byBytes(object.key, query.startAfter) <= 0) continue;
      if (entry === last) continue;
      if (page.objects.length + page.prefixes.length === size) {
        page.next = last;
        break;
      }
      if (slash === -1) page.objects.push(object);
      else page.prefixes.push(entry);
      last = entry;
    }
    return page;
  }

  /** The flat listing: every key in order, as one ListObjectsV2 loop without a delimiter returns it. */
  async *flat(prefix = ''): AsyncGenerator<SourceObject> {
    let token: string | undefined;
    do {
      const page = await this.listPage({ prefix, token });
      yield* page.objects;
      token = page.next;
    } while (token !== undefined);
  }
}
