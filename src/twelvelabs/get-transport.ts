import * as http from 'node:http';
import * as https from 'node:https';
import { gunzipSync } from 'node:zlib';

/** Statuses whose Response may not carry a body. */
const NULL_BODY = new Set([204, 205, 304]);

/**
 * A `fetch` for the API client's GETs: node:http(s) on keep-alive agents of its own, the answer read
 * whole (gzip decoded) and handed over as a Response. undici's `fetch` costs ~0.6 ms of CPU a
 * request more, a fifth of a plan's CPU at 2,000 index pages. It behaves as `fetch` does where the
 * client looks: no redirect is followed, a network failure rejects with `TypeError('fetch failed')`
 * and the failure as its `cause`, an aborted signal rejects with its reason. Anything but a GET
 * without a body is sent by `fallback`.
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
    const options = { method: 'GET', agent: secure ? agents.https : agents.http, headers: { ...Object.fromEntries(new Headers(headers)), 'accept-encoding': 'gzip' } };
    const request = secure ? https.request(target, options) : http.request(target, options);
    let settled = false;
    const fail = (error: unknown) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      request.destroy();
      reject(signal?.aborted ? signal.reason : new TypeError('fetch failed', { cause: error }));
    };
    const onAbort = () => fail(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    request.on('error', fail);
    request.on('response', (response: http.IncomingMessage) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', fail);
      // Closed before its end: the body was cut off.
      response.on('close', () => (response.complete ? undefined : fail(new Error('the answer was cut off'))));
      response.on('end', () => {
        if (settled) return;
        try {
          const answer = toResponse(response, Buffer.concat(chunks));
          settled = true;
          signal?.removeEventListener('abort', onAbort);
          resolve(answer);
        } catch (error) {
          fail(error);
        }
      });
    });
    request.end();
  });
}

function toResponse(response: http.IncomingMessage, raw: Buffer): Response {
  const status = response.statusCode ?? 0;
  const gzipped = /^\s*(x-)?gzip\s*$/i.test(String(response.headers['content-encoding'] ?? ''));
  const body = NULL_BODY.has(status) ? null : gzipped ? gunzipSync(raw) : raw;
  const headers = new Headers();
  for (const [name, value] of Object.entries(response.headers)) {
    // The body is handed over decoded: its encoding and length no longer describe it.
    if (value === undefined || (gzipped && (name === 'content-encoding' || name === 'content-length'))) continue;
    for (const one of Array.isArray(value) ? value : [value]) headers.append(name, one);
  }
  return new Response(body, { status, statusText: response.statusMessage ?? '', headers });
}
