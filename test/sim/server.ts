import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiFailure, errorBody } from './api-error.js';
import type { ApiContext, ApiRequest, Reply } from './api-context.js';
import { HANDLERS } from './handlers.js';
import { parseMultipart } from './multipart.js';
import type { FormPart } from './multipart.js';
import { queryRecord } from './recorder.js';
import type { Outcome, Recorder } from './recorder.js';
import { handleChunkPut } from './chunk-put.js';
import { CHUNK_PATH, isCreateRoute, matchRoute } from './routes.js';
import type { RouteMatch } from './routes.js';

export interface ServerDeps {
  ctx: ApiContext;
  apiKey: string;
  recorder: Recorder;
}

/** What the pipeline decided to send. */
interface Answer {
  status: number;
  headers: Record<string, string>;
  body?: string;
  contentType?: string;
  /** Lose the answer instead of sending it (after the work was done). */
  lose?: 'drop' | 'reset';
  fault?: string;
}

export interface ListeningServer {
  server: Server;
  origin: string;
  close(): Promise<void>;
}

/** Starts the HTTP server on 127.0.0.1, port 0 unless given. */
export async function listen(deps: ServerDeps, host = '127.0.0.1', port = 0): Promise<ListeningServer> {
  const closing = new AbortController();
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    handle(req, res, deps, closing.signal).catch(() => req.socket.destroy());
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const { port: actualPort } = server.address() as AddressInfo;
  return {
    server,
    origin: `http://${host}:${actualPort}`,
    close: async () => {
      closing.abort();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      await closed;
    },
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, deps: ServerDeps, closing: AbortSignal): Promise<void> {
  const started = performance.now();
  const at = deps.ctx.clock.now();
  const url = new URL(req.url ?? '/', 'http://simulator.invalid');
  const method = req.method ?? 'GET';
  if (url.pathname.startsWith(CHUNK_PATH)) return handleChunkPut(req, res, url, deps.ctx, deps.recorder);
  const match = matchRoute(method, url.pathname);
  let body: Buffer;
  try {
    body = await readBody(req);
  } catch {
    req.socket.destroy();
    return;
  }

  const request = apiRequest(req, url, body, match);
  let answer: Answer;
  try {
    answer = await decide(req, url, request, match, deps, closing);
  } catch (error) {
    if (closing.aborted) {
      req.socket.destroy();
      return;
    }
    answer = failureAnswer(error, deps);
  }

  const outcome = send(req, res, answer);
  deps.recorder.add({
    method,
    path: url.pathname,
    query: queryRecord(url.searchParams),
    ...(match ? { route: match.route } : {}),
    status: answer.status,
    outcome,
    at,
    durationMs: Math.round(performance.now() - started),
    ...(body.length > 0 ? { body: await summarize(request) } : {}),
    ...(answer.fault ? { fault: answer.fault } : {}),
  });
}

/** The pipeline: latency, key, quota and rate limit, injected 5xx, the handler, lost or slow answers. */
async function decide(
  req: IncomingMessage,
  url: URL,
  request: ApiRequest,
  match: RouteMatch | undefined,
  deps: ServerDeps,
  closing: AbortSignal,
): Promise<Answer> {
  const { ctx } = deps;
  const faults = ctx.faults;
  const latency = match ? faults.latencyFor(match.route) : 0;
  if (latency > 0) await sleep(latency, undefined, { signal: closing });

  const key = req.headers['x-api-key'];
  if (faults.refusesEveryKey || key !== deps.apiKey) {
    const message = key === undefined ? 'The x-api-key header is missing.' : 'The API key you provided is not valid.';
    return errorAnswer(401, 'api_key_invalid', message, deps, {}, faults.refusesEveryKey ? 'wrongKey' : undefined);
  }
  if (!match) {
    return errorAnswer(404, 'resource_not_exist', `There is no ${req.method ?? 'GET'} ${url.pathname} endpoint.`, deps);
  }

  const admission = faults.admit(match.route, ctx.clock.now());
  if (admission.reject) {
    const quota = admission.reject.code === 'usage_limit_exceeded';
    const status = quota ? ctx.variants().quotaStatus : 429;
    return errorAnswer(status, admission.reject.code, admission.reject.message, deps, admission.headers, quota ? 'dailyQuota' : 'rateLimit');
  }
  const injected = faults.serverError(match.route);
  if (injected !== undefined) return { ...serverErrorAnswer(injected, deps), headers: admission.headers, fault: 'error5xx' };

  let answer: Answer;
  try {
    const reply: Reply = await HANDLERS[match.route](request, ctx);
    answer = { ...jsonAnswer(reply), headers: admission.headers };
  } catch (error) {
    if (!(error instanceof ApiFailure)) throw error;
    answer = errorAnswer(error.status, error.code, error.message, deps, admission.headers);
  }

  if (isCreateRoute(match.route) && answer.status < 300) {
    const lose = faults.loseCreateAnswer(match.route);
    if (lose === '500') answer = { ...serverErrorAnswer(500, deps), headers: admission.headers, fault: 'postAcceptThenFail' };
    else if (lose) answer = { ...answer, lose, fault: 'postAcceptThenFail' };
  }
  const slow = faults.slowFor(match.route);
  if (slow > 0) {
    await sleep(slow, undefined, { signal: closing });
    answer.fault ??= 'slowResponse';
  }
  return answer;
}

function send(req: IncomingMessage, res: ServerResponse, answer: Answer): Outcome {
  if (answer.lose === 'reset') {
    req.socket.resetAndDestroy();
    return 'reset';
  }
  if (answer.lose === 'drop') {
    req.socket.destroy();
    return 'dropped';
  }
  if (res.destroyed || req.socket.destroyed) return 'client-gone';
  const headers: Record<string, string> = { ...answer.headers };
  if (answer.body !== undefined) {
    headers['Content-Type'] = answer.contentType ?? 'application/json; charset=utf-8';
    headers['Content-Length'] = String(Buffer.byteLength(answer.body));
  }
  res.writeHead(answer.status, headers);
  res.end(answer.body);
  return 'answered';
}

function jsonAnswer(reply: Reply): Omit<Answer, 'headers'> {
  return reply.json === undefined ? { status: reply.status } : { status: reply.status, body: JSON.stringify(reply.json) };
}

function errorAnswer(
  status: number,
  code: string,
  message: string,
  deps: ServerDeps,
  headers: Record<string, string> = {},
  fault?: string,
): Answer {
  const variants = deps.ctx.variants();
  return {
    status,
    headers,
    body: JSON.stringify(errorBody(variants.errorShape, code, message, variants.errorDocsUrl)),
    ...(fault ? { fault } : {}),
  };
}

function failureAnswer(error: unknown, deps: ServerDeps): Answer {
  if (error instanceof ApiFailure) return errorAnswer(error.status, error.code, error.message, deps);
  return errorAnswer(500, 'internal_server_error', `Simulator bug: ${(error as Error).stack ?? String(error)}`, deps);
}

/** 500 and 503 come from the API (JSON); 502 and 504 from the load balancer in front of it (HTML). */
function serverErrorAnswer(status: number, deps: ServerDeps): Answer {
  if (status === 502 || status === 504) {
    const title = status === 502 ? '502 Bad Gateway' : '504 Gateway Time-out';
    return {
      status,
      headers: {},
      contentType: 'text/html',
      body: `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n</body>\r\n</html>\r\n`,
    };
  }
  const code = status === 503 ? 'service_unavailable' : 'internal_server_error';
  return errorAnswer(status, code, 'The server encountered an error. Please try again later.', deps);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function apiRequest(req: IncomingMessage, url: URL, body: Buffer, match: RouteMatch | undefined): ApiRequest {
  let form: Promise<FormPart[]> | undefined;
  return {
    params: match?.params ?? {},
    query: url.searchParams,
    body,
    headers: req.headers,
    form: () => (form ??= parseMultipart(body, req.headers['content-type'])),
  };
}

/** A readable record of the body: form fields (file parts as name and size), JSON, or a byte count. */
async function summarize(request: ApiRequest): Promise<unknown> {
  const contentType = request.headers['content-type'];
  try {
    if (contentType?.startsWith('multipart/form-data')) {
      const summary: Record<string, unknown> = {};
      for (const part of await request.form()) {
        summary[part.name] = part.kind === 'text' ? part.value : { filename: part.filename, size: part.bytes.length };
      }
      return summary;
    }
    if (contentType?.includes('json')) return JSON.parse(request.body.toString('utf8')) as unknown;
  } catch {
    // an unparsable body is summarised by its size below
  }
  return { bytes: request.body.length };
}
