import { setMaxListeners } from 'node:events';
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

/**
 * PUT to a presigned chunk URL with fetch: no x-api-key (the URL is the credential), the server's
 * `upload_headers` and `Content-Type: application/octet-stream`, as the SDK helpers send. Errors
 * never carry the URL's query (its signature).
 */
export function fetchChunkPut(options: { timeoutMs: number; fetch?: typeof globalThis.fetch }): ChunkPut {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  return async (url, body, length, headers, signal) => {
    // The run's stop signal joins every PUT's timeout (as in the API client): it legitimately has many listeners.
    if (signal) setMaxListeners(0, signal);
    const where = redactUrls(url);
    const timeout = AbortSignal.timeout(options.timeoutMs);
    let response: Response;
    try {
      // Streamed with its length (presigned PUTs take no chunked encoding): memory holds no chunk.
      const init: RequestInit & { duplex: 'half' } = {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(length), ...headers },
        body: ReadableStream.from(body),
        duplex: 'half',
        redirect: 'manual',
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      };
      response = await fetchImpl(url, init);
    } catch (cause) {
      if (signal?.aborted) throw signal.reason;
      throw new ChunkPutError({ expired: false, message: `PUT ${where}: ${timeout.aborted ? `no answer within ${options.timeoutMs} ms` : 'connection failed'}`, cause });
    }
    const text = await response.text().catch(() => '');
    if (!response.ok) {
      const expired = response.status === 403 && /expired/i.test(text);
      throw new ChunkPutError({ status: response.status, expired, message: `PUT ${where}: HTTP ${response.status}${expired ? ' (URL expired)' : ''}` });
    }
    const etag = response.headers.get('etag')?.replace(/"/g, '');
    if (!etag) throw new ChunkPutError({ status: response.status, expired: false, message: `PUT ${where}: no ETag in the answer` });
    return etag;
  };
}

