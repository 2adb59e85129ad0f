import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { ApiError, TransportError } from '../../src/errors.js';
import { TwelveLabsClient } from '../../src/twelvelabs/client.js';
import { getTransport } from '../../src/twelvelabs/get-transport.js';
import { closeServer, listenOnLoopback } from '../helpers/loopback-server.js';

/** Routes of a stand-in API: each path answers as its handler says. */
const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
  '/json': (req, res) => res.writeHead(200, { 'content-type': 'application/json', 'x-ratelimit-remaining': '7', 'x-seen-key': String(req.headers['x-api-key']), 'x-seen-agent': String(req.headers['user-agent']) }).end('{"a":"ü"}'),
  '/gzip': (req, res) => res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': req.headers['accept-encoding']?.includes('gzip') ? 'gzip' : 'identity' }).end(gzipSync('{"zipped":true}')),
  '/missing': (_req, res) => res.writeHead(404, { 'content-type': 'application/json' }).end('{"code":"resource_not_exist","message":"no such index"}'),
  '/moved': (_req, res) => res.writeHead(302, { location: 'http://elsewhere.example/x' }).end(),
  '/empty': (_req, res) => res.writeHead(204).end(),
  '/cut': (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' }).write('{"partial":');
    setTimeout(() => res.socket?.destroy(), 20);
  },
  '/slow': () => undefined,
};

describe('getTransport: GETs on node:http, as fetch answers them', () => {
  let base = '';
  // A route answers every path that has its name as a segment (`/indexes/slow/videos/v` is /slow).
  const route = (url = '/') => Object.keys(routes).find((name) => new URL(url, 'http://x').pathname.split('/').includes(name.slice(1))) ?? '/missing';
  const server = createServer((req, res) => routes[route(req.url)]?.(req, res));
  const transport = getTransport();
  beforeAll(async () => {
    base = await listenOnLoopback(server);
  });
  afterAll(() => closeServer(server));

  it('hands over status, headers and body; the request carries its headers, and a user-agent as fetch sends', async () => {
    const answer = await transport(`${base}/json?x=1`, { method: 'GET', headers: { 'x-api-key': 'k1' } });
    expect([answer.status, answer.ok, answer.headers.get('x-ratelimit-remaining'), answer.headers.get('x-seen-key'), answer.headers.get('x-seen-agent')]).toEqual([200, true, '7', 'k1', 'node']);
    expect(await answer.json()).toEqual({ a: 'ü' });
  });

  it('decodes a gzip body', async () => {
    const answer = await transport(`${base}/gzip`);
    expect([await answer.text(), answer.headers.get('content-encoding')]).toEqual(['{"zipped":true}', null]);
  });

  it('follows no redirect, and answers 204 with no body', async () => {
    const moved = await transport(`${base}/moved`, { redirect: 'manual' });
    expect([moved.status, moved.headers.get('location')]).toEqual([302, 'http://elsewhere.example/x']);
    expect((await transport(`${base}/empty`)).status).toBe(204);
  });

  it('rejects a cut-off body and a refused connection as fetch does (TypeError, the failure as cause)', async () => {
    // The headers came: the answer resolves, and its body rejects as undici's does.
    const cut = await transport(`${base}/cut`);
    expect(cut.status).toBe(200);
    const reading = await cut.text().catch((error: unknown) => error);
    expect(reading).toMatchObject({ name: 'TypeError', message: 'terminated', cause: { code: 'UND_ERR_SOCKET' } });
    const refused = await transport('http://127.0.0.1:1/x').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TypeError);
    expect((refused as { cause?: { code?: string } }).cause?.code).toBe('ECONNREFUSED');
  });

  it("rejects with the signal's reason when it aborts, before or during the request", async () => {
    const reason = new Error('SIGINT');
    await expect(transport(`${base}/json`, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    const stop = new AbortController();
    const slow = transport(`${base}/slow`, { signal: stop.signal });
    setTimeout(() => stop.abort(reason), 20);
    await expect(slow).rejects.toBe(reason);
  });

  it('through the API client: JSON, API errors, a timeout as TransportError; a POST goes to the fallback', async () => {
    const posted: string[] = [];
    const fallback: typeof fetch = async (input) => {
      posted.push(String(input));
      return new Response('{"_id":"t1"}', { status: 200 });
    };
    const client = new TwelveLabsClient({ baseUrl: base, apiKey: 'k', clock: systemClock, fetch: getTransport(fallback), maxAttempts: 1, timeoutMs: 100 });
    expect(await client.getIndex('json')).toBeDefined();
    await expect(client.getTask('missing')).rejects.toBeInstanceOf(ApiError);
    await expect(client.getVideo('slow', 'v')).rejects.toBeInstanceOf(TransportError);
    await expect(client.getVideo('slow', 'v')).rejects.toMatchObject({ reason: 'timeout' });
    // A 200 cut off is no answer, named as such (as with fetch).
    await expect(client.getVideo('cut', 'v')).rejects.toMatchObject({ message: expect.stringMatching(/the 200 answer was cut off \(UND_ERR_SOCKET\)/) });
    expect((await client.createTask({ indexId: 'i', videoUrl: 'https://x/v.mp4', enableVideoStream: true, userMetadata: {} })).taskId).toBe('t1');
    expect(posted).toEqual([`${base}/tasks`]);
  });
});
