import { setMaxListeners } from 'node:events';
import { request as httpRequest, type ClientRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { pipeline } from 'node:stream/promises';
import { TlmError, redactUrls } from '../errors.js';

/** A chunk PUT that did not store the chunk; `expired` when the URL's signature is no longer valid. */
export class ChunkPutError extends TlmError {
  readonly status: number | undefined;
  readonly expired: boolean;

  constructor(init: { status?: number | undefined; expired: boolean; message: string; cause?: unknown }) {
    super(init.expired ? 'chunk_url_expired' : 'chunk_put_failed', redactUrls(init.message), { cause: init.cause });
    this.status = init.status;
    this.expired = init.expired;
  }
}

/** Sends a chunk's `length` bytes, as they arrive, to a presigned URL; answers the ETag without quotes (the proof the report needs). */
export type ChunkPut = (url: string, body: AsyncIterable<Uint8Array>, length: number, headers: Record<string, string>, signal?: AbortSignal) => Promise<string>;

/** What the chunk's server answered: its status, ETag header and the start of its body. */
interface ChunkAnswer {
  status: number;
  etag: string | undefined;
  text: string;
}

/**
 * PUT to a presigned chunk URL with node:http(s), the body piped from the source as it arrives: no
 * x-api-key (the URL is the credential), the server's `upload_headers` and `Content-Type:
 * application/octet-stream`, as the SDK helpers send. Node streams rather than fetch: fetch's web
 * stream body doubled the socket buffers a slot costs (docs/benchmarks.md, "Multipart streaming").
 * Errors never carry the URL's query (its signature).
 */
export function httpChunkPut(options: { timeoutMs: number }): ChunkPut {
  return async (url, body, length, headers, signal) => {
    // The run's stop signal joins every PUT's timeout (as in the API client): it legitimately has many listeners.
    if (signal) setMaxListeners(0, signal);
    const where = redactUrls(url);
    const timeout = AbortSignal.timeout(options.timeoutMs);
    const target = new URL(url);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    // Presigned PUTs take no chunked encoding: the length is declared and the body streamed.
    const request = send(target, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(length), ...headers },
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    const [sent, answer] = await Promise.allSettled([pipeline(body, request), answerOf(request)]);
    if (signal?.aborted) throw signal.reason;
    if (answer.status === 'fulfilled') return etagOf(answer.value, where);
    const cause = sent.status === 'rejected' ? sent.reason : answer.reason;
    const what = timeout.aborted ? `no answer within ${options.timeoutMs} ms` : cause instanceof TlmError ? `the source failed mid-chunk (${cause.message})` : 'connection failed';
    throw new ChunkPutError({ expired: false, message: `PUT ${where}: ${what}`, cause });
  };
}

/** The answer, its body read (a few KiB at most kept); a refusal ends the upload of the body at once. */
function answerOf(request: ClientRequest): Promise<ChunkAnswer> {
  return new Promise((resolve, reject) => {
    request.on('error', reject);
    request.once('response', (response) => {
      const status = response.statusCode ?? 0;
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (piece: string) => {
        if (text.length < 4096) text += piece;
      });
      response.on('error', reject);
      response.once('end', () => {
        const etag = response.headers.etag;
        resolve({ status, etag: typeof etag === 'string' ? etag : undefined, text });
        if (status < 200 || status >= 300) request.destroy();
      });
    });
  });
}

function etagOf(answer: ChunkAnswer, where: string): string {
  if (answer.status < 200 || answer.status >= 300) {
    const expired = answer.status === 403 && /expired/i.test(answer.text);
    throw new ChunkPutError({ status: answer.status, expired, message: `PUT ${where}: HTTP ${answer.status}${expired ? ' (URL expired)' : ''}` });
  }
  const etag = answer.etag?.replace(/"/g, '');
  if (!etag) throw new ChunkPutError({ status: answer.status, expired: false, message: `PUT ${where}: no ETag in the answer` });
  return etag;
}
