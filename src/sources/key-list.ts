import { ConfigError } from '../errors.js';
import type { ListOptions, SourceLister, SourceObject, SourceSpec } from './types.js';

/** HEAD of one object: undefined when there is no such key. */
export interface ObjectHeader {
  head(key: string, signal?: AbortSignal): Promise<SourceObject | undefined>;
}

/**
 * The key a `--files-from` line names (rclone's convention): relative to the source prefix, or a
 * full `s3://BUCKET/KEY` inside the source. Blank lines and `#` comments name nothing.
 */
export function keyFromLine(line: string, spec: SourceSpec, where: string): string | undefined {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  if (text.trim() === '' || text.startsWith('#')) return undefined;
  if (!text.startsWith('s3://')) {
    const folder = spec.prefix === '' || spec.prefix.endsWith('/') ? spec.prefix : `${spec.prefix}/`;
    return `${folder}${text.replace(/^\/+/, '')}`;
  }
  const inside = `s3://${spec.bucket}/${spec.prefix}`;
  if (!text.startsWith(inside) || text.length === inside.length) {
    throw new ConfigError('files_from_outside', `${where}: ${text} is not inside --source ${inside}: list keys relative to the source, or full URIs under it`);
  }
  return text.slice(`s3://${spec.bucket}/`.length);
}

/**
 * Lists the objects a key list names instead of the whole bucket: each key HEADed, `concurrency` at a
 * time, yielded in list order, each key once. Keys that are not in the bucket are collected in
 * `missing`; with `failOnMissing` the listing then ends with an error, so no plan is written.
 */
export class KeyListLister implements SourceLister {
  readonly missing: string[] = [];

  constructor(
    private readonly source: ObjectHeader,
    private readonly lines: AsyncIterable<string>,
    private readonly options: { spec: SourceSpec; name: string; concurrency: number; failOnMissing: boolean },
  ) {}

  async *list(_options: ListOptions, signal?: AbortSignal): AsyncIterable<SourceObject> {
    const seen = new Set<string>();
    const window: Array<{ key: string; found: Promise<SourceObject | undefined> }> = [];
    let lineNo = 0;
    for await (const line of this.lines) {
      lineNo += 1;
      const key = keyFromLine(line, this.options.spec, `--files-from ${this.options.name} line ${lineNo}`);
      if (key === undefined || seen.has(key)) continue;
      seen.add(key);
      const found = this.source.head(key, signal);
      // Awaited in order below; this keeps an early rejection from being reported as unhandled.
      found.catch(() => undefined);
      window.push({ key, found });
      if (window.length >= this.options.concurrency) yield* this.settle(window.shift());
    }
    while (window.length) yield* this.settle(window.shift());
    if (this.options.failOnMissing && this.missing.length) throw this.missingError();
  }

  private async *settle(entry: { key: string; found: Promise<SourceObject | undefined> } | undefined): AsyncGenerator<SourceObject> {
    if (!entry) return;
    const object = await entry.found;
    if (object) yield object;
    else this.missing.push(entry.key);
  }

  private missingError(): ConfigError {
    const { spec, name } = this.options;
    return new ConfigError(
      'files_from_missing',
      `--files-from ${name}: ${describeMissing(this.missing, `s3://${spec.bucket}/`)}: fix the list, or leave out --fail-on-missing to plan the others (no plan was written)`,
    );
  }
}

/** `2 keys are not in s3://b/: a.mp4, b.mp4` (the first five, then how many more). */
export function describeMissing(missing: readonly string[], where: string): string {
  const shown = missing.slice(0, 5).join(', ');
  const more = missing.length > 5 ? ` and ${missing.length - 5} more` : '';
  return `${missing.length} ${missing.length === 1 ? 'key is' : 'keys are'} not in ${where}: ${shown}${more}`;
}
