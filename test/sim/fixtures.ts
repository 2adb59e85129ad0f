import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/**
 * A file served by the media server: bytes; a status to answer instead (403 for an expired presigned
 * URL); or a huge file that exists only as its first bytes and a declared size (served by range only).
 */
export type MediaEntry = { bytes: Buffer } | { status: number } | { size: number; head: Buffer };

export interface MediaServer {
  origin: string;
  /** Absolute URL of `path` (encoded per segment, like a presigned S3 URL). */
  url(path: string): string;
  put(path: string, entry: MediaEntry): void;
  readonly requests: Array<{ path: string; range?: string }>;
  close(): Promise<void>;
}

/** A tiny origin for video bytes, honouring `Range: bytes=a-b` the way S3 does. */
export async function startMediaServer(): Promise<MediaServer> {
  const files = new Map<string, MediaEntry>();
  const requests: MediaServer['requests'] = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://media.invalid').pathname);
    const range = req.headers.range;
    requests.push({ path, ...(range ? { range } : {}) });
    const entry = files.get(path);
    if (!entry) return void res.writeHead(404).end('<Error><Code>NoSuchKey</Code></Error>');
    if ('status' in entry) return void res.writeHead(entry.status).end('<Error><Code>AccessDenied</Code></Error>');
    const size = 'bytes' in entry ? entry.bytes.length : entry.size;
    const slice = (start: number, end: number): Buffer =>
      'bytes' in entry ? entry.bytes.subarray(start, end + 1) : Buffer.concat([entry.head, Buffer.alloc(Math.max(0, end + 1 - entry.head.length))]).subarray(start, end + 1);
    const wanted = /^bytes=(\d+)-(\d*)$/.exec(range ?? '');
    if (!wanted) {
      if (!('bytes' in entry)) return void res.writeHead(400).end('this fake file is served by range only');
      return void res.writeHead(200, { 'Content-Length': size }).end(entry.bytes);
    }
    const start = Number(wanted[1]);
    if (start >= size) return void res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
    const end = Math.min(size - 1, wanted[2] ? Number(wanted[2]) : size - 1);
    res.writeHead(206, { 'Content-Range': `bytes ${start}-${end}/${size}`, 'Content-Length': end - start + 1 });
    res.end(slice(start, end));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    url: (path) => `${origin}/${path.split('/').map(encodeURIComponent).join('/')}?X-Amz-Signature=abc123`,
    put: (path, entry) => void files.set(`/${path}`, entry),
    requests,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** The first bytes of an MP4 (an `ftyp` box) followed by filler: enough for the 'basic' probe. */
export function fakeMp4(size = 4096): Buffer {
  const bytes = Buffer.alloc(size);
  bytes.writeUInt32BE(24, 0);
  bytes.write('ftypisom', 4, 'latin1');
  return bytes;
}

/** True when `name -version` runs (ffmpeg, ffprobe). */
export async function hasBinary(name: string): Promise<boolean> {
  try {
    await execFileAsync(name, ['-version']);
    return true;
  } catch {
    return false;
  }
}

/** Generates a small H.264 test video with ffmpeg's testsrc. */
export async function makeVideo(file: string, opts: { width: number; height: number; seconds: number }): Promise<void> {
  await execFileAsync('ffmpeg', [
    '-v', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc=size=${opts.width}x${opts.height}:rate=10:duration=${opts.seconds}`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p',
    file,
  ]);
}

export interface ApiCall {
  query?: Record<string, string | string[]> | string;
  form?: Record<string, string | { bytes: Buffer; filename: string }>;
  json?: unknown;
  /** Overrides the x-api-key header; null sends none. */
  key?: string | null;
  signal?: AbortSignal;
}

export interface ApiAnswer {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read wire JSON freely
  body: any;
}

/** A raw HTTP call to the simulator, for asserting the wire format itself. */
export async function callApi(sim: { url: string; apiKey: string }, method: string, path: string, opts: ApiCall = {}): Promise<ApiAnswer> {
  const query = opts.query === undefined ? '' : `?${typeof opts.query === 'string' ? opts.query : toSearch(opts.query)}`;
  const headers: Record<string, string> = {};
  const key = opts.key === undefined ? sim.apiKey : opts.key;
  if (key !== null) headers['x-api-key'] = key;
  let body: FormData | string | undefined;
  if (opts.form) {
    const form = new FormData();
    for (const [name, value] of Object.entries(opts.form)) {
      if (typeof value === 'string') form.append(name, value);
      else form.append(name, new Blob([value.bytes]), value.filename);
    }
    body = form;
  } else if (opts.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.json);
  }
  const response = await fetch(`${sim.url}${path}${query}`, { method, headers, ...(body !== undefined ? { body } : {}), ...(opts.signal ? { signal: opts.signal } : {}) });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text.length > 0 ? JSON.parse(text) : undefined;
  } catch {
    // not JSON (an HTML gateway page): keep the text
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

function toSearch(query: Record<string, string | string[]>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    for (const v of Array.isArray(value) ? value : [value]) search.append(name, v);
  }
  return search.toString();
}
