import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** A file served by the media server: bytes, or a status to answer instead (403 for an expired presigned URL). */
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
    if (!wanted) return void res.writeHead(200, { 'Content-Length': size }).end(slice(0, Math.min(size, 1024 * 1024) - 1));
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
