import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printable, redactUrls } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { ffprobeUrl } from '../../src/sources/probe.js';
import { hasBinary } from '../sim/index.js';
import { useTmpDir } from './tmp-dir.js';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const SIGNATURE = 'f0e1d2c3b4a5968778695a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e0f';

function sourceFiles(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

describe('child processes get an argument array, never a shell', () => {
  const files = sourceFiles().map((path) => ({ name: relative(SRC, path), text: readFileSync(path, 'utf8') }));

  it('no exec/execSync, no shell: true, and child_process offers nothing but execFile/spawn', () => {
    expect(files.length).toBeGreaterThan(20);
    const offences: string[] = [];
    for (const { name, text } of files) {
      // RegExp#exec is fine; child_process exec/execSync (a shell) is not.
      if (/(?<![.\w])exec(Sync)?\s*\(|\.execSync\s*\(|child_process\.exec\s*\(/.test(text)) offences.push(`${name}: exec(`);
      if (/shell\s*:\s*(true|['"`])/.test(text)) offences.push(`${name}: shell option`);
      for (const match of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*'node:child_process'/g)) {
        const names = (match[1] ?? '').split(',').map((s) => s.trim().split(/\s+as\s+/)[0]).filter(Boolean);
        for (const n of names) if (!['execFile', 'spawn', 'type ChildProcess'].includes(n as string)) offences.push(`${name}: imports ${n}`);
      }
      if (/require\(['"](node:)?child_process['"]\)/.test(text)) offences.push(`${name}: require(child_process)`);
    }
    expect(offences).toEqual([]);
  });

  it('the inspection sees the one child process there is: ffprobe, by execFile with an array', () => {
    const users = files.filter((f) => f.text.includes("from 'node:child_process'")).map((f) => f.name);
    expect(users).toEqual([join('sources', 'probe.ts')]);
    expect(files.find((f) => f.name === join('sources', 'probe.ts'))?.text).toMatch(/execFile\(options\.ffprobePath \?\? 'ffprobe', args,/);
  });
});

describe('a probe failure never carries the presigned URL', async () => {
  const ffprobe = await hasBinary('ffprobe');
  let server: ReturnType<typeof createServer>;
  let base = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url?.includes('broken')) {
        res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': '4096' });
        res.end(Buffer.alloc(4096, 7));
      } else {
        res.writeHead(403, { 'content-type': 'application/xml' });
        res.end('<Error><Code>AccessDenied</Code></Error>');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const presigned = (key: string) =>
    `${base}/bucket/${key}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=${SIGNATURE}`;

  it.skipIf(!ffprobe).each(['denied.mp4', 'broken.mp4'])('ffprobe of %s: the error names the problem, not the URL', async (key) => {
    const result = await ffprobeUrl(presigned(key), { timeoutMs: 20_000 });
    expect(result.error).toBeTruthy();
    for (const secret of [SIGNATURE, 'X-Amz-Signature', 'X-Amz-Credential', 'AKIAEXAMPLE']) expect(result.error).not.toContain(secret);
  });

  it('a missing ffprobe says how to install it, and nothing else', async () => {
    const result = await ffprobeUrl(presigned('x.mp4'), { ffprobePath: '/nonexistent/ffprobe' });
    expect(result.error).toBe('ffprobe is not installed (apt-get install ffmpeg)');
  });
});

describe('the logger blanks secrets it is handed', () => {
  const tmp = useTmpDir();

  it('url, videoUrl, apiKey, x-api-key, secretAccessKey and sessionToken never reach the log file', async () => {
    const file = tmp.path('log.jsonl');
    const log = createLogger({ level: 'trace', file });
    const url = `https://b.s3.amazonaws.com/k.mp4?X-Amz-Signature=${SIGNATURE}`;
    log.trace({ url, videoUrl: url, apiKey: 'tlk_SECRETKEY', headers: { 'x-api-key': 'tlk_SECRETKEY' } }, 'request');
    log.info({ request: { url, videoUrl: url }, credentials: { secretAccessKey: 'AWSSECRET', sessionToken: 'SESSIONTOKEN' } }, 'nested');
    log.flush();
    const text = readFileSync(file, 'utf8');
    expect(text.trim().split('\n')).toHaveLength(2);
    for (const secret of [SIGNATURE, 'tlk_SECRETKEY', 'AWSSECRET', 'SESSIONTOKEN']) expect(text).not.toContain(secret);
    expect(text).toContain('[redacted]');
  });
});

describe('printable keeps a message on one line', () => {
  it.each<[string, string]>([
    ['plain/key.mp4', 'plain/key.mp4'],
    ['new\nline.mp4', 'new\\nline.mp4'],
    ['tab\there\r.mp4', 'tab\\there\\r.mp4'],
    ['bell\u0007 esc\u001b del\u007f c1\u0085', 'bell\\u0007 esc\\u001b del\\u007f c1\\u0085'],
    ['line\u2028separator', 'line\\u2028separator'],
    ['café ☕ 日本.mp4', 'café ☕ 日本.mp4'],
    // Bidi controls reorder what surrounds them on screen: `evil\u202Egpj.exe` shows as `evilexe.jpg`.
    ['evil\u202egpj.exe', 'evil\\u202egpj.exe'],
    ['\u202a\u202b\u202c\u202d \u2066\u2067\u2068\u2069 \u200e\u200f \u061c', '\\u202a\\u202b\\u202c\\u202d \\u2066\\u2067\\u2068\\u2069 \\u200e\\u200f \\u061c'],
    ['עברית.mp4', 'עברית.mp4'],
  ])('%j', (text, expected) => {
    expect(printable(text)).toBe(expected);
    expect(printable(text)).not.toMatch(/[\n\r]/);
  });

  it('after redaction, a URL with a signature and a newline in its key is one safe line', () => {
    const line = printable(redactUrls(`HEAD s3://b/a\nb.mp4 failed: https://b.s3/a%0Ab.mp4?X-Amz-Signature=${SIGNATURE}`));
    expect(line).toBe('HEAD s3://b/a\\nb.mp4 failed: https://b.s3/a%0Ab.mp4?[redacted]');
  });
});
