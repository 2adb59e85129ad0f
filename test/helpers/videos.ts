import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';

export type VideoKind =
  | 'valid'
  | 'valid_long'
  | 'too_short'
  | 'low_res'
  | 'bad_aspect'
  | 'portrait'
  | 'no_audio'
  | 'mov'
  | 'webm'
  | 'truncated'
  | 'random_bytes';

/** What a fixture is, and what ffprobe reports for it (`probe: undefined`: ffprobe fails). */
export type VideoFixtureSpec = {
  ext: '.mp4' | '.mov' | '.webm';
  contentType: string;
  probe: { width: number; height: number; durationSec: number; hasAudio: boolean } | undefined;
};

type Encoding = {
  width: number;
  height: number;
  durationSec: number;
  /** Distinct per kind so that no two kinds share bytes. */
  pattern: 'testsrc' | 'smptebars' | 'rgbtestsrc';
  sineHz: number | undefined;
  container: 'mp4' | 'mov' | 'webm';
};

const ENCODINGS: Partial<Record<VideoKind, Encoding>> = {
  valid: { width: 640, height: 360, durationSec: 5, pattern: 'testsrc', sineHz: 440, container: 'mp4' },
  valid_long: { width: 640, height: 360, durationSec: 12, pattern: 'testsrc', sineHz: 494, container: 'mp4' },
  too_short: { width: 640, height: 360, durationSec: 2, pattern: 'testsrc', sineHz: 523, container: 'mp4' },
  low_res: { width: 320, height: 180, durationSec: 5, pattern: 'testsrc', sineHz: 587, container: 'mp4' },
  bad_aspect: { width: 1200, height: 360, durationSec: 5, pattern: 'testsrc', sineHz: 659, container: 'mp4' },
  portrait: { width: 360, height: 640, durationSec: 5, pattern: 'smptebars', sineHz: 698, container: 'mp4' },
  no_audio: { width: 640, height: 360, durationSec: 5, pattern: 'rgbtestsrc', sineHz: undefined, container: 'mp4' },
  mov: { width: 640, height: 360, durationSec: 5, pattern: 'testsrc', sineHz: 784, container: 'mov' },
  webm: { width: 640, height: 360, durationSec: 5, pattern: 'testsrc', sineHz: 880, container: 'webm' },
};

export const VIDEO_KINDS: readonly VideoKind[] = [
  'valid', 'valid_long', 'too_short', 'low_res', 'bad_aspect', 'portrait',
  'no_audio', 'mov', 'webm', 'truncated', 'random_bytes',
];

/** The expected container and ffprobe reading of each fixture kind. */
export function videoFixtureSpec(kind: VideoKind): VideoFixtureSpec {
  const enc = ENCODINGS[kind];
  if (enc === undefined) return { ext: '.mp4', contentType: 'video/mp4', probe: undefined };
  return {
    ext: `.${enc.container}`,
    contentType: { mp4: 'video/mp4', mov: 'video/quicktime', webm: 'video/webm' }[enc.container],
    probe: { width: enc.width, height: enc.height, durationSec: enc.durationSec, hasAudio: enc.sineHz !== undefined },
  };
}

let cacheDir: string | undefined;

/**
 * Vitest ends its workers without an 'exit' event, so under vitest the folder goes inside the
 * run's folder that test/global-setup.ts removes; elsewhere (the demo) it goes at exit.
 */
function fixtureDir(): string {
  if (cacheDir === undefined) {
    const runDir = process.env['TLM_TEST_TMPDIR'];
    const dir = mkdtempSync(join(runDir ?? tmpdir(), 'tlm-videos-'));
    cacheDir = dir;
    if (runDir === undefined) process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return cacheDir;
}

const generated = new Map<string, Promise<string>>();

function once(name: string, make: (path: string) => Promise<void>): Promise<string> {
  let file = generated.get(name);
  if (file === undefined) {
    const path = join(fixtureDir(), name);
    file = make(path).then(() => path);
    generated.set(name, file);
    // A failed generation (say ffmpeg missing) should not be cached for the next caller.
    file.catch(() => generated.delete(name));
  }
  return file;
}

/** Path of the fixture file of `kind`, generated on first use and cached for this process. */
export function videoFixturePath(kind: VideoKind): Promise<string> {
  const spec = videoFixtureSpec(kind);
  return once(`${kind}${spec.ext}`, async (path) => {
    const enc = ENCODINGS[kind];
    if (enc !== undefined) return encode(enc, path);
    if (kind === 'truncated') {
      const valid = await readFile(await videoFixturePath('valid'));
      // The moov box sits at the end (no faststart), so the first 30% has none: unreadable.
      return writeFile(path, valid.subarray(0, Math.floor(valid.length * 0.3)));
    }
    return writeFile(path, pseudoRandomBytes('random_bytes', 64 * 1024));
  });
}

/** Bytes of the fixture of `kind`. */
export async function videoFixture(kind: VideoKind): Promise<Buffer> {
  return readFile(await videoFixturePath(kind));
}

/**
 * A valid 640x360 5 s MP4 whose bytes differ per seed: `valid` plus a trailing top-level 'free'
 * box naming the seed. Players and ffprobe skip 'free' boxes, and it costs no encoding.
 */
export async function uniqueValidVideo(seed: number): Promise<Buffer> {
  return readFile(await uniqueValidVideoPath(seed));
}

/** Path of `uniqueValidVideo(seed)`. */
export function uniqueValidVideoPath(seed: number): Promise<string> {
  return once(`unique-${seed}.mp4`, async (path) => {
    const valid = await readFile(await videoFixturePath('valid'));
    const payload = Buffer.from(`tlmigrate test video seed ${seed}`);
    const header = Buffer.alloc(8);
    header.writeUInt32BE(8 + payload.length, 0);
    header.write('free', 4, 'latin1');
    await writeFile(path, Buffer.concat([valid, header, payload]));
  });
}

export type ProbeResult = { width: number; height: number; durationSec: number; hasAudio: boolean; formatName: string };

/** Reads a file or URL with ffprobe; rejects when ffprobe cannot read it. */
export async function probeVideo(pathOrUrl: string): Promise<ProbeResult> {
  const out = await ffmpegTool('ffprobe', [
    '-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', pathOrUrl,
  ]);
  const parsed = JSON.parse(out) as {
    format?: { duration?: string; format_name?: string };
    streams?: Array<{ codec_type?: string; width?: number; height?: number }>;
  };
  const video = parsed.streams?.find((s) => s.codec_type === 'video');
  if (video?.width === undefined || video.height === undefined) throw new Error(`${pathOrUrl}: no video stream`);
  return {
    width: video.width,
    height: video.height,
    durationSec: Number(parsed.format?.duration ?? NaN),
    hasAudio: parsed.streams?.some((s) => s.codec_type === 'audio') ?? false,
    formatName: parsed.format?.format_name ?? '',
  };
}

function encode(enc: Encoding, path: string): Promise<void> {
  const d = enc.durationSec;
  const input = ['-f', 'lavfi', '-i', `${enc.pattern}=size=${enc.width}x${enc.height}:rate=10:duration=${d}`];
  const audioIn = enc.sineHz === undefined ? [] : ['-f', 'lavfi', '-i', `sine=frequency=${enc.sineHz}:duration=${d}`];
  const codecs =
    enc.container === 'webm'
      ? ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '16', '-b:v', '100k', '-c:a', 'libopus', '-b:a', '32k']
      : ['-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '35', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '32k'];
  const audioOut = enc.sineHz === undefined ? ['-an'] : [];
  return limit(async () => {
    await ffmpegTool('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-y', ...input, ...audioIn, ...codecs, ...audioOut,
      '-f', enc.container, path,
    ]);
  });
}

function ffmpegTool(cmd: 'ffmpeg' | 'ffprobe', args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (!error) return resolve(stdout);
      const why = (error as NodeJS.ErrnoException).code === 'ENOENT' ? `${cmd} is not installed` : stderr.trim();
      reject(new Error(`${cmd} ${args.join(' ')}: ${why || error.message}`));
    });
  });
}

const maxEncoders = Math.max(1, availableParallelism());
let running = 0;
const waiting: Array<() => void> = [];

/** At most one ffmpeg per core: tests that ask for every kind at once would thrash otherwise. */
async function limit<T>(fn: () => Promise<T>): Promise<T> {
  while (running >= maxEncoders) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

function pseudoRandomBytes(seed: string, length: number): Buffer {
  const blocks: Buffer[] = [];
  for (let i = 0; i * 32 < length; i++) blocks.push(createHash('sha256').update(`${seed}:${i}`).digest());
  return Buffer.concat(blocks).subarray(0, length);
}
