import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { lstat, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SourceError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { probeObject } from '../../src/sources/probe.js';
import { S3Source, createS3Client } from '../../src/sources/s3.js';
import { guardSilence } from '../../src/sources/silence.js';
import { openAppendNoFollow, truncateNoFollow } from '../../src/state/safe-file.js';
import { StateStore } from '../../src/state/store.js';
import { uniqueValidVideo } from '../helpers/videos.js';
import { hasBinary } from '../sim/index.js';
import { useTmpDir } from './tmp-dir.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** A TCP server that accepts every connection and never answers: a stalled S3. */
async function silentServer(): Promise<{ endpoint: string; connections: () => number }> {
  const sockets = new Set<Socket>();
  let count = 0;
  const server = createTcpServer((socket) => {
    count += 1;
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  const port = await listen(server);
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return { endpoint: `http://127.0.0.1:${port}`, connections: () => count };
}

const credentials = { AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' };
const identity = { uri: 's3://b', bucket: 'b', prefix: '', indexId: 'idx' };

describe('files are written without following symbolic links', () => {
  const tmp = useTmpDir();

  it('a journal opened for appending is created 0600; a link in its place is refused and its target left intact', async () => {
    const handle = await openAppendNoFollow(tmp.path('j'), 'journal');
    await handle.close();
    expect(statSync(tmp.path('j')).mode & 0o777).toBe(0o600);
    await writeFile(tmp.path('precious'), 'keep me');
    await symlink(tmp.path('precious'), tmp.path('link'));
    await expect(openAppendNoFollow(tmp.path('link'), 'journal')).rejects.toMatchObject({ code: 'path_symlink' });
    await expect(truncateNoFollow(tmp.path('link'), 'journal')).rejects.toMatchObject({ code: 'path_symlink' });
    expect(await readFile(tmp.path('precious'), 'utf8')).toBe('keep me');
  });

  it('a FIFO where a file should be is refused at once, not waited on', async () => {
    execFileSync('mkfifo', [tmp.path('fifo')]);
    await expect(openAppendNoFollow(tmp.path('fifo'), 'log file')).rejects.toMatchObject({ code: 'path_not_regular' });
  });

  it.each(['tlmigrate-state.json', 'tlmigrate-state.json.journal', 'tlmigrate-state.json.lock'])('StateStore.open refuses a link at %s and touches nothing', async (name) => {
    const state = tmp.path('tlmigrate-state.json');
    await writeFile(tmp.path('precious'), 'keep me');
    await symlink(tmp.path('precious'), tmp.path(name));
    const error = await StateStore.open(state, identity, 'apply', 'tlmigrate test').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'path_symlink', message: expect.stringMatching(/is a symbolic link: tlmigrate never writes through one .*remove the link \(rm /) as unknown });
    expect(await readFile(tmp.path('precious'), 'utf8')).toBe('keep me');
    expect((await readdir(tmp.dir)).sort()).toEqual([name, 'precious'].sort());
  });

  it('a checkpoint replaces its own journal, never writing to the target of a link planted after open', async () => {
    const state = tmp.path('tlmigrate-state.json');
    const store = await StateStore.open(state, identity, 'apply', 'tlmigrate test');
    await writeFile(tmp.path('precious'), 'keep me');
    await rm(`${state}.journal`);
    await symlink(tmp.path('precious'), `${state}.journal`);
    await store.checkpoint();
    await store.setItem('s3://b/after.mp4', { key: 'after.mp4', status: 'intent' }, { durable: true });
    expect(await readFile(tmp.path('precious'), 'utf8')).toBe('keep me');
    expect((await lstat(`${state}.journal`)).isSymbolicLink()).toBe(false);
    await store.close();
  });

  it('a link planted where the next journal goes is refused, and nothing is written through it', async () => {
    const state = tmp.path('tlmigrate-state.json');
    const store = await StateStore.open(state, identity, 'apply', 'tlmigrate test');
    await writeFile(tmp.path('precious'), 'keep me');
    await symlink(tmp.path('precious'), `${state}.journal.next`);
    await expect(store.checkpoint()).rejects.toMatchObject({ code: 'path_symlink' });
    expect(await readFile(tmp.path('precious'), 'utf8')).toBe('keep me');
    await store.close().catch(() => undefined);
  });

  it('a log file is created 0600, and a link in its place is refused', async () => {
    const log = createLogger({ file: tmp.path('logs/run.log') });
    log.warn('hello');
    log.flush();
    expect(statSync(tmp.path('logs/run.log')).mode & 0o777).toBe(0o600);
    writeFileSync(tmp.path('precious'), 'keep me');
    await symlink(tmp.path('precious'), tmp.path('link.log'));
    expect(() => createLogger({ file: tmp.path('link.log') })).toThrow(/^log file .*link\.log is a symbolic link/);
    expect(readFileSync(tmp.path('precious'), 'utf8')).toBe('keep me');
  });

  it('an unwritable log folder is one line, not a stack', () => {
    writeFileSync(tmp.path('file'), '');
    expect(() => createLogger({ file: tmp.path('file/run.log') })).toThrow(/^cannot open log file .*file\/run\.log \((EEXIST|ENOTDIR)\): choose a writable --log-file path$/);
  });
});

describe('S3 that accepts and never answers', () => {
  it('fails after its attempts with one line naming --s3-request-timeout', async () => {
    const s3 = await silentServer();
    vi.stubEnv('AWS_ACCESS_KEY_ID', credentials.AWS_ACCESS_KEY_ID);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', credentials.AWS_SECRET_ACCESS_KEY);
    try {
      const source = new S3Source(createS3Client({ endpoint: s3.endpoint, region: 'us-east-1', requestTimeoutMs: 200, connectTimeoutMs: 1000 }), 'bucket');
      const error = await source.checkAccess('').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SourceError);
      expect(error).toMatchObject({ code: 's3_timeout' });
      expect((error as Error).message).toMatch(/^S3 did not answer within 0\.2 s for bucket 'bucket' \(5 attempts\): check --s3-endpoint .* or raise --s3-request-timeout$/);
      expect(s3.connections()).toBe(5);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it("a HEAD stalled there stops when the run's signal aborts, with the signal's reason", async () => {
    const s3 = await silentServer();
    vi.stubEnv('AWS_ACCESS_KEY_ID', credentials.AWS_ACCESS_KEY_ID);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', credentials.AWS_SECRET_ACCESS_KEY);
    try {
      const source = new S3Source(createS3Client({ endpoint: s3.endpoint, region: 'us-east-1' }), 'bucket');
      const stop = new AbortController();
      const head = source.head('a.mp4', stop.signal).catch((e: unknown) => e);
      await vi.waitUntil(() => s3.connections() > 0, { timeout: 10_000 });
      const reason = new Error('SIGINT');
      stop.abort(reason);
      expect(await head).toBe(reason);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

describe('guardSilence', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('fails a body the server stops sending while a read waits', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const body = new PassThrough();
    const guarded = guardSilence(body, 1000, () => new Error('silent'));
    const chunks: string[] = [];
    const done = new Promise<unknown>((resolve) => {
      guarded.on('data', (c: Buffer) => chunks.push(c.toString()));
      guarded.on('error', resolve);
    });
    body.write('first');
    await vi.waitUntil(() => chunks.length === 1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(await done).toMatchObject({ message: 'silent' });
    expect(body.destroyed).toBe(true);
  });

  it('does not count a pause of its reader (backpressure) as silence', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const body = new PassThrough();
    const guarded = guardSilence(body, 1000, () => new Error('silent'));
    const errors: unknown[] = [];
    guarded.on('error', (e) => errors.push(e));
    body.end('all of it');
    // Nobody reads for an hour: no read is pending, so no timer runs.
    await vi.advanceTimersByTimeAsync(3_600_000);
    const read: string[] = [];
    for await (const chunk of guarded) read.push(String(chunk));
    expect({ read, errors }).toEqual({ read: ['all of it'], errors: [] });
  });
});

describe('probeObject: ffprobe reads through a loopback relay, never the presigned URL', async () => {
  const ffprobe = await hasBinary('ffprobe');
  const tmp = useTmpDir();
  const SIGNATURE = 'f0e1d2c3b4a5968778695a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e0f';

  /** An "S3" serving one video with Range support, or stalling; counts the reads it got. */
  async function fakeS3(mode: 'serve' | 'stall'): Promise<{ url: string; reads: () => number }> {
    const video = await uniqueValidVideo(4242);
    let reads = 0;
    const server = createHttpServer((req, res) => {
      reads += 1;
      if (mode === 'stall') return;
      const range = /bytes=(\d+)-(\d*)/.exec(req.headers.range ?? '');
      const start = range ? Number(range[1]) : 0;
      const end = range?.[2] ? Number(range[2]) : video.length - 1;
      const headers = { 'content-type': 'video/mp4', 'accept-ranges': 'bytes', 'content-length': String(end - start + 1) };
      if (range) res.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${end}/${video.length}` });
      else res.writeHead(200, headers);
      res.end(video.subarray(start, end + 1));
    });
    const port = await listen(server);
    closers.push(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    );
    return { url: `http://127.0.0.1:${port}/bucket/a%20clip.mp4?X-Amz-Credential=AKIAEXAMPLE&X-Amz-Signature=${SIGNATURE}`, reads: () => reads };
  }

  /** An ffprobe that records its arguments and environment, then runs the real one. */
  function recordingFfprobe(): { path: string; argv: () => string; environ: () => string } {
    const path = tmp.path('ffprobe');
    const real = execFileSync('sh', ['-c', 'command -v ffprobe']).toString().trim();
    writeFileSync(path, `#!/bin/sh\ntr '\\0' ' ' < /proc/$$/cmdline > '${tmp.path('argv')}'\ntr '\\0' '\\n' < /proc/$$/environ > '${tmp.path('environ')}'\nexec '${real}' "$@"\n`);
    chmodSync(path, 0o755);
    return { path, argv: () => readFileSync(tmp.path('argv'), 'utf8'), environ: () => readFileSync(tmp.path('environ'), 'utf8') };
  }

  it.skipIf(!ffprobe)('reads the video; its command line and environment carry no signature and no secret', async () => {
    const s3 = await fakeS3('serve');
    const recorder = recordingFfprobe();
    vi.stubEnv('TWELVELABS_API_KEY', 'tlk_SECRETKEY');
    try {
      const result = await probeObject(s3.url, 'videos/a clip.mp4', { ffprobePath: recorder.path });
      expect(result.error).toBeUndefined();
      expect(result.width).toBeGreaterThan(0);
    } finally {
      vi.unstubAllEnvs();
    }
    expect(s3.reads()).toBeGreaterThan(0);
    expect(recorder.argv()).toMatch(/http:\/\/127\.0\.0\.1:\d+\/[\w-]{24}\/video\.mp4/);
    for (const secret of [SIGNATURE, 'X-Amz', 'AKIAEXAMPLE']) expect(recorder.argv()).not.toContain(secret);
    expect(recorder.environ()).not.toContain('tlk_SECRETKEY');
    expect(recorder.environ().trim().split('\n').map((line) => line.split('=')[0])).not.toContain('TWELVELABS_API_KEY');
  });

  it.skipIf(!ffprobe)('an S3 that stalls fails the probe with s3_timeout, naming --s3-request-timeout (not a broken video)', async () => {
    const s3 = await fakeS3('stall');
    const error = await probeObject(s3.url, 'a.mp4', { readTimeoutMs: 200 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SourceError);
    expect((error as Error).message).toMatch(/^S3 did not answer within 0\.2 s for a read of a\.mp4 \(ffprobe\): .*raise --s3-request-timeout$/);
  });

  it.skipIf(!ffprobe)("stops at once when the run's signal aborts, with the signal's reason", async () => {
    const s3 = await fakeS3('stall');
    const stop = new AbortController();
    const probe = probeObject(s3.url, 'a.mp4', { signal: stop.signal }).catch((e: unknown) => e);
    await vi.waitUntil(() => s3.reads() > 0, { timeout: 10_000 });
    const reason = new Error('SIGINT');
    stop.abort(reason);
    expect(await probe).toBe(reason);
  });

  it('no ffprobe was left running', async () => {
    const left = (await readdir('/proc')).filter((p) => /^\d+$/.test(p)).filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('ffprobe') && readFileSync(`/proc/${pid}/status`, 'utf8').includes(`PPid:\t${process.pid}\n`);
      } catch {
        return false;
      }
    });
    expect(left).toEqual([]);
  });
});
