import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { SimUpload } from './model.js';
import { ffprobe } from './probe.js';
import type { ProbeOptions, ProbeOutcome } from './probe.js';
import { fileBroken, looksLikeVideo } from './validate.js';

const HEAD_BYTES = 64 * 1024;

/** Hashes a completed upload's assembled bytes and reads them as the platform would (basic sniff or ffprobe). */
export async function readSpool(upload: SimUpload, filename: string, opts: ProbeOptions): Promise<{ sha256: string; outcome: ProbeOutcome }> {
  const hash = createHash('sha256');
  const head: Buffer[] = [];
  let headBytes = 0;
  let size = 0;
  for await (const piece of createReadStream(upload.spoolPath, { signal: opts.signal })) {
    const bytes = piece as Buffer;
    hash.update(bytes);
    size += bytes.length;
    if (headBytes < HEAD_BYTES) {
      head.push(bytes);
      headBytes += bytes.length;
    }
  }
  const sha256 = hash.digest('hex');
  if (size !== upload.totalSize) return { sha256, outcome: { ok: false, failure: fileBroken(`assembled ${size} of ${upload.totalSize} bytes`) } };
  if (opts.mode === 'ffprobe') {
    const probed = await ffprobe(opts.ffprobePath, upload.spoolPath, opts.signal);
    return { sha256, outcome: probed.ok ? { ok: true, meta: { ...probed.meta, filename, size } } : probed };
  }
  if (!looksLikeVideo(Buffer.concat(head).subarray(0, HEAD_BYTES))) return { sha256, outcome: { ok: false, failure: fileBroken() } };
  const described = opts.describeVideo?.({ filename, size }) ?? {};
  return { sha256, outcome: { ok: true, meta: { ...opts.defaults, ...described, filename, size } } };
}
