import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiContext } from './api-context.js';
import { SIGNED_HEADER } from './api-multipart.js';
import { chunkSizeOf } from './model.js';
import type { SimChunk, SimUpload } from './model.js';
import type { Recorder } from './recorder.js';

/**
 * PUT <presigned chunk URL>: what S3 does behind the platform's URLs. Checks the signature (token),
 * its expiry and use, the declared size; stores the bytes at the chunk's offset and answers the
 * ETag (quoted MD5, as S3 does). No x-api-key: the URL is the credential.
 */
export async function handleChunkPut(req: IncomingMessage, res: ServerResponse, url: URL, ctx: ApiContext, recorder: Recorder): Promise<void> {
  const at = ctx.clock.now();
  const [uploadId = '', indexText = ''] = url.pathname.split('/').slice(2);
  const record = (status: number, outcome: 'answered' | 'reset', fault?: string) =>
    recorder.add({ method: 'PUT', path: url.pathname, query: {}, status, outcome, at, durationMs: 0, ...(fault ? { fault } : {}) });
  const refuse = async (status: number, code: string, message: string, fault?: string) => {
    await drain(req);
    res.writeHead(status, { 'Content-Type': 'application/xml' });
    res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`);
    record(status, 'answered', fault);
  };

  const grant = ctx.store.chunkUrls.get(url.searchParams.get('X-Amz-Signature') ?? '');
  const upload = ctx.store.uploads.get(uploadId);
  if (req.method !== 'PUT' || !grant || !upload || grant.uploadId !== uploadId || String(grant.chunkIndex) !== indexText) {
    return refuse(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.');
  }
  const fault = ctx.faults.chunkFault();
  if (fault === 'expired' || at > grant.expiresAt) return refuse(403, 'AccessDenied', 'Request has expired', fault);
  if (ctx.variants().chunkUrlReuse === 'once' && grant.uses > 0) return refuse(403, 'AccessDenied', 'The presigned URL was already used.');
  if (ctx.variants().uploadHeaders === 'required' && req.headers[SIGNED_HEADER] !== upload.id) {
    return refuse(403, 'SignatureDoesNotMatch', `The request is missing the signed header ${SIGNED_HEADER}.`);
  }
  if (upload.status !== 'active') return refuse(403, 'AccessDenied', `The upload is ${upload.status}.`);
  const expected = chunkSizeOf(upload, grant.chunkIndex);
  if (Number(req.headers['content-length']) !== expected) {
    return refuse(400, 'InvalidArgument', `Chunk ${grant.chunkIndex} must be exactly ${expected} bytes (Content-Length ${req.headers['content-length'] ?? 'missing'}).`);
  }
  if (fault === 'reset') {
    await resetMidBody(req, Math.floor(expected / 2));
    record(0, 'reset', 'chunkPut');
    return;
  }
  const bytes = await readAll(req);
  if (fault === '5xx') {
    res.writeHead(503, { 'Content-Type': 'application/xml' });
    res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
    record(503, 'answered', 'chunkPut');
    return;
  }
  if (bytes.length !== expected) return refuse(400, 'IncompleteBody', 'The request body is shorter than its Content-Length.');
  grant.uses++;
  const etag = await store(upload, grant.chunkIndex, bytes, at);
  res.writeHead(200, { ETag: `"${etag}"` });
  res.end();
  record(200, 'answered');
}

async function store(upload: SimUpload, index: number, bytes: Buffer, at: number): Promise<string> {
  const file = await open(upload.spoolPath, 'r+');
  try {
    await file.write(bytes, 0, bytes.length, (index - 1) * upload.chunkSize);
  } finally {
    await file.close();
  }
  const chunk = upload.chunks.get(index) as SimChunk;
  const etag = createHash('md5').update(bytes).digest('hex');
  chunk.etag = etag;
  chunk.putAt = at;
  chunk.puts++;
  if (chunk.status === 'completed') chunk.putsAfterReport++;
  return etag;
}

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Reads about half the body, then sends a TCP RST: the client sees its upload cut off. */
function resetMidBody(req: IncomingMessage, bytes: number): Promise<void> {
  return new Promise((resolve) => {
    let read = 0;
    const cut = () => {
      req.removeAllListeners('data');
      req.pause();
      if (!req.socket.destroyed) req.socket.resetAndDestroy();
      resolve();
    };
    req.on('data', (chunk: Buffer) => {
      read += chunk.length;
      if (read >= bytes) cut();
    });
    req.on('end', cut);
    req.on('error', cut);
  });
}

async function drain(req: IncomingMessage): Promise<void> {
  for await (const _ of req) {
    // discarded: a refused PUT's body
  }
}
