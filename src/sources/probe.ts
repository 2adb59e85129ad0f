import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname } from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { SourceError, redactUrls, errnoCode } from '../errors.js';
import type { ProbeResult } from '../planner/index.js';
import { guardSilence } from './silence.js';

export interface ProbeOptions {
  ffprobePath?: string | undefined;
  timeoutMs?: number | undefined;
  /** `--s3-request-timeout`: S3 silent that long during a read fails the plan (not the video). */
  readTimeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * Probes one object without putting its presigned URL where other local users can read it:
 * ffprobe's command line (and `ps`) shows a loopback URL with a random path, served by a relay
 * inside tlmigrate that forwards ffprobe's Range reads to S3 and closes after the probe. An S3
 * that times out or cannot be reached fails the plan; an HTTP error reaches ffprobe (the video fails).
 */
export async function probeObject(presignedUrl: string, key: string, options: ProbeOptions = {}): Promise<ProbeResult> {
  const relay = await startRelay(presignedUrl, key, options.readTimeoutMs ?? 30_000);
  try {
    const result = await ffprobeUrl(relay.url, options);
    const failure = relay.failure();
    if (failure) throw failure;
    return result;
  } finally {
    await relay.close();
  }
}

/**
 * Runs ffprobe on a URL: Range reads of a few dozen KB, argument array, no shell, no inherited
 * environment (it holds the API key and AWS secrets). Errors are returned, not thrown, and never
 * carry the URL; an abort rejects with the signal's reason.
 */
export function ffprobeUrl(url: string, options: ProbeOptions = {}): Promise<ProbeResult> {
  // http only: a hostile file (an HLS playlist, say) cannot make ffprobe open local files.
  const args = ['-v', 'error', '-protocol_whitelist', 'http,tcp', '-probesize', '5000000', '-analyzeduration', '0', '-print_format', 'json', '-show_format', '-show_streams', url];
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  return new Promise((resolve, reject) => {
    // A signal per child: execFile adds an abort listener to the one it is given, and the plan's stop signal would collect one per probe at once.
    execFile(options.ffprobePath ?? 'ffprobe', args, { timeout: options.timeoutMs ?? 60_000, maxBuffer: 8 << 20, env, ...(options.signal ? { signal: AbortSignal.any([options.signal]) } : {}) }, (error, stdout, stderr) => {
      if (options.signal?.aborted) {
        reject(options.signal.reason);
        return;
      }
      if (error) {
        const code = errnoCode(error);
        if (code === 'ENOENT') {
          resolve({ error: 'ffprobe is not installed (apt-get install ffmpeg)' });
          return;
        }
        const last = String(stderr).trim().split('\n').pop() ?? '';
        const line = redactUrls(last.split(url).join('').replace(/^:\s*/, '')) || `ffprobe exited with ${String(error.code ?? error.signal)}`;
        resolve({ error: line });
        return;
      }
      resolve(parseFfprobe(stdout));
    });
  });
}

interface Relay {
  url: string;
  failure(): SourceError | undefined;
  close(): Promise<void>;
}

/** A one-object HTTP relay on 127.0.0.1, port 0, answering only its random path. */
async function startRelay(upstream: string, key: string, timeoutMs: number): Promise<Relay> {
  const ext = /^\.[A-Za-z0-9]{1,8}$/.test(extname(key)) ? extname(key) : '';
  const path = `/${randomBytes(18).toString('base64url')}/video${ext}`;
  let failure: SourceError | undefined;
  const fail = (error: SourceError) => (failure ??= error);
  const server = createServer((req, res) => {
    if (req.url !== path || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404).end();
      return;
    }
    void relayRead(req, res, upstream, timeoutMs, key, fail);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    failure: () => failure,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Forwards one read: its Range header out, status, length and range headers back. Redirects are not followed. */
async function relayRead(req: IncomingMessage, res: ServerResponse, upstream: string, timeoutMs: number, key: string, fail: (error: SourceError) => void): Promise<void> {
  const gone = new AbortController();
  res.on('close', () => gone.abort());
  const what = `a read of ${key}`;
  // A deadline for the answer's headers; the body is then guarded against silence alone.
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), timeoutMs);
  let answer: Response;
  try {
    answer = await fetch(upstream, { method: req.method, headers: req.headers.range ? { range: req.headers.range } : {}, redirect: 'manual', signal: AbortSignal.any([gone.signal, deadline.signal]) });
  } catch (cause) {
    if (!gone.signal.aborted) fail(readFailure(deadline.signal.aborted, timeoutMs, what, cause));
    res.destroy();
    return;
  } finally {
    clearTimeout(timer);
  }
  if (answer.status >= 300 && answer.status < 400) {
    fail(new SourceError('s3_redirect', `S3 answered ${what} with a redirect (${answer.status}), which tlmigrate does not follow: check --s3-endpoint / --s3-region`));
    res.writeHead(502).end();
    return;
  }
  const headers: Record<string, string> = {};
  for (const name of ['content-type', 'content-length', 'content-range', 'accept-ranges']) {
    const value = answer.headers.get(name);
    if (value !== null) headers[name] = value;
  }
  res.writeHead(answer.status, headers);
  if (!answer.body || req.method === 'HEAD') {
    res.end();
    return;
  }
  const body = guardSilence(Readable.fromWeb(answer.body as WebReadableStream), timeoutMs, () => readFailure(true, timeoutMs, what));
  body.on('error', (error) => {
    if (!gone.signal.aborted && error instanceof SourceError) fail(error);
    res.destroy();
  });
  body.pipe(res);
}

function readFailure(timedOut: boolean, timeoutMs: number, what: string, cause?: unknown): SourceError {
  if (timedOut) return new SourceError('s3_timeout', `S3 did not answer within ${timeoutMs / 1000} s for ${what} (ffprobe): check --s3-endpoint / AWS_ENDPOINT_URL_S3 and the network, or raise --s3-request-timeout`, { cause });
  return new SourceError('endpoint_unreachable', `cannot reach S3 for ${what} (ffprobe): check --s3-endpoint / AWS_ENDPOINT_URL_S3 and the network`, { cause });
}

/** Reads duration and display dimensions (rotation swaps them) from ffprobe's JSON. */
export function parseFfprobe(json: string): ProbeResult {
  try {
    const data = JSON.parse(json) as {
      format?: { duration?: string };
      streams?: Array<{ codec_type?: string; width?: number; height?: number; duration?: string; tags?: { rotate?: string }; side_data_list?: Array<{ rotation?: number }> }>;
    };
    const video = data.streams?.find((s) => s.codec_type === 'video');
    const duration = Number(data.format?.duration ?? video?.duration);
    if (!video) return { durationSeconds: Number.isFinite(duration) ? duration : undefined, error: 'no video stream' };
    const rotation = Math.abs(Number(video.tags?.rotate ?? video.side_data_list?.find((d) => d.rotation !== undefined)?.rotation ?? 0)) % 180;
    const [width, height] = rotation === 90 ? [video.height, video.width] : [video.width, video.height];
    return { durationSeconds: Number.isFinite(duration) ? duration : undefined, width, height };
  } catch {
    return { error: 'ffprobe printed no JSON' };
  }
}
