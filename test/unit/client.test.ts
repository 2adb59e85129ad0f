import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiError, TransportError, redactUrls } from '../../src/errors.js';
import { TwelveLabsClient, parseErrorBody, readRateLimit, wholeSeconds } from '../../src/twelvelabs/client.js';
import type { RequestGate, ResponseSignal } from '../../src/twelvelabs/pacer.js';
import type { CreateTaskRequest } from '../../src/twelvelabs/types.js';
import { FakeClock } from './fake-clock.js';

const PRESIGNED = 'https://media-archive.s3.us-east-1.amazonaws.com/shows/ep1.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=SECRETSIG';

describe('parseErrorBody', () => {
  it.each<[string, string, number, { code: string; message: string }]>([
    ['flat {code, message}', '{"code":"video_resolution_too_low","message":"The resolution is too low."}', 400, { code: 'video_resolution_too_low', message: 'The resolution is too low.' }],
    ['nested {error: {code, message}}', '{"error":{"code":"index_not_found","message":"No index 123."}}', 404, { code: 'index_not_found', message: 'No index 123.' }],
    ['{error: "text"}', '{"error":"Something broke"}', 500, { code: 'http_500', message: 'Something broke' }],
    ['a code that is not a string', '{"code":42,"message":"odd"}', 400, { code: 'http_400', message: 'odd' }],
    ['JSON without either', '{"detail":"x"}', 422, { code: 'http_422', message: '{"detail":"x"}' }],
    ['JSON null', 'null', 500, { code: 'http_500', message: 'null' }],
    ['an HTML page', '<html><body>502 Bad Gateway</body></html>', 502, { code: 'http_502', message: '<html><body>502 Bad Gateway</body></html>' }],
    ['an empty body', '', 503, { code: 'http_503', message: 'HTTP 503' }],
    ['line breaks in the message', '{"code":"x","message":"line one\\n   line two"}', 400, { code: 'x', message: 'line one line two' }],
    ['a presigned URL in the message', JSON.stringify({ code: 'video_url_invalid', message: `cannot fetch ${PRESIGNED}` }), 400, {
      code: 'video_url_invalid',
      message: 'cannot fetch https://media-archive.s3.us-east-1.amazonaws.com/shows/ep1.mp4?[redacted]',
    }],
    ['a presigned URL in plain text', `bad gateway for ${PRESIGNED}`, 502, {
      code: 'http_502',
      message: 'bad gateway for https://media-archive.s3.us-east-1.amazonaws.com/shows/ep1.mp4?[redacted]',
    }],
  ])('%s', (_case, text, status, expected) => {
    expect(parseErrorBody(text, status)).toEqual(expected);
  });

  it('keeps at most 200 characters of a non-JSON body', () => {
    expect(parseErrorBody('x'.repeat(5000), 500).message).toHaveLength(200);
  });
});

describe('redactUrls', () => {
  it.each<[string, string]>([
    [`fetch ${PRESIGNED} failed`, 'fetch https://media-archive.s3.us-east-1.amazonaws.com/shows/ep1.mp4?[redacted] failed'],
    ['"http://localhost:9000/b/k.mp4?sig=1"', '"http://localhost:9000/b/k.mp4?[redacted]"'],
    ['no url here?a=b', 'no url here?a=b'],
    ['https://host/path without query', 'https://host/path without query'],
  ])('%s', (text, expected) => {
    expect(redactUrls(text)).toBe(expected);
  });
});

describe('readRateLimit', () => {
  const now = Date.parse('2025-06-15T10:00:00.000Z');
  const response = (headers: Record<string, string>, status = 429) => ({ status, headers: new Headers(headers) });

  it.each<[string, Record<string, string>, Partial<ResponseSignal>]>([
    ['Retry-After in seconds', { 'retry-after': '30' }, { retryAfterMs: 30_000 }],
    ['Retry-After 0', { 'retry-after': '0' }, { retryAfterMs: 0 }],
    ['Retry-After as an HTTP date', { 'retry-after': 'Sun, 15 Jun 2025 10:01:30 GMT' }, { retryAfterMs: 90_000 }],
    ['Retry-After as a past date', { 'retry-after': 'Sun, 15 Jun 2025 09:00:00 GMT' }, { retryAfterMs: 0 }],
    ['Retry-After unreadable', { 'retry-after': 'soon' }, { retryAfterMs: undefined }],
    ['X-Ratelimit-Reset in epoch seconds', { 'x-ratelimit-reset': String(now / 1000 + 45) }, { resetAtMs: now + 45_000 }],
    ['X-Ratelimit-Reset as seconds from now', { 'x-ratelimit-reset': '20' }, { resetAtMs: now + 20_000 }],
    ['X-Ratelimit-Limit and -Remaining', { 'x-ratelimit-limit': '600', 'x-ratelimit-remaining': '0' }, { limit: 600, remaining: 0 }],
    ['empty and unreadable numbers', { 'x-ratelimit-limit': '', 'x-ratelimit-remaining': 'many' }, { limit: undefined, remaining: undefined }],
    ['no headers', {}, { retryAfterMs: undefined, resetAtMs: undefined, limit: undefined, remaining: undefined }],
  ])('%s', (_case, headers, expected) => {
    const signal = readRateLimit(response(headers), now);
    expect(signal.status).toBe(429);
    expect(signal).toMatchObject(expected);
  });
});

describe('wholeSeconds', () => {
  it.each<[string | undefined, string | undefined]>([
    ['2025-06-15T10:00:00.999Z', '2025-06-15T10:00:00Z'],
    ['2025-06-15T10:00:00.000Z', '2025-06-15T10:00:00Z'],
    ['2025-06-15T10:00:00Z', '2025-06-15T10:00:00Z'],
    // Rounded down: an "at or after" filter must not move past the instant it was given.
    ['2025-06-15T10:00:59.001Z', '2025-06-15T10:00:59Z'],
    ['2025-06-15T12:00:00.5+02:00', '2025-06-15T10:00:00Z'],
    ['1969-12-31T23:59:59.500Z', '1969-12-31T23:59:59Z'],
    ['not a date', 'not a date'],
    [undefined, undefined],
  ])('%s -> %s', (instant, expected) => {
    expect(wholeSeconds(instant)).toBe(expected);
  });
});

interface Received {
  method: string;
  url: string;
  body: string;
  headers: IncomingMessage['headers'];
}

type Handler = (request: Received, response: ServerResponse, count: number) => void;

const servers: Array<{ close(): Promise<void> }> = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A loopback server on port 0 that answers with `handler` and records every request. */
async function startServer(handler: Handler): Promise<{ baseUrl: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: Received = { method: req.method ?? '', url: req.url ?? '', body: Buffer.concat(chunks).toString('utf8'), headers: req.headers };
      received.push(request);
      handler(request, res, received.length);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push({
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
  const { port } = server.address() as AddressInfo;
  return { baseUrl: `http://127.0.0.1:${port}/v1.3`, received };
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function aClient(baseUrl: string, extra: { timeoutMs?: number; maxAttempts?: number; gate?: RequestGate } = {}) {
  const clock = new FakeClock(Date.parse('2025-06-15T10:00:00.000Z'));
  const client = new TwelveLabsClient({ baseUrl, apiKey: 'tlk_test', clock, random: () => 0.5, ...extra });
  return { client, clock };
}

const aTaskRequest: CreateTaskRequest = {
  indexId: 'idx1',
  videoUrl: PRESIGNED,
  enableVideoStream: true,
  userMetadata: { tlm_source: 's3://media-archive/shows/ep1.mp4', tlm_etag: 'abc', tlm_size: 42 },
};

describe('TwelveLabsClient against a loopback server', () => {
  it('retries a 5xx on GET, backing off on the clock', async () => {
    const { baseUrl, received } = await startServer((_req, res, n) => (n < 3 ? json(res, 503, { code: 'service_unavailable', message: 'busy' }) : json(res, 200, { _id: 'idx1', index_name: 'archive' })));
    const { client, clock } = aClient(baseUrl);
    await expect(client.getIndex('idx1')).resolves.toEqual({ _id: 'idx1', index_name: 'archive' });
    expect(received.map((r) => `${r.method} ${r.url}`)).toEqual(Array(3).fill('GET /v1.3/indexes/idx1'));
    expect(clock.sleeps).toHaveLength(2);
    expect(received[0]?.headers['x-api-key']).toBe('tlk_test');
  });

  it('gives up on GET after maxAttempts with the last ApiError', async () => {
    const { baseUrl, received } = await startServer((_req, res) => json(res, 500, { code: 'internal_error', message: 'oops' }));
    const { client } = aClient(baseUrl, { maxAttempts: 3 });
    const error = await client.getTask('t1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 500, code: 'internal_error', method: 'GET', path: '/tasks/t1' });
    expect(received).toHaveLength(3);
  });

  it.each<[string, (res: ServerResponse) => void, { status: number; code: string }]>([
    ['500 JSON', (res) => json(res, 500, { code: 'internal_error', message: 'oops' }), { status: 500, code: 'internal_error' }],
    ['502 HTML', (res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html>Bad Gateway</html>');
    }, { status: 502, code: 'http_502' }],
    ['504', (res) => json(res, 504, { message: 'gateway timeout' }), { status: 504, code: 'http_504' }],
    ['400', (res) => json(res, 400, { code: 'parameter_invalid', message: 'video_url is invalid' }), { status: 400, code: 'parameter_invalid' }],
  ])('sends exactly one POST /tasks on a %s', async (_case, answer, expected) => {
    const { baseUrl, received } = await startServer((_req, res) => answer(res));
    const { client } = aClient(baseUrl);
    const error = await client.createTask(aTaskRequest).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ ...expected, method: 'POST', path: '/tasks' });
    expect(received.filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('turns a POST that gets no answer in time into TransportError(timeout), sent once', async () => {
    const { baseUrl, received } = await startServer(() => undefined);
    const { client } = aClient(baseUrl, { timeoutMs: 200 });
    const error = await client.createTask(aTaskRequest).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect(error).toMatchObject({ reason: 'timeout', code: 'timeout', method: 'POST', path: '/tasks' });
    expect(received).toHaveLength(1);
  });

  it('turns a POST answer cut off mid-body into TransportError, sent once', async () => {
    const { baseUrl, received } = await startServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"_id":"task-');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const { client } = aClient(baseUrl);
    const error = await client.createTask(aTaskRequest).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect(error).toMatchObject({ reason: 'network', method: 'POST', path: '/tasks' });
    expect(received).toHaveLength(1);
  });

  it('retries a GET whose answer was cut off mid-body', async () => {
    const { baseUrl, received } = await startServer((_req, res, n) => {
      if (n > 1) return json(res, 200, { _id: 't1', status: 'ready' });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"_id":"t');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const { client } = aClient(baseUrl);
    await expect(client.getTask('t1')).resolves.toEqual({ _id: 't1', status: 'ready' });
    expect(received).toHaveLength(2);
  });

  it('sends the task form and reads the created task', async () => {
    const { baseUrl, received } = await startServer((_req, res) => json(res, 200, { _id: 'task-1', video_id: 'video-1' }));
    const { client } = aClient(baseUrl);
    await expect(client.createTask(aTaskRequest)).resolves.toEqual({ taskId: 'task-1', videoId: 'video-1' });
    const body = received[0]?.body ?? '';
    expect(received[0]?.headers['content-type']).toMatch(/^multipart\/form-data/);
    for (const field of ['index_id', 'video_url', 'enable_video_stream', 'user_metadata']) expect(body).toContain(`name="${field}"`);
    expect(body).toContain(JSON.stringify(aTaskRequest.userMetadata));
  });

  it('hands a 429 on POST /tasks to its caller, sent once (the step runner owns POST retries), and tells the gate', async () => {
    const signals: ResponseSignal[] = [];
    const gate: RequestGate = { acquire: async () => undefined, release: (s) => void signals.push(s) };
    const { baseUrl, received } = await startServer((_req, res, n) =>
      n === 1 ? json(res, 429, { code: 'too_many_requests', message: 'slow down' }, { 'retry-after': '7' }) : json(res, 200, { _id: 'task-1' }),
    );
    const { client, clock } = aClient(baseUrl, { gate });
    await expect(client.createTask(aTaskRequest)).rejects.toMatchObject({ status: 429, code: 'too_many_requests', retryAfterMs: 7_000 });
    expect(received).toHaveLength(1);
    expect(signals.map((s) => [s.status, s.retryAfterMs])).toEqual([[429, 7_000]]);
    expect(clock.sleeps).toEqual([]);
  });

  it('retries a 429 on a GET after the gate paused, without a sleep of its own', async () => {
    const signals: ResponseSignal[] = [];
    const gate: RequestGate = { acquire: async () => undefined, release: (s) => void signals.push(s) };
    const { baseUrl, received } = await startServer((_req, res, n) =>
      n === 1 ? json(res, 429, { code: 'too_many_requests', message: 'slow down' }, { 'retry-after': '7' }) : json(res, 200, { data: [], page_info: {} }),
    );
    const { client, clock } = aClient(baseUrl, { gate });
    await client.listTasks({ indexId: 'i' });
    expect(received).toHaveLength(2);
    expect(signals.map((s) => [s.status, s.retryAfterMs])).toEqual([
      [429, 7_000],
      [200, undefined],
    ]);
    expect(clock.sleeps).toEqual([]);
  });

  it('stops on a 429 that is a daily quota', async () => {
    const { baseUrl, received } = await startServer((_req, res) => json(res, 429, { code: 'usage_limit_exceeded', message: 'daily limit' }));
    const { client } = aClient(baseUrl);
    await expect(client.createTask(aTaskRequest)).rejects.toMatchObject({ status: 429, code: 'usage_limit_exceeded' });
    expect(received).toHaveLength(1);
  });

  it('stops on a usage_limit_exceeded under another status, sent once', async () => {
    const { baseUrl, received } = await startServer((_req, res) => json(res, 400, { code: 'usage_limit_exceeded', message: 'Not enough free credit.' }));
    const { client } = aClient(baseUrl);
    await expect(client.createTask(aTaskRequest)).rejects.toMatchObject({ status: 400, code: 'usage_limit_exceeded' });
    expect(received).toHaveLength(1);
  });

  it('paces the run on a too_many_requests sent with another status than 429', async () => {
    const signals: ResponseSignal[] = [];
    const gate: RequestGate = { acquire: async () => undefined, release: (s) => void signals.push(s) };
    const { baseUrl } = await startServer((_req, res, n) =>
      n === 1 ? json(res, 400, { code: 'too_many_requests', message: 'slow down' }, { 'retry-after': '3' }) : json(res, 200, { data: [], page_info: {} }),
    );
    const { client } = aClient(baseUrl, { gate });
    await client.listTasks({ indexId: 'i' });
    expect(signals.map((s) => [s.status, s.retryAfterMs])).toEqual([
      [429, 3_000],
      [200, undefined],
    ]);
  });

  it('sends date filters at whole seconds, rounded down', async () => {
    const { baseUrl, received } = await startServer((_req, res) => json(res, 200, { data: [], page_info: {} }));
    const { client } = aClient(baseUrl);
    await client.listTasks({ indexId: 'i', createdAt: '2025-06-15T09:55:00.731Z', updatedAt: '2025-06-15T09:59:01.999Z' });
    await client.listIndexedAssets('i', { createdAt: '2025-06-15T09:55:00.731Z', updatedAt: '2025-06-15T09:59:01.001Z' });
    for (const request of received) {
      const query = new URL(request.url, 'http://x').searchParams;
      expect([query.get('created_at'), query.get('updated_at')]).toEqual(['2025-06-15T09:55:00Z', '2025-06-15T09:59:01Z']);
    }
    expect(received).toHaveLength(2);
  });

  it('reports an answer without an _id as invalid_response', async () => {
    const { baseUrl } = await startServer((_req, res) => json(res, 200, { ok: true }));
    const { client } = aClient(baseUrl);
    await expect(client.createTask(aTaskRequest)).rejects.toMatchObject({ code: 'invalid_response' });
  });

  describe('never follows a redirect, so the API key stays with the API', () => {
    it.each<[string, number, (capture: string, own: string) => Record<string, string>, RegExp]>([
      ['to another origin', 301, (capture) => ({ location: `${capture}/v1.3/indexes/idx1?token=abc` }), /a redirect to http:\/\/127\.0\.0\.1:\d+ \(another origin\)/],
      ['within the same origin', 307, (_capture, own) => ({ location: `${own}/elsewhere` }), /a redirect to http:\/\/127\.0\.0\.1:\d+ \(the same origin\)/],
      ['without a Location', 302, () => ({}), /a redirect to nowhere \(no Location\)/],
    ])('a redirect %s (%i): one ApiError api_redirect per call, nothing at the capture server', async (_case, status, headers, target) => {
      const capture = await startServer((_req, res) => json(res, 200, { _id: 'idx1' }));
      const captureOrigin = new URL(capture.baseUrl).origin;
      let ownOrigin = '';
      const api = await startServer((_req, res) => {
        res.writeHead(status, headers(captureOrigin, ownOrigin));
        res.end();
      });
      ownOrigin = new URL(api.baseUrl).origin;
      const { client } = aClient(api.baseUrl);
      for (const call of [() => client.getIndex('idx1'), () => client.createTask(aTaskRequest)]) {
        const error = (await call().catch((e: unknown) => e)) as ApiError;
        expect(error).toBeInstanceOf(ApiError);
        expect(error.code).toBe('api_redirect');
        expect(error.apiMessage).toMatch(target);
        expect(error.apiMessage).toMatch(/tlmigrate follows no redirect, so the API key was not sent there: set --api-url \/ TWELVELABS_BASE_URL/);
        expect(error.message).not.toContain('token=abc');
      }
      expect(api.received).toHaveLength(2);
      expect(capture.received).toEqual([]);
    });
  });

  describe('never puts a query string in an error message', () => {
    it('on an API error of a GET with a query', async () => {
      const { baseUrl, received } = await startServer((_req, res) => json(res, 400, { code: 'parameter_invalid', message: 'bad filename' }));
      const { client } = aClient(baseUrl);
      const error = (await client.listVideos('idx1', { filename: 'secret-name.mp4', userMetadata: { tlm_source: 's3://b/k' } }).catch((e: unknown) => e)) as Error;
      expect(received[0]?.url).toContain('secret-name.mp4');
      expect(error.message).toBe('GET /indexes/idx1/videos: 400 parameter_invalid: bad filename');
    });

    it('when the platform echoes the presigned URL', async () => {
      const { baseUrl } = await startServer((_req, res) => json(res, 400, { code: 'video_url_invalid', message: `The platform could not download ${PRESIGNED}` }));
      const { client } = aClient(baseUrl);
      const error = (await client.createTask(aTaskRequest).catch((e: unknown) => e)) as ApiError;
      expect(error.message).not.toContain('SECRETSIG');
      expect(error.message).not.toContain('X-Amz');
      expect(error.apiMessage).toBe('The platform could not download https://media-archive.s3.us-east-1.amazonaws.com/shows/ep1.mp4?[redacted]');
    });

    it('when the connection is refused', async () => {
      const { baseUrl } = await startServer(() => undefined);
      await Promise.all(servers.splice(0).map((s) => s.close()));
      const { client } = aClient(baseUrl, { maxAttempts: 1 });
      const error = (await client.listTasks({ indexId: 'idx1', filename: 'secret-name.mp4' }).catch((e: unknown) => e)) as TransportError;
      expect(error).toBeInstanceOf(TransportError);
      expect(error.reason).toBe('network');
      expect(error.message).toMatch(/^GET \/tasks: connection failed/);
      expect(error.message).not.toContain('secret-name');
      expect(error.message).not.toContain('?');
    });
  });
});
