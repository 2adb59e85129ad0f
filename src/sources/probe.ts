import { execFile } from 'node:child_process';
import { redactUrls } from '../errors.js';
import type { ProbeResult } from '../planner/index.js';

/**
 * Runs ffprobe on a (presigned) URL: Range reads of a few dozen KB, argument array, no shell.
 * Errors are returned, not thrown, and never carry the URL's query string.
 */
export function ffprobeUrl(url: string, options: { ffprobePath?: string; timeoutMs?: number } = {}): Promise<ProbeResult> {
  const args = ['-v', 'error', '-probesize', '5000000', '-analyzeduration', '0', '-print_format', 'json', '-show_format', '-show_streams', url];
  return new Promise((resolve) => {
    execFile(options.ffprobePath ?? 'ffprobe', args, { timeout: options.timeoutMs ?? 60_000, maxBuffer: 8 << 20 }, (error, stdout, stderr) => {
      if (error) {
        const code = (error as NodeJS.ErrnoException).code;
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
