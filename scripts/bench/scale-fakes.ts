/**
 * In-process fakes for `npm run bench:scale`: a bucket of N synthetic objects (listed, HEADed and
 * presigned by arithmetic, nothing stored) and a Twelve Labs tasks API at full speed that appends
 * every created task to a log file before it answers, so a process started after a SIGKILL sees
 * exactly the tasks the killed one could have seen. Lookups are indexed (by id arithmetic and a
 * file-name map built on first use): the fake stays O(1) per call at millions of tasks.
 */
import { closeSync, createWriteStream, existsSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { ApiError } from '../../src/errors.js';
import type { ExecutorApi, ExecutorSource } from '../../src/executor/types.js';
import type { ListOptions, SourceLister, SourceObject } from '../../src/sources/types.js';
import type { CreatedTask, CreateTaskRequest, IndexedAsset, IndexedVideo, ListTasksQuery, ListVideosQuery, Page, Task, UserMetadata } from '../../src/twelvelabs/types.js';

export const SCALE_BUCKET = 'scale-bench';
export const PREFIXES = 100;
const DIGITS = 8;
const LAST_MODIFIED = '2026-01-01T00:00:00.000Z';

/** `p042/clip-00000142.mp4`: unique basenames, 100 prefixes, fixed width so that key order is numeric within a prefix. */
export function scaleKey(i: number): string {
  return `p${String(i % PREFIXES).padStart(3, '0')}/clip-${String(i).padStart(DIGITS, '0')}.mp4`;
}

export function scaleObject(i: number): SourceObject {
  // Distinct sizes and ETags: no two objects share content, so the planner uploads every one.
  return { key: scaleKey(i), size: 5_000_000 + i, etag: i.toString(16).padStart(32, '0'), lastModified: LAST_MODIFIED };
}

function indexOfKey(key: string): number | undefined {
  const m = /clip-(\d+)\.mp4$/.exec(key);
  return m ? Number(m[1]) : undefined;
}

/** A bucket of `n` objects listed in S3's key order, a page of 1,000 at a time. */
export class ScaleSource implements SourceLister, ExecutorSource {
  constructor(private readonly n: number) {}

  async *list(_options: ListOptions): AsyncIterable<SourceObject> {
    let page: SourceObject[] = [];
    for (let p = 0; p < PREFIXES; p++) {
      for (let i = p; i < this.n; i += PREFIXES) {
        page.push(scaleObject(i));
        if (page.length === 1000) {
          await new Promise<void>((r) => setImmediate(r));
          yield* page;
          page = [];
        }
      }
    }
    yield* page;
  }

  async head(key: string): Promise<SourceObject | undefined> {
    const i = indexOfKey(key);
    return i !== undefined && i < this.n && scaleKey(i) === key ? scaleObject(i) : undefined;
  }

  async presignGet(key: string, expiresInSeconds: number): Promise<string> {
    return `https://s3.scale.test/${SCALE_BUCKET}/${key}?X-Amz-Expires=${expiresInSeconds}&X-Amz-Signature=fake`;
  }
}

/** One line of the task log. */
interface TaskLine {
  f: string;
  c: string;
  m: UserMetadata;
}

const notFound = (what: string, path: string) => new ApiError({ status: 404, code: 'resource_not_exist', message: `no such ${what}`, method: 'GET', path });

/**
 * The tasks path of the API. Every task stays `validating` (in flight) and no video becomes ready:
 * a run sends and ends, as with `apply` without `--wait`. Task N has id N in hex, video id `v` + id.
 */
export class ScaleApi implements ExecutorApi {
  private readonly fd: number;
  private count: number;
  private readonly line = Buffer.alloc(LOG_LINE);
  creates = 0;

  /**
   * The log holds every task, one fixed-width line each, read at a lookup by its place (a listing,
   * a GET) or scanned (a search by file name): the fake holds nothing per task, so the apply's
   * peak RSS is tlmigrate's, not the fake's, whatever the number of tasks.
   */
  constructor(private readonly logPath: string) {
    this.fd = openSync(logPath, 'a+');
    this.count = Math.floor(fstatSync(this.fd).size / LOG_LINE);
  }

  close(): void {
    closeSync(this.fd);
  }

  async createTask(request: CreateTaskRequest): Promise<CreatedTask> {
    const filename = decodeURIComponent(new URL(request.videoUrl).pathname.split('/').pop() ?? '');
    const line: TaskLine = { f: filename, c: new Date().toISOString(), m: request.userMetadata };
    // Written (synchronously) before the answer: a kill after this line leaves a task the state may not know of.
    writeSync(this.fd, logLine(line));
    this.count += 1;
    this.creates += 1;
    const id = taskId(this.count - 1);
    return { taskId: id, videoId: `v${id.slice(1)}` };
  }

  async listTasks(query: ListTasksQuery): Promise<Page<Task>> {
    const page = query.page ?? 1;
    const limit = query.pageLimit ?? 10;
    const inFlight = !query.status || query.status.includes('validating');
    let positions: number[] | undefined;
    if (!inFlight) positions = [];
    else if (query.filename !== undefined || query.createdAt !== undefined) positions = this.scan((line) => (query.filename === undefined || line.f === query.filename) && (!query.createdAt || line.c >= query.createdAt));
    const total = positions ? positions.length : this.count;
    const from = (page - 1) * limit;
    const slice = positions ? positions.slice(from, from + limit) : Array.from({ length: Math.max(0, Math.min(limit, total - from)) }, (_, k) => from + k);
    const data = slice.map((n) => this.task(n));
    return { data, page_info: { page, limit_per_page: limit, total_page: Math.max(1, Math.ceil(total / limit)), total_results: total } };
  }

  async getTask(id: string): Promise<Task> {
    const n = Number.parseInt(id, 16) - 1;
    if (!(n >= 0 && n < this.count)) throw notFound('task', '/tasks');
    return this.task(n);
  }

  async listVideos(): Promise<Page<IndexedVideo>> {
    return { data: [], page_info: { page: 1, limit_per_page: 50, total_page: 1, total_results: 0 } };
  }

  async getVideo(_indexId: string, videoId: string): Promise<IndexedVideo> {
    const n = Number.parseInt(videoId.slice(1), 16) - 1;
    if (!(n >= 0 && n < this.count)) throw notFound('video', '/indexes/videos');
    const line = this.read(n);
    return { _id: videoId, system_metadata: { filename: line.f }, user_metadata: line.m };
  }

  private task(n: number): Task {
    const line = this.read(n);
    const id = taskId(n);
    return { _id: id, video_id: `v${id.slice(1)}`, status: 'validating', created_at: line.c, system_metadata: { filename: line.f } };
  }

  private read(n: number): TaskLine {
    readSync(this.fd, this.line, 0, LOG_LINE, n * LOG_LINE);
    return JSON.parse(this.line.toString('utf8')) as TaskLine;
  }

  /** Places of the tasks whose line passes `test`, in log order. */
  private scan(test: (line: TaskLine) => boolean): number[] {
    const found: number[] = [];
    let n = 0;
    for (const { line } of readTaskLog(this.logPath)) {
      if (test(line)) found.push(n);
      n += 1;
    }
    return found;
  }
}

/** Bytes of one line of the task log: JSON padded with spaces, then a newline. */
const LOG_LINE = 512;

function logLine(line: TaskLine): string {
  const text = JSON.stringify(line);
  const bytes = Buffer.byteLength(text);
  if (bytes >= LOG_LINE) throw new Error(`scale fake: a task's line is over ${LOG_LINE} bytes: ${text.slice(0, 80)}...`);
  return `${text}${' '.repeat(LOG_LINE - 1 - bytes)}\n`;
}

function taskId(n: number): string {
  return (n + 1).toString(16).padStart(24, '0');
}

/** The task log's lines from byte `from` on, each with the offset just past it; read 8 MiB at a time (3M tasks are about a GB). */
export function* readTaskLog(path: string, from = 0): Generator<{ line: TaskLine; end: number }> {
  if (!existsSync(path)) return;
  const fd = openSync(path, 'r');
  try {
    const chunk = Buffer.alloc(8 << 20);
    let offset = from;
    let rest = Buffer.alloc(0);
    for (;;) {
      const read = readSync(fd, chunk, 0, chunk.length, offset + rest.length);
      if (read === 0) break;
      const data = Buffer.concat([rest, chunk.subarray(0, read)]);
      let start = 0;
      for (let nl = data.indexOf(10); nl !== -1; nl = data.indexOf(10, start)) {
        const text = data.subarray(start, nl).toString('utf8');
        start = nl + 1;
        if (text) yield { line: JSON.parse(text) as TaskLine, end: offset + start };
      }
      offset += start;
      rest = Buffer.from(data.subarray(start));
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Which objects the synthetic index and ledger of a plan hold, as shares of N in hundredths:
 * object i is indexed when `i % 100 < videos`; of those, the even ones carry tlmigrate's
 * fingerprint (and the marker) and the odd ones are legacy videos (file name and size only);
 * the ledger records the fingerprinted ones with `i % 100 < ledger` as ready with their video.
 */
export interface ScaleIndexShape {
  n: number;
  /** Hundredths of the objects that are in the index. */
  videos: number;
  /** Hundredths of the objects the state's ledger records (fingerprinted ones only). */
  ledger: number;
}

function videoIdOf(i: number): string {
  return `v${i.toString(16).padStart(23, '0')}`;
}

function fingerprinted(i: number): boolean {
  return i % 2 === 0;
}

/** The i of the j-th object (in key-number order) of those with `i % 100 < per` and, with `evenOnly`, even. */
function nthOf(j: number, per: number, evenOnly: boolean): number {
  const inHundred = evenOnly ? Math.ceil(per / 2) : per;
  const within = j % inHundred;
  return Math.floor(j / inHundred) * 100 + (evenOnly ? 2 * within : within);
}

function countOf(n: number, per: number, evenOnly: boolean): number {
  const inHundred = evenOnly ? Math.ceil(per / 2) : per;
  const rest = Math.min(n % 100, per);
  return Math.floor(n / 100) * inHundred + (evenOnly ? Math.ceil(rest / 2) : rest);
}

/** A video of the synthetic index: the listing carries the fingerprinted ones' user_metadata (as a server may). */
function scaleVideo(i: number): IndexedVideo {
  const object = scaleObject(i);
  const video: IndexedVideo = { _id: videoIdOf(i), created_at: LAST_MODIFIED, system_metadata: { filename: object.key.slice(object.key.lastIndexOf('/') + 1), size: object.size } };
  if (fingerprinted(i)) video.user_metadata = { tlm_tool: 'tlmigrate', tlm_source: `s3://${SCALE_BUCKET}/${object.key}`, tlm_etag: object.etag, tlm_size: object.size };
  return video;
}

/** The read side of an index holding `shape`'s videos and their ready tasks, paged as the API pages them; no tasks in flight. */
export class ScaleIndex {
  constructor(private readonly shape: ScaleIndexShape) {}

  async listVideos(_indexId: string, query: ListVideosQuery = {}): Promise<Page<IndexedVideo>> {
    const page = query.page ?? 1;
    const limit = query.pageLimit ?? 10;
    const marked = query.userMetadata !== undefined;
    const total = countOf(this.shape.n, this.shape.videos, marked);
    const data: IndexedVideo[] = [];
    for (let j = (page - 1) * limit; j < Math.min(total, page * limit); j++) data.push(scaleVideo(nthOf(j, this.shape.videos, marked)));
    await new Promise<void>((r) => setImmediate(r));
    return { data, page_info: { page, limit_per_page: limit, total_page: Math.max(1, Math.ceil(total / limit)), total_results: total } };
  }

  async getVideo(_indexId: string, videoId: string): Promise<IndexedVideo> {
    const i = Number.parseInt(videoId.slice(1), 16);
    if (!(i < this.shape.n && i % 100 < this.shape.videos)) throw notFound('video', '/indexes/videos');
    return scaleVideo(i);
  }

  /** The ready task of each video (none in flight, none failed): a listing by status other than ready is empty. */
  async listTasks(query: ListTasksQuery = {}): Promise<Page<Task>> {
    const page = query.page ?? 1;
    const limit = query.pageLimit ?? 10;
    const total = query.status && !query.status.includes('ready') ? 0 : countOf(this.shape.n, this.shape.videos, false);
    const data: Task[] = [];
    for (let j = (page - 1) * limit; j < Math.min(total, page * limit); j++) {
      const i = nthOf(j, this.shape.videos, false);
      data.push({ _id: `t${i.toString(16).padStart(23, '0')}`, video_id: videoIdOf(i), status: 'ready', created_at: LAST_MODIFIED });
    }
    await new Promise<void>((r) => setImmediate(r));
    return { data, page_info: { page, limit_per_page: limit, total_page: Math.max(1, Math.ceil(total / limit)), total_results: total } };
  }

  /** bench:scale runs dedupe as a dry run: nothing is ever deleted. */
  async deleteVideo(): Promise<void> {
    throw new Error('ScaleIndex: dedupe runs as a dry run in bench:scale');
  }

  async deleteTask(): Promise<void> {
    throw new Error('ScaleIndex: dedupe runs as a dry run in bench:scale');
  }

  async listIndexedAssets(): Promise<Page<IndexedAsset>> {
    return { data: [], page_info: { page: 1, limit_per_page: 50, total_page: 1, total_results: 0 } };
  }
}

/** Writes a state file (the layout `stateText` writes) whose items are the ledger of `shape`, a line at a time. */
export async function writeScaleLedger(path: string, shape: ScaleIndexShape, indexId: string): Promise<number> {
  const out = createWriteStream(path, { mode: 0o600 });
  const now = LAST_MODIFIED;
  const head = JSON.stringify({ version: 1, tool: 'tlmigrate bench:scale', source: { uri: `s3://${SCALE_BUCKET}`, bucket: SCALE_BUCKET, prefix: '' }, indexId, indexName: 'scale', createdAt: now, updatedAt: now, runs: [], history: [] });
  const write = (text: string) => (out.write(text) ? Promise.resolve() : new Promise<void>((r) => out.once('drain', () => r())));
  await write(`${head.slice(0, -1)},"items":{\n`);
  const count = countOf(shape.n, shape.ledger, true);
  for (let j = 0; j < count; j++) {
    const i = nthOf(j, shape.ledger, true);
    const object = scaleObject(i);
    const item = { key: object.key, size: object.size, etag: object.etag, status: 'ready', taskId: `t${i.toString(16).padStart(23, '0')}`, videoId: videoIdOf(i), attempts: 1, updatedAt: now, runId: 'scale' };
    await write(`${j === 0 ? '' : ',\n'}${JSON.stringify(`s3://${SCALE_BUCKET}/${object.key}`)}:${JSON.stringify(item)}`);
  }
  await write(`${count === 0 ? '' : '\n'}}}\n`);
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
  return count;
}
