import { once } from 'node:events';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, errnoCode } from '../errors.js';

/**
 * JSON values written to a temporary file as they come (one per line), read back later in the same
 * order: a long list grouped for output (the `status --json` groups, each run's failed files) costs
 * disk, not memory.
 */
export class JsonSpool {
  count = 0;
  private readonly out: WriteStream;

  constructor(readonly path: string) {
    this.out = createWriteStream(path, { mode: 0o600 });
  }

  async add(value: unknown): Promise<void> {
    this.count += 1;
    if (!this.out.write(`${JSON.stringify(value)}\n`)) await once(this.out, 'drain');
  }

  /** Ends the writing; the file stays for reading. */
  async finish(): Promise<void> {
    if (this.out.writableFinished) return;
    this.out.end();
    await once(this.out, 'finish');
  }

  /** The values as the text of a JSON array's elements (`a,b,c`), a piece at a time. */
  async *arrayText(): AsyncGenerator<string> {
    let first = true;
    for await (const line of this.lines()) {
      yield first ? line : `,${line}`;
      first = false;
    }
  }

  async *values<T>(): AsyncGenerator<T> {
    for await (const line of this.lines()) yield JSON.parse(line) as T;
  }

  private async *lines(): AsyncGenerator<string> {
    await this.finish();
    let rest = '';
    for await (const chunk of createReadStream(this.path, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
      const parts = (rest + String(chunk)).split('\n');
      rest = parts.pop() ?? '';
      yield* parts;
    }
  }
}

/** A private temporary folder (`tlmigrate-NAME-XXXXXX` in the system's), refused with one line when none can be made. */
export function makeTempFolder(name: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `tlmigrate-${name}-`)).catch((error: unknown) => {
    throw new ConfigError('tmpdir_unwritable', `cannot create a temporary folder in ${tmpdir()} (${errnoCode(error) ?? 'error'}): set TMPDIR to a writable folder`, { cause: error });
  });
}

/** A folder for spools, removed (with them) when `work` ends, however it ends. */
export async function withSpools<T>(name: string, work: (spool: (file: string) => JsonSpool) => Promise<T>): Promise<T> {
  const dir = await makeTempFolder(name);
  const spools: JsonSpool[] = [];
  try {
    return await work((file) => {
      const spool = new JsonSpool(join(dir, file));
      spools.push(spool);
      return spool;
    });
  } finally {
    await Promise.all(spools.map((s) => s.finish().catch(() => undefined)));
    await rm(dir, { recursive: true, force: true });
  }
}
