import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SourceError } from '../../src/errors.js';
import { ChunkPutError, httpChunkPut } from '../../src/twelvelabs/chunk-put.js';
import { closeServer, listenOnLoopback } from '../helpers/loopback-server.js';

/** A chunk server whose behaviour the test picks by path; it records what it received. */
function chunkServer(): { server: Server; received: Array<{ path: string; headers: IncomingMessage['headers']; md5: string; bytes: number }> } {
  const received: Array<{ path: string; headers: IncomingMessage['headers']; md5: string; bytes: number }> = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/early-403') {
      // Refuses before reading the body, as S3 may for an expired URL, and keeps the connection.
      res.writeHead(403, { 'content-type': 'application/xml' }).end('<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>');
      return;
    }
    if (path === '/reset') {
      req.once('data', () => req.socket.resetAndDestroy());
      return;
    }
    if (path === '/silent') return;
    const hash = createHash('md5');
    let bytes = 0;
    req.on('data', (piece: Buffer) => {
      hash.update(piece);
      bytes += piece.length;
    });
    req.on('end', () => {
      const md5 = hash.digest('hex');
      received.push({ path, headers: req.headers, md5, bytes });
      if (path === '/no-etag') res.writeHead(200).end();
      else if (path === '/slowdown') res.writeHead(503).end('<Error><Code>SlowDown</Code></Error>');
      else res.writeHead(200, { etag: `"${md5}"` }).end();
    });
  });
  return { server, received };
}

async function* pieces(total: number, size = 64 * 1024, fail?: Error): AsyncGenerator<Uint8Array> {
  for (let sent = 0; sent < total; sent += size) {
    if (fail && sent >= total / 2) throw fail;
    yield Buffer.alloc(Math.min(size, total - sent), sent % 251);
  }
}

describe('httpChunkPut: a chunk streamed to its presigned URL', () => {
  const { server, received } = chunkServer();
  let base = '';
  const put = httpChunkPut({ timeoutMs: 2_000 });

  beforeAll(async () => {
    base = await listenOnLoopback(server);
  });
  afterAll(() => closeServer(server));

  it('sends the bytes with their length, the upload headers and no API key, and answers the ETag without quotes', async () => {
    const etag = await put(`${base}/ok?X-Amz-Signature=secret`, pieces(1_000_000), 1_000_000, { 'x-upload-token': 't1' });
    const got = received.find((r) => r.path === '/ok');
    expect(got?.bytes).toBe(1_000_000);
    expect(etag).toBe(got?.md5);
    expect(got?.headers['content-length']).toBe('1000000');
    expect(got?.headers['content-type']).toBe('application/octet-stream');
    expect(got?.headers['x-upload-token']).toBe('t1');
    expect(got?.headers['x-api-key']).toBeUndefined();
    expect(got?.headers['transfer-encoding']).toBeUndefined();
  });

  it('a refusal before the body was read is an expired URL when it says so, and the call ends', async () => {
    const error = await put(`${base}/early-403?X-Amz-Signature=secret`, pieces(8_000_000), 8_000_000, {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChunkPutError);
    expect((error as ChunkPutError).expired).toBe(true);
    expect((error as ChunkPutError).status).toBe(403);
    expect((error as ChunkPutError).message).not.toContain('secret');
  });

  it('a 503 is a retryable failure with its status; an answer without ETag is a failure too', async () => {
    const slow = await put(`${base}/slowdown`, pieces(1000), 1000, {}).catch((e: unknown) => e);
    expect(slow).toMatchObject({ code: 'chunk_put_failed', status: 503, expired: false });
    const bare = await put(`${base}/no-etag`, pieces(1000), 1000, {}).catch((e: unknown) => e);
    expect((bare as ChunkPutError).message).toContain('no ETag');
  });

  it('a connection reset mid-body, a source that fails mid-chunk and a server that never answers are ChunkPutErrors naming what happened', async () => {
    const reset = await put(`${base}/reset?X-Amz-Signature=secret`, pieces(4_000_000), 4_000_000, {}).catch((e: unknown) => e);
    expect(reset).toBeInstanceOf(ChunkPutError);
    expect((reset as ChunkPutError).message).toMatch(/connection failed/);
    expect((reset as ChunkPutError).message).not.toContain('secret');
    const short = await put(`${base}/ok`, pieces(1_000_000, 64 * 1024, new SourceError('source_short_read', 'read 500 of 1000 bytes')), 1_000_000, {}).catch((e: unknown) => e);
    expect(short).toBeInstanceOf(ChunkPutError);
    expect((short as ChunkPutError).message).toContain('the source failed mid-chunk (read 500 of 1000 bytes)');
    const silent = await httpChunkPut({ timeoutMs: 200 })(`${base}/silent`, pieces(1000), 1000, {}).catch((e: unknown) => e);
    expect((silent as ChunkPutError).message).toContain('no answer within 200 ms');
  });

  it("the run's stop ends a PUT with the stop's reason, not a chunk failure", async () => {
    const stop = new AbortController();
    setTimeout(() => stop.abort(new Error('stopped by the user')), 50);
    const error = await put(`${base}/silent`, pieces(1000), 1000, {}, stop.signal).catch((e: unknown) => e);
    expect((error as Error).message).toBe('stopped by the user');
  });
});
