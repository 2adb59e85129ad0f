import * as http from 'node:http';
import * as https from 'node:https';
import { gunzipSync } from 'node:zlib';

/** Statuses whose Response may not carry a body. */
const NULL_BODY = new Set([204, 205, 304]);

/**
 * A `fetch` for the API client's GETs: node:http(s) on keep-alive agents of its own, handed over as
 * the few parts of a Response the client reads (status, ok, headers.get, text, json, body.cancel).
 * undici's `fetch` costs ~0.6 ms of CPU a request more, a fifth of a plan's CPU at 2,000 index
 * pages. It behaves as `fetch` does where the client looks: it sends `user-agent: node` unless told
 * otherwise, follows no redirect, resolves once the headers are in; a network failure before them
 * rejects with `TypeError('fetch failed')` and the failure as its `cause`, a body cut off rejects
 * `text()` with `TypeError('terminated')` (cause code `UND_ERR_SOCKET`), an aborted signal rejects
 * either with its reason. Anything but a GET without a body is sent by `fallback`.
 */
export function getTransport(fallback: typeof globalThis.fetch = globalThis.fetch): typeof globalThis.fetch {
  const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
  return (input, init) => {
    if (typeof input !== 'string' || (init?.method ?? 'GET') !== 'GET' || init?.body != null) return fallback(input, init);
    return get(input, init?.headers, init?.signal ?? undefined, agents);
  };
}

function get(url: string, headers: ConstructorParameters<typeof Headers>[0], signal: AbortSignal | undefined, agents: { http: http.Agent; https: https.Agent }): Promise<Response> {
  return new Promise<Response>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const target = new URL(url);
    const secure = target.protocol === 'https:';
    const plain = headers === undefined || (typeof headers === 'object' && !(headers instanceof Headers) && !Array.isArray(headers));
    const fields = plain ? (headers as Record<string, string> | undefined) : Object.fromEntries(new Headers(headers));
    const named = (name: string) => Object.keys(fields ?? {}).some((key) => key.toLowerCase() === name);
    const options = { method: 'GET', agent: secure ? agents.https : agents.http, headers: { ...(named('user-agent') ? {} : { 'user-agent': 'node' }), ...fields, 'accept-encoding': 'gzip' } };
    const request = secure ? https.request(target, options) : http.request(target, options);
    // Until the headers: a failure rejects the request; after them, the body.
    let failBody: ((error: unknown) => void) | undefined;
    let settled = false;
    const fail = (error: unknown) => {
      request.destroy();
      if (failBody) return failBody(signal?.aborted ? signal.reason : error);
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      reject(signal?.aborted ? signal.reason : new TypeError('fetch failed', { cause: error }));
    };
    const onAbort = () => fail(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    request.on('error', fail);
    request.on('response', (response: http.IncomingMessage) => {
      settled = true;
      const body = new Promise<Buffer>((done, cut) => {
        const chunks: Buffer[] = [];
        let ended = false;
        failBody = (error) => {
          if (ended) return;
          ended = true;
          signal?.removeEventListener('abort', onAbort);
          cut(error);
        };
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', () => fail(terminated()));
        // Closed before its end: the body was cut off.
        response.on('close', () => (response.complete ? undefined : fail(terminated())));
        response.on('end', () => {
          if (ended) return;
          ended = true;
          signal?.removeEventListener('abort', onAbort);
          done(Buffer.concat(chunks));
        });
      });
      // Read or not (a redirect is cancelled): a cut-off body is never an unhandled rejection.
      body.catch(() => undefined);
      resolve(toResponse(response, body, () => fail(new Error('cancelled'))));
    });
    request.end();
  });
}

/** What undici's fetch rejects a body cut off with. */
function terminated(): TypeError {
  return new TypeError('terminated', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) });
}

/** The answer as the API client reads a Response, without building one (undici's Response, Headers and web stream cost more than the rest of a small answer's handling). */
function toResponse(response: http.IncomingMessage, raw: Promise<Buffer>, cancel: () => void): Response {
  const status = response.statusCode ?? 0;
  const gzipped = /^\s*(x-)?gzip\s*$/i.test(String(response.headers['content-encoding'] ?? ''));
  const empty = NULL_BODY.has(status);
  // The body is handed over decoded: its encoding and length no longer describe it.
  const hidden = gzipped ? new Set(['content-encoding', 'content-length']) : undefined;
  const fields = response.headers;
  const get = (name: string): string | null => {
    const key = name.toLowerCase();
    const value = hidden?.has(key) ? undefined : fields[key];
    return value === undefined ? null : Array.isArray(value) ? value.join(', ') : String(value);
  };
  // As Response.text(): UTF-8, a leading byte order mark dropped.
  const text = async () => {
    if (empty) return '';
    const bytes = await raw;
    const decoded = (gzipped ? gunzipSync(bytes) : bytes).toString('utf8');
    return decoded.charCodeAt(0) === 0xfeff ? decoded.slice(1) : decoded;
  };
  const answer = {
    status,
    ok: status >= 200 && status < 300,
    statusText: response.statusMessage ?? '',
    headers: { get, has: (name: string) => get(name) !== null },
    body: empty ? null : { cancel: async () => cancel() },
    text,
    json: async () => JSON.parse(await text()) as unknown,
  };
  return answer as unknown as Response;
}
