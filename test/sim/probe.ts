import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TaskFailure, TaskSource, VideoMeta } from './model.js';
import { checkVideo, fileBroken, fileTooLarge, looksLikeVideo } from './validate.js';
import type { VideoLimits } from './validate.js';

const execFileAsync = promisify(execFile);
const HEAD_BYTES = 64 * 1024;
const FETCH_TIMEOUT_MS = 30_000;
const FFPROBE_TIMEOUT_MS = 60_000;

export type ProbeMode = 'basic' | 'ffprobe';

/** What a test may declare about a video in 'basic' mode (or without fetching), to reach any outcome. */
export type DescribeVideo = (source: { url?: string; filename: string; size: number }) => Partial<Omit<VideoMeta, 'filename'>> | undefined;

export interface ProbeOptions {
  mode: ProbeMode;
  fetchVideo: boolean;
  limits: VideoLimits;
  defaults: Omit<VideoMeta, 'filename'>;
  describeVideo?: DescribeVideo;
  ffprobePath: string;
  signal: AbortSignal;
}

export type ProbeOutcome = { ok: true; meta: VideoMeta } | { ok: false; failure: TaskFailure };

/** Reads a task's video the way the platform does while validating, and decides its fate. */
export async function probeSource(source: TaskSource, filename: string, opts: ProbeOptions): Promise<ProbeOutcome> {
  const read = await readSource(source, filename, opts);
  return read.ok ? judge(read.meta, opts.limits) : read;
}

/**
 * Reads a file and measures it (size, then duration and resolution), without judging it against the
 * video requirements: what asset processing does. `tooLarge` replaces the /tasks size limit.
 */
export async function readSource(
  source: TaskSource,
  filename: string,
  opts: ProbeOptions,
  tooLarge: (size: number) => TaskFailure | undefined = (size) => fileTooLarge(size, opts.limits),
): Promise<ProbeOutcome> {
  if (source.kind === 'seed') return { ok: true, meta: { ...opts.defaults, filename } };
  if (source.kind === 'url' && !opts.fetchVideo) {
    const described = opts.describeVideo?.({ url: source.url, filename, size: opts.defaults.size }) ?? {};
    const meta = { ...opts.defaults, ...described, filename };
    const failure = tooLarge(meta.size);
    return failure ? { ok: false, failure } : { ok: true, meta };
  }

  let size: number;
  let head: Buffer;
  if (source.kind === 'file') {
    size = source.bytes.length;
    head = source.bytes.subarray(0, HEAD_BYTES);
  } else {
    const fetched = await fetchHead(source.url, opts.signal);
    if (!fetched.ok) return { ok: false, failure: fetched.failure };
    ({ size, head } = fetched);
  }

  const failure = tooLarge(size);
  if (failure) return { ok: false, failure };
  if (size === 0) return { ok: false, failure: fileBroken('the file is empty') };

  if (opts.mode === 'basic') {
    if (!looksLikeVideo(head)) return { ok: false, failure: fileBroken() };
    const described = opts.describeVideo?.({ url: source.kind === 'url' ? source.url : undefined, filename, size }) ?? {};
    return { ok: true, meta: { ...opts.defaults, ...described, filename, size } };
  }

  const probed = source.kind === 'url'
    ? await ffprobe(opts.ffprobePath, source.url, opts.signal)
    : await ffprobeBytes(opts.ffprobePath, source.bytes, opts.signal);
  if (!probed.ok) return probed;
  return { ok: true, meta: { ...probed.meta, filename, size } };
}

function judge(meta: VideoMeta, limits: VideoLimits): ProbeOutcome {
  const failure = fileTooLarge(meta.size, limits) ?? checkVideo(meta, limits);
  return failure ? { ok: false, failure } : { ok: true, meta };
}

type Fetched = { ok: true; size: number; head: Buffer } | { ok: false; failure: TaskFailure };

/** A ranged GET of the first bytes; the total size comes from Content-Range (or Content-Length on a 200). */
async function fetchHead(url: string, signal: AbortSignal): Promise<Fetched> {
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { Range: `bytes=0-${HEAD_BYTES - 1}` },
      signal: AbortSignal.any([signal, AbortSignal.timeout(FETCH_TIMEOUT_MS)]),
    });
  } catch (error) {
    return { ok: false, failure: fileBroken(`the video URL could not be fetched: ${(error as Error).message}`) };
  }
  const total = /\/(\d+)\s*$/.exec(response.headers.get('content-range') ?? '')?.[1];
  if (response.status === 416) {
    await response.body?.cancel();
    return total === '0' ? { ok: true, size: 0, head: Buffer.alloc(0) } : { ok: false, failure: fileBroken('HTTP 416') };
  }
  if (!response.ok) {
    await response.body?.cancel();
    return { ok: false, failure: fileBroken(`fetching the video URL answered HTTP ${response.status}`) };
  }
  const declared = response.status === 206 ? total : (response.headers.get('content-length') ?? undefined);
  try {
    const { head, bytesRead } = await readHead(response, declared === undefined);
    return { ok: true, size: declared === undefined ? bytesRead : Number(declared), head };
  } catch (error) {
    return { ok: false, failure: fileBroken(`reading the video URL failed: ${(error as Error).message}`) };
  }
}

/** Reads the first HEAD_BYTES, then stops, unless the size is unknown and the whole body must be counted. */
async function readHead(response: Response, countAll: boolean): Promise<{ head: Buffer; bytesRead: number }> {
  const chunks: Buffer[] = [];
  let bytesRead = 0;
  if (!response.body) return { head: Buffer.alloc(0), bytesRead };
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (bytesRead < HEAD_BYTES) chunks.push(Buffer.from(value));
    bytesRead += value.byteLength;
    if (bytesRead >= HEAD_BYTES && !countAll) {
      await reader.cancel();
      break;
    }
  }
  return { head: Buffer.concat(chunks).subarray(0, HEAD_BYTES), bytesRead };
}

type Probed = { ok: true; meta: Omit<VideoMeta, 'filename' | 'size'> } | { ok: false; failure: TaskFailure };

interface FfprobeOutput {
  format?: { duration?: string };
  streams?: Array<{ codec_type?: string; width?: number; height?: number; avg_frame_rate?: string; r_frame_rate?: string; duration?: string }>;
}

/** Runs ffprobe on a URL or a file path; an argument array, never a shell. */
export async function ffprobe(ffprobePath: string, target: string, signal: AbortSignal): Promise<Probed> {
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync(
      ffprobePath,
      ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', target],
      // A signal per child: execFile adds an abort listener to the one it is given, and the simulator's shared one would collect one per video read at once.
      { signal: AbortSignal.any([signal]), timeout: FFPROBE_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 },
    ));
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    return { ok: false, failure: fileBroken(stderr ? `ffprobe: ${stderr.split('\n')[0]}` : 'ffprobe failed') };
  }
  const output = JSON.parse(stdout) as FfprobeOutput;
  const video = output.streams?.find((s) => s.codec_type === 'video');
  const duration = Number(output.format?.duration ?? video?.duration);
  if (!video?.width || !video.height || !Number.isFinite(duration)) {
    return { ok: false, failure: fileBroken('no readable video stream') };
  }
  const fps = frameRate(video.avg_frame_rate) ?? frameRate(video.r_frame_rate) ?? 0;
  return { ok: true, meta: { duration, width: video.width, height: video.height, fps } };
}

async function ffprobeBytes(ffprobePath: string, bytes: Buffer, signal: AbortSignal): Promise<Probed> {
  const dir = await mkdtemp(join(tmpdir(), 'tlsim-'));
  try {
    const file = join(dir, 'upload');
    await writeFile(file, bytes);
    return await ffprobe(ffprobePath, file, signal);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function frameRate(ratio: string | undefined): number | undefined {
  const [num, den] = (ratio ?? '').split('/').map(Number);
  if (num === undefined || den === undefined || !num || !den) return undefined;
  return Math.round((num / den) * 1000) / 1000;
}
