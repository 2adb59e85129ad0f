import { closeSync, createReadStream, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { PlanFileError, TlmError, errnoCode } from '../errors.js';
import { HashSlots, HashTable64, hash32, type LookupTable, type LookupTables } from './lookup.js';
import { MemoryBudget, WORK_MEMORY_BYTES } from './spill.js';
import { count, emptySummary } from './plan.js';
import { PLAN_VERSION, type HeldItems, type Plan, type PlanHeader, type PlanItem, type PlanSummary } from './types.js';
import { writeFileAtomic } from '../state/atomic.js';
import { concatLines, mapIterable } from './ordered.js';

const ITEMS_OPEN = '"items":[';

/**
 * Streams a plan to disk, one item per line, atomically. The layout is plain JSON that any tool
 * reads, and lets our reader stream a million-item plan without holding it as one string.
 */
export async function writePlanFile(path: string, header: PlanHeader, items: AsyncIterable<PlanItem>, summary: () => PlanSummary): Promise<void> {
  const head = JSON.stringify(header);
  let first = true;
  // The items' lines, each as its item is read (no generator between: see mapIterable).
  const itemLines = mapIterable(items, (item) => {
    const line = `${first ? '' : ',\n'}${JSON.stringify(item)}`;
    first = false;
    return line;
  });
  const lines = concatLines(`${head.slice(0, -1)},${ITEMS_OPEN}\n`, itemLines, () => `${first ? '' : '\n'}],"summary":${JSON.stringify(summary())}}\n`);
  try {
    await writeFileAtomic(path, lines, 0o600, 'plan file');
  } catch (error) {
    if (error instanceof TlmError) throw error;
    const code = errnoCode(error);
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'ENOSPC' || code === 'EDQUOT') {
      throw new PlanFileError('plan_unwritable', `cannot write plan file ${path} (${code}): choose a writable --out path`, { cause: error });
    }
    throw error;
  }
}

export interface PlanReader {
  header: PlanHeader;
  summary: PlanSummary;
  items(): AsyncIterable<PlanItem>;
}

/** Opens a plan file, checks its version and completeness, and streams its items. */
export async function openPlanFile(path: string): Promise<PlanReader> {
  try {
    await stat(path);
  } catch (error) {
    throw new PlanFileError('plan_missing', `plan file ${path} not found: run tlmigrate plan --out ${path} first`, { cause: error });
  }
  const lines = await readEdgeLines(path);
  const layout = parseOurLayout(lines.first, lines.last);
  if (layout) {
    validateHeader(layout.header, path);
    return { header: layout.header, summary: layout.summary, items: () => streamItems(path) };
  }
  // Not our line layout (reformatted by a person or tool): parse it whole.
  let plan: Plan;
  try {
    plan = JSON.parse(await readFile(path, 'utf8')) as Plan;
  } catch (error) {
    throw new PlanFileError('plan_corrupt', `plan file ${path} is not valid JSON (truncated or edited?): re-run tlmigrate plan`, { cause: error });
  }
  if (typeof plan !== 'object' || plan === null) throw new PlanFileError('plan_corrupt', `plan file ${path} is not a tlmigrate plan: re-run tlmigrate plan`);
  validateHeader(plan, path);
  if (!Array.isArray(plan.items) || typeof plan.summary !== 'object') {
    throw new PlanFileError('plan_corrupt', `plan file ${path} has no items or summary: re-run tlmigrate plan`);
  }
  const { items, summary, ...header } = plan;
  return {
    header,
    summary,
    items: async function* () {
      yield* items;
    },
  };
}

function validateHeader(header: Partial<PlanHeader>, path: string): asserts header is PlanHeader {
  if (header.version !== PLAN_VERSION) {
    const seen = header.version === undefined ? 'no version' : `version ${JSON.stringify(header.version)}`;
    throw new PlanFileError('plan_version', `plan file ${path} has ${seen}; this tlmigrate reads version ${PLAN_VERSION}: re-run tlmigrate plan with this version`);
  }
  if (typeof header.indexId !== 'string' || typeof header.source?.bucket !== 'string') {
    throw new PlanFileError('plan_corrupt', `plan file ${path} has no source or index: re-run tlmigrate plan`);
  }
}

function parseOurLayout(first: string, last: string): { header: PlanHeader; summary: PlanSummary } | undefined {
  if (!first.endsWith(ITEMS_OPEN) || !last.startsWith('],"summary":')) return undefined;
  try {
    const header = JSON.parse(`${first.slice(0, -ITEMS_OPEN.length - 1)}}`) as PlanHeader;
    const summary = (JSON.parse(`{${last.slice(2)}`) as { summary: PlanSummary }).summary;
    return { header, summary };
  } catch {
    return undefined;
  }
}

/** Reads the first line and the last line without loading the whole file. */
async function readEdgeLines(path: string): Promise<{ first: string; last: string }> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const headBytes = Buffer.alloc(Math.min(size, 1 << 20));
    await handle.read(headBytes, 0, headBytes.length, 0);
    const head = headBytes.toString('utf8');
    const tailLength = Math.min(size, 1 << 20);
    const tailBytes = Buffer.alloc(tailLength);
    await handle.read(tailBytes, 0, tailLength, size - tailLength);
    const tail = tailBytes.toString('utf8').trimEnd();
    const firstBreak = head.indexOf('\n');
    return { first: firstBreak === -1 ? head : head.slice(0, firstBreak), last: tail.slice(tail.lastIndexOf('\n') + 1) };
  } finally {
    await handle.close();
  }
}

async function* streamItems(path: string): AsyncGenerator<PlanItem> {
  const rl = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  let lineNo = 0;
  for await (const line of rl) {
    lineNo += 1;
    if (lineNo === 1 || line.startsWith('],"summary":') || line === '') continue;
    const json = line.endsWith(',') ? line.slice(0, -1) : line;
    try {
      yield JSON.parse(json) as PlanItem;
    } catch (error) {
      throw new PlanFileError('plan_corrupt', `plan file ${path}: line ${lineNo} is not valid JSON: re-run tlmigrate plan`, { cause: error });
    }
  }
}

/**
 * Checks a plan's items against each other and its header before anything is sent: one item per
 * key, every key inside the plan's source prefix, and the items agreeing with the plan's summary.
 * A plan edited by hand into something the planner never writes is refused, not half applied.
 */
export async function checkPlanItems(plan: PlanReader, path: string, onChecked?: (checked: number) => void): Promise<void> {
  const repeats = new RepeatedKeys(plan);
  const recount = emptySummary();
  const prefix = plan.header.source.prefix;
  for await (const item of plan.items()) {
    if (onChecked && (recount.total + 1) % 10_000 === 0) onChecked(recount.total + 1);
    if (typeof item?.key !== 'string' || !['upload', 'skip', 'fail'].includes(item.action) || typeof item.size !== 'number' || typeof item.etag !== 'string') {
      throw new PlanFileError('plan_item_invalid', `plan file ${path}: item ${JSON.stringify(item?.key ?? null).slice(0, 200)} lacks a key, size, ETag or action: re-run tlmigrate plan`);
    }
    if (await repeats.seen(item.key)) throw new PlanFileError('plan_duplicate_key', `plan file ${path} lists ${JSON.stringify(item.key)} twice: re-run tlmigrate plan (or remove the copy)`);
    if (!item.key.startsWith(prefix)) {
      throw new PlanFileError('plan_key_outside_source', `plan file ${path} lists ${JSON.stringify(item.key)}, outside its source ${plan.header.source.uri}: re-run tlmigrate plan`);
    }
    count(recount, item);
  }
  const stated = plan.summary;
  const differs = (['upload', 'skip', 'fail'] as const).filter((action) => stated?.counts?.[action] !== recount.counts[action]);
  if (stated?.total !== recount.total || differs.length > 0) {
    const said = differs.map((a) => `${a} ${String(stated?.counts?.[a])}`).join(', ');
    const found = differs.map((a) => `${a} ${recount.counts[a]}`).join(', ');
    throw new PlanFileError(
      'plan_summary_mismatch',
      `plan file ${path} was edited: its summary says ${said || `total ${String(stated?.total)}`} but its items hold ${found || `total ${recount.total}`}: re-run tlmigrate plan rather than editing items by hand`,
    );
  }
}

/**
 * Whether a plan's key came before, in memory that does not grow with the plan: the planner writes
 * keys in order, so while they ascend the key before is enough. At the first key out of order the
 * keys read so far are hashed (one more read of them) and every later key is looked up by its
 * 64-bit hash; a hash seen before is confirmed by reading the keys before it, so a collision costs
 * a read, never a refusal.
 */
class RepeatedKeys {
  private previous: string | undefined;
  private hashes: HashTable64 | undefined;
  private read = 0;

  constructor(private readonly plan: PlanReader) {}

  async seen(key: string): Promise<boolean> {
    const before = this.read;
    this.read += 1;
    if (!this.hashes) {
      if (this.previous === undefined || key > this.previous) {
        this.previous = key;
        return false;
      }
      if (key === this.previous) return true;
      this.hashes = await this.hashKeys(before);
    }
    const repeated = this.hashes.get(key).length > 0 && (await this.among(key, before));
    this.hashes.add(key, 0);
    return repeated;
  }

  private async hashKeys(count: number): Promise<HashTable64> {
    const hashes = new HashTable64();
    await this.firstKeys(count, (key) => void hashes.add(key, 0));
    return hashes;
  }

  /** Whether `key` is among the first `count` keys. */
  private async among(key: string, count: number): Promise<boolean> {
    let found = false;
    await this.firstKeys(count, (k) => (found ||= k === key));
    return found;
  }

  private async firstKeys(count: number, visit: (key: string) => unknown): Promise<void> {
    let n = 0;
    for await (const item of this.plan.items()) {
      if (n++ >= count) return;
      visit(item.key);
    }
  }
}

/**
 * Created, never opened through a link someone left there (O_EXCL); a stale copy of an earlier run
 * with this pid is replaced. A folder that cannot be written is the plan's: refused as `--out`.
 */
function openHeld(path: string, planPath: string, flags: 'wx' | 'wx+' = 'wx', unwritable: Unwritable = planUnwritable): number {
  try {
    try {
      return openSync(path, flags, 0o600);
    } catch (error) {
      if (errnoCode(error) !== 'EEXIST') throw error;
      rmSync(path, { force: true });
      return openSync(path, flags, 0o600);
    }
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'ENOSPC' || code === 'EDQUOT') throw unwritable(planPath, code ?? '', error);
    throw error;
  }
}

/** The refusal when a temporary file beside `path` cannot be created (`code`: the errno). */
export type Unwritable = (path: string, code: string, error: unknown) => Error;

function planUnwritable(planPath: string, code: string, error: unknown): Error {
  return new PlanFileError('plan_unwritable', `cannot write plan file ${planPath} (${code}): choose a writable --out path`, { cause: error });
}

/**
 * HeldItems in a private temporary file beside the plan (`<plan>.held-<pid>`), written in 1 MiB
 * blocks: a plan of millions of legacy matches holds them on disk, not in memory. `remove()`
 * deletes it; the plan never refers to it.
 */
export function heldItemsFile(planPath: string): HeldItems & { remove(): void } {
  return linesFile(`${planPath}.held-${process.pid}`, planPath, planUnwritable);
}

/**
 * Every temporary file of one plan, beside it: the held items, the lookup tables and the index's
 * listings (one file each, on first use). They are held in memory until together they pass
 * `memoryBytes` (WORK_MEMORY_BYTES), then written to disk. `remove()` deletes them all, however
 * the plan ended; an exit that skips it (a second Ctrl-C) deletes them too.
 */
export function planWorkFiles(planPath: string, options: { memoryBytes?: number; unwritable?: Unwritable } = {}): { held: HeldItems; tables: LookupTables; lines(name: string): HeldItems; remove(): void } {
  const budget = new MemoryBudget(options.memoryBytes ?? WORK_MEMORY_BYTES);
  const unwritable = options.unwritable ?? planUnwritable;
  const held = linesFile(`${planPath}.held-${process.pid}`, planPath, unwritable, budget);
  const tables = lookupTablesFile(planPath, unwritable, budget);
  const listings: Array<{ remove(): void }> = [];
  const removeAll = () => {
    held.remove();
    tables.remove();
    for (const file of listings) file.remove();
  };
  // A second Ctrl-C exits at once (process.exit), past every `finally`: the files go with the process.
  process.once('exit', removeAll);
  return {
    held,
    tables,
    lines(name) {
      const file = linesFile(`${planPath}.${name}-${process.pid}`, planPath, unwritable, budget);
      listings.push(file);
      return file;
    },
    remove() {
      process.off('exit', removeAll);
      removeAll();
    },
  };
}

/**
 * Lines appended to a file in 1 MiB blocks. With a `budget`, the blocks stay in memory (counted
 * against it) until it is exhausted: then they are written, and every later block as well.
 */
function linesFile(path: string, planPath: string, unwritable: Unwritable, budget?: MemoryBudget): HeldItems & { remove(): void } {
  // Opened on the first block written, not before: a small plan's lines never touch the disk.
  let fd: number | undefined;
  let pending: string[] = [];
  let pendingBytes = 0;
  /** Ended blocks kept in memory, in order; none of them written yet. */
  let kept: Buffer[] = [];
  const write = (bytes: Buffer | string) => {
    fd ??= openHeld(path, planPath, 'wx', unwritable);
    if (typeof bytes === 'string') writeSync(fd, bytes);
    else writeSync(fd, bytes);
  };
  const endBlock = () => {
    if (pending.length === 0) return;
    const block = pending.join('');
    pending = [];
    pendingBytes = 0;
    if (!budget || budget.exhausted) return write(block);
    const bytes = Buffer.from(block);
    kept.push(bytes);
    budget.charge(bytes.length);
  };
  budget?.onSpill(() => {
    for (const block of kept) write(block);
    kept = [];
  });
  return {
    append(line) {
      pending.push(`${line}\n`);
      pendingBytes += line.length + 1;
      if (pendingBytes >= 1 << 20) endBlock();
    },
    async *lines() {
      if (fd === undefined) {
        // Never written: the lines are still in memory, read from there (a copy: appends may follow).
        const [blocks, rest] = [[...kept], pending.slice()];
        for (const block of blocks) yield* block.toString('utf8').slice(0, -1).split('\n');
        yield* rest.map((line) => line.slice(0, -1));
        return;
      }
      endBlock();
      const rl = createInterface({ input: createReadStream(path, { encoding: 'utf8', start: 0 }), crlfDelay: Infinity });
      yield* rl;
    },
    remove() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
      pending = [];
      kept = [];
      rmSync(path, { force: true });
    },
  };
}

/** Records appended and read back by place: a file of them, or (`recordsInMemory`) an array. */
export interface WorkRecords {
  append(body: string): number;
  read(place: number): string;
  remove(): void;
}

/** Records in an array: for the library and the tests. */
export function recordsInMemory(): WorkRecords {
  let bodies: string[] = [];
  return {
    append: (body) => bodies.push(body),
    read: (place) => bodies[place - 1] ?? '',
    remove: () => void (bodies = []),
  };
}

/**
 * Records in a private temporary file `path` beside `beside` (created on the first MiB written: a
 * small set touches no disk), removed by `remove()` or when the process exits; `unwritable` names
 * the fix when the folder refuses it.
 */
export function recordsFile(path: string, beside: string, unwritable: Unwritable): WorkRecords {
  const file = new RecordFile(path, beside, unwritable);
  const removeFile = () => file.remove();
  process.once('exit', removeFile);
  return {
    append: (body) => file.append(body, 0),
    read: (place) => file.read(place).body,
    remove() {
      process.off('exit', removeFile);
      file.remove();
    },
  };
}

/** Bytes of records kept in memory before they are written. */
const LOOKUP_BLOCK = 1 << 20;

/**
 * LookupTables in a private temporary file beside the plan (`<plan>.lookup-<pid>`): each value is
 * a record on disk, and each table holds in memory only a hash index to the newest record of each
 * key hash (`HashSlots`, 8 bytes a slot). A lookup that finds no slot reads nothing; one that does
 * reads that hash's records (usually one) and keeps those of its key. `remove()` deletes the file.
 */
export function lookupTablesFile(planPath: string, unwritable: Unwritable = planUnwritable, budget?: MemoryBudget): LookupTables & { remove(): void } {
  const file = new RecordFile(`${planPath}.lookup-${process.pid}`, planPath, unwritable, budget);
  return {
    open<V>(): LookupTable<V> {
      const slots = new HashSlots();
      return {
        add(key, value) {
          const hash = hash32(key);
          slots.set(hash, file.append(JSON.stringify([key, value]), slots.get(hash) ?? 0));
        },
        get(key) {
          const values: V[] = [];
          for (let place = slots.get(hash32(key)) ?? 0; place !== 0; ) {
            const record = file.read(place);
            const [recordKey, value] = JSON.parse(record.body) as [string, V];
            if (recordKey === key) values.push(value);
            place = record.previous;
          }
          return values.reverse();
        },
      };
    },
    remove: () => file.remove(),
  };
}

/**
 * Records appended to a file and read back by place: `[length, previous, body]`, 8-byte aligned,
 * so a place (its offset / 8, plus one: 0 is "none") fits 32 bits up to 32 GiB. Written a block
 * (1 MiB) at a time; a record still in the block is read from it. With a `budget`, ended blocks
 * stay in memory until it is exhausted, and records in them are read from there.
 */
class RecordFile {
  private fd: number | undefined;
  private block = Buffer.alloc(LOOKUP_BLOCK);
  private blockUsed = 0;
  /** Bytes before the block: those written, then those of the blocks kept. */
  private flushed = 0;
  /** Bytes in the file. */
  private written = 0;
  /** Ended blocks kept in memory, in order from `written` on, and where each starts. */
  private kept: Array<{ at: number; bytes: Buffer }> = [];
  private readonly scratch = Buffer.alloc(4096);

  constructor(
    private readonly path: string,
    private readonly planPath: string,
    private readonly unwritable: Unwritable,
    private readonly budget?: MemoryBudget,
  ) {
    budget?.onSpill(() => {
      for (const block of this.kept) this.write(block.bytes);
      this.kept = [];
    });
  }

  append(body: string, previous: number): number {
    const length = Buffer.byteLength(body);
    const size = (8 + length + 7) & ~7;
    if (this.blockUsed + size > this.block.length) this.endBlock();
    if (size > this.block.length) this.block = Buffer.alloc(size);
    const at = this.flushed + this.blockUsed;
    if (at / 8 + 1 >= 2 ** 32) throw new PlanFileError('plan_lookup_full', `the plan's lookup file ${this.path} passed 32 GiB: plan the source in parts (--source s3://bucket/prefix)`);
    this.block.writeUInt32LE(length, this.blockUsed);
    this.block.writeUInt32LE(previous, this.blockUsed + 4);
    this.block.write(body, this.blockUsed + 8, 'utf8');
    this.blockUsed += size;
    return at / 8 + 1;
  }

  read(place: number): { previous: number; body: string } {
    const at = (place - 1) * 8;
    if (at >= this.flushed) return recordAt(this.block, at - this.flushed);
    if (at >= this.written) {
      const block = this.kept[keptBlockOf(this.kept, at)];
      if (block) return recordAt(block.bytes, at - block.at);
    }
    let bytes = this.scratch;
    readSync(this.fd ?? -1, bytes, 0, bytes.length, at);
    const length = bytes.readUInt32LE(0);
    if (8 + length > bytes.length) {
      bytes = Buffer.alloc(8 + length);
      readSync(this.fd ?? -1, bytes, 0, bytes.length, at);
    }
    return { previous: bytes.readUInt32LE(4), body: bytes.toString('utf8', 8, 8 + length) };
  }

  remove(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.kept = [];
    rmSync(this.path, { force: true });
  }

  /** The block is full: kept in memory while the budget lasts, else written. */
  private endBlock(): void {
    if (this.blockUsed === 0) return;
    const bytes = this.block.subarray(0, this.blockUsed);
    const at = this.flushed;
    this.flushed += this.blockUsed;
    this.blockUsed = 0;
    if (!this.budget || this.budget.exhausted) return this.write(bytes);
    this.kept.push({ at, bytes });
    this.block = Buffer.alloc(LOOKUP_BLOCK);
    this.budget.charge(bytes.length);
  }

  private write(bytes: Buffer): void {
    // Opened on the first block written, as the held items' file: by then the plan's own temporary file exists.
    this.fd ??= openHeld(this.path, this.planPath, 'wx+', this.unwritable);
    writeSync(this.fd, bytes, 0, bytes.length, this.written);
    this.written += bytes.length;
  }
}

function recordAt(bytes: Buffer, from: number): { previous: number; body: string } {
  const length = bytes.readUInt32LE(from);
  return { previous: bytes.readUInt32LE(from + 4), body: bytes.toString('utf8', from + 8, from + 8 + length) };
}

/** The kept block that holds offset `at` (the last one starting at or before it). */
function keptBlockOf(kept: ReadonlyArray<{ at: number }>, at: number): number {
  let [low, high] = [0, kept.length - 1];
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if ((kept[middle]?.at ?? 0) <= at) low = middle;
    else high = middle - 1;
  }
  return low;
}
