import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { mulberry32 } from '../sim/faults.js';

/** What a request to S3 is, as far as the faults care. */
export type S3RequestKind = 'list' | 'head' | 'get' | 'presigned-get' | 'other';

export type S3FaultAction = 'slowdown' | 'reset' | 'deny' | 'stall';

/** A rule: requests of these kinds (and keys) get `action` with probability `rate`, at most `maxInARow` times in a row. */
export interface S3FaultRule {
  kinds: readonly S3RequestKind[];
  action: S3FaultAction;
  /** 1 = every matching request. */
  rate: number;
  /** Only these object keys (decoded); default all. */
  keys?: readonly string[];
  /**
   * Cap on consecutive faulted attempts of one request (counting every rule but `deny`) for this
   * rule to fire, so the SDK's own retries (maxAttempts 5) still get through. A request is its
   * method, path and query without the signing parameters, so the retries of one list page count
   * together and another request's success between them (parallel listing) does not reset the
   * count. Default unlimited.
   */
  maxInARow?: number;
}

export interface S3FaultProxy {
  /** `http://127.0.0.1:PORT`: point AWS_ENDPOINT_URL_S3 here (path-style). */
  readonly endpoint: string;
  /** Replaces the rules and restarts the PRNG from `seed`. */
  setRules(rules: readonly S3FaultRule[], seed?: number): void;
  /** The current rules, short, for logs. */
  rules(): string;
  readonly injected: Record<S3FaultAction, number>;
  /** Requests seen per kind. */
  readonly seen: Record<S3RequestKind, number>;
  close(): Promise<void>;
}

/**
 * A fault-injecting HTTP proxy in front of an S3 server, on loopback, port 0. It forwards every
 * request byte for byte, Host header included, so SigV4 signatures made for the proxy's address
 * (headers and presigned query strings alike) still verify at the server, which checks the
 * signature over the headers it receives. Faults: 503 SlowDown, a reset connection, 403
 * AccessDenied for chosen keys, or a stall (the request is accepted and never answered).
 */
export async function startS3FaultProxy(upstream: string): Promise<S3FaultProxy> {
  const target = new URL(upstream);
  let rules: readonly S3FaultRule[] = [];
  let random = mulberry32(1);
  /** Consecutive faulted attempts per request (see `requestIdentity`). */
  let streaks = new Map<string, number>();
  const injected: Record<S3FaultAction, number> = { slowdown: 0, reset: 0, deny: 0, stall: 0 };
  const seen: Record<S3RequestKind, number> = { list: 0, head: 0, get: 0, 'presigned-get': 0, other: 0 };
  const sockets = new Set<Socket>();

  const decide = (kind: S3RequestKind, key: string | undefined, identity: string): S3FaultAction | undefined => {
    const streak = streaks.get(identity) ?? 0;
    for (const rule of rules) {
      if (!rule.kinds.includes(kind)) continue;
      if (rule.keys && (key === undefined || !rule.keys.includes(key))) continue;
      if (rule.action === 'deny') return 'deny';
      if (random() < rule.rate && (rule.maxInARow === undefined || streak < rule.maxInARow)) {
        streaks.set(identity, streak + 1);
        return rule.action;
      }
    }
    streaks.delete(identity);
    return undefined;
  };

  const server = createServer((req, res) => {
    const { kind, bucket, key } = classify(req);
    seen[kind] += 1;
    const action = decide(kind, key, requestIdentity(req));
    if (action) injected[action] += 1;
    if (action === 'reset') {
      req.socket.resetAndDestroy();
      return;
    }
    if (action === 'stall') {
      req.resume();
      return;
    }
    if (action === 'slowdown' || action === 'deny') {
      req.resume();
      const [status, code, message] = action === 'slowdown' ? [503, 'SlowDown', 'Please reduce your request rate.'] : [403, 'AccessDenied', 'Access Denied'];
      const resource = key === undefined ? `/${bucket ?? ''}` : `/${bucket}/${key}`;
      const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><Resource>${escapeXml(resource)}</Resource><RequestId>tlm-proxy</RequestId></Error>`;
      res.writeHead(status, { 'content-type': 'application/xml', 'content-length': String(Buffer.byteLength(body)), 'x-amz-request-id': 'tlm-proxy' });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    forward(req, res, target);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    injected,
    seen,
    rules: () => rules.map((r) => `${r.action}(${r.kinds.join('+')} ${r.rate.toFixed(2)}${r.keys ? ` ${r.keys.length} keys` : ''})`).join(' ') || 'none',
    setRules(next, seed = 1) {
      rules = next;
      random = mulberry32(seed);
      streaks = new Map();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

function forward(req: IncomingMessage, res: ServerResponse, target: URL): void {
  // rawHeaders keep names, values and order exactly as signed; Host stays the proxy's address.
  const headers: Array<[string, string]> = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i] as string, req.rawHeaders[i + 1] as string]);
  const upstream = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: headers.flat(), setHost: false }, (answer) => {
    const out: string[] = [];
    for (let i = 0; i + 1 < answer.rawHeaders.length; i += 2) out.push(answer.rawHeaders[i] as string, answer.rawHeaders[i + 1] as string);
    res.writeHead(answer.statusCode ?? 502, answer.statusMessage, out);
    answer.pipe(res);
    answer.on('error', () => res.destroy());
  });
  upstream.on('error', () => {
    if (!res.headersSent) res.writeHead(502).end();
    else res.destroy();
  });
  req.pipe(upstream);
}

/** Path-style requests: `/bucket`, `/bucket/key`; presigned GETs carry X-Amz-Signature in the query. */
function classify(req: IncomingMessage): { kind: S3RequestKind; bucket: string | undefined; key: string | undefined } {
  const url = new URL(req.url ?? '/', 'http://proxy.invalid');
  const [, bucketPart, ...rest] = url.pathname.split('/');
  const bucket = bucketPart ? decode(bucketPart) : undefined;
  const key = rest.length > 0 && rest.join('/') !== '' ? decode(rest.join('/')) : undefined;
  const method = req.method ?? 'GET';
  if (key === undefined) return { kind: method === 'GET' && bucket !== undefined && !url.searchParams.has('policy') ? 'list' : 'other', bucket, key };
  if (method === 'HEAD') return { kind: 'head', bucket, key };
  if (method === 'GET') return { kind: url.searchParams.has('X-Amz-Signature') ? 'presigned-get' : 'get', bucket, key };
  return { kind: 'other', bucket, key };
}

/** One request across its retries: method, path and query, less the parameters that sign an attempt. */
export function requestIdentity(req: Pick<IncomingMessage, 'method' | 'url'>): string {
  const url = new URL(req.url ?? '/', 'http://proxy.invalid');
  const query = [...url.searchParams].filter(([name]) => !name.toLowerCase().startsWith('x-amz-')).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `${req.method ?? 'GET'} ${url.pathname}?${new URLSearchParams(query).toString()}`;
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
