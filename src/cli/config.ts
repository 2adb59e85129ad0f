import type { S3Client } from '@aws-sdk/client-s3';
import { systemClock } from '../clock.js';
import type { Logger } from '../log.js';
import type { Progress } from './progress.js';
import { ApiError, ConfigError, TransportError } from '../errors.js';
import { DEFAULT_BASE_URL, TwelveLabsClient } from '../twelvelabs/client.js';
import type { RequestGate } from '../twelvelabs/pacer.js';
import type { GateRouter } from '../twelvelabs/pacers.js';
import type { IndexInfo } from '../twelvelabs/types.js';

/** What a command receives from its composition root (the CLI's argv parser, or the library's functions). */
export interface CommandDeps {
  env: NodeJS.ProcessEnv;
  log: Logger;
  progress: Progress;
  stop: AbortSignal;
  /** An S3 client to read the source with (default: one built from the flags and the environment). */
  s3?: S3Client | undefined;
  /** The HTTP transport for the Twelve Labs API (default: the global fetch). */
  fetch?: typeof globalThis.fetch | undefined;
}

/** `TWELVELABS_API_KEY`, else the official SDK's `TWELVE_LABS_API_KEY`. */
export function resolveApiKey(env: NodeJS.ProcessEnv): string {
  const key = (env.TWELVELABS_API_KEY ?? env.TWELVE_LABS_API_KEY ?? '').trim();
  if (!key) throw new ConfigError('api_key_missing', 'TWELVELABS_API_KEY is not set: export TWELVELABS_API_KEY=tlk_... (your key from the Twelve Labs dashboard)');
  return key;
}

/** `--api-url`, else `TWELVELABS_BASE_URL`, else the real API. */
export function resolveBaseUrl(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  const raw = flag ?? env.TWELVELABS_BASE_URL ?? DEFAULT_BASE_URL;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('api_url_invalid', `--api-url '${raw}' is not a URL: use e.g. ${DEFAULT_BASE_URL}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError('api_url_invalid', `--api-url '${raw}' must be http(s): use e.g. ${DEFAULT_BASE_URL}`);
  return raw.replace(/\/+$/, '');
}

export function createApiClient(options: {
  apiUrl?: string | undefined;
  env: NodeJS.ProcessEnv;
  gate?: RequestGate | GateRouter;
  timeoutMs?: number;
  fetch?: typeof globalThis.fetch | undefined;
}): TwelveLabsClient {
  return new TwelveLabsClient({
    baseUrl: resolveBaseUrl(options.apiUrl, options.env),
    apiKey: resolveApiKey(options.env),
    clock: systemClock,
    ...(options.gate ? { gate: options.gate } : {}),
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
}

/** Fails fast, before any listing: invalid key, unknown index, unreachable API. */
export async function connectIndex(client: TwelveLabsClient, indexId: string, apiUrl: string, signal?: AbortSignal): Promise<IndexInfo> {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(indexId)) throw new ConfigError('index_invalid', `--index '${indexId}' is not an index id: copy the 24-character id from the dashboard`);
  try {
    return await client.getIndex(indexId, signal);
  } catch (error) {
    if (error instanceof ApiError) {
      if (error.code === 'api_redirect') throw new ConfigError('api_redirect', `the Twelve Labs API at ${apiUrl} ${error.apiMessage}`, { cause: error });
      if (error.status === 401 || error.code === 'api_key_invalid') {
        throw new ConfigError('api_key_invalid', 'the Twelve Labs API rejected TWELVELABS_API_KEY (401 api_key_invalid): check the key in the dashboard', { cause: error });
      }
      if (error.status === 404 && !hasVersionPath(apiUrl)) {
        throw new ConfigError('api_url_version_missing', `the API URL ${apiUrl} has no version path (404 for the index): end it with /v1.3, e.g. ${apiUrl}/v1.3 (--api-url / TWELVELABS_BASE_URL)`, { cause: error });
      }
      if (error.status === 404 || error.code === 'resource_not_exist' || error.code === 'index_not_found') {
        throw new ConfigError('index_not_found', `index ${indexId} does not exist for this API key: check --index`, { cause: error });
      }
      throw new ConfigError('api_error', `cannot read index ${indexId}: ${error.status} ${error.code}: ${error.apiMessage}`, { cause: error });
    }
    if (error instanceof TransportError) {
      throw new ConfigError('api_unreachable', `cannot reach the Twelve Labs API at ${apiUrl} (${error.code}): check --api-url / TWELVELABS_BASE_URL and the network`, { cause: error });
    }
    throw error;
  }
}

/** `https://api.twelvelabs.io/v1.3`: the path ends in a version segment (`/v1`, `/v1.3`, `/v2.0`). */
export function hasVersionPath(apiUrl: string): boolean {
  try {
    return /\/v\d+(\.\d+)*\/?$/.test(new URL(apiUrl).pathname);
  } catch {
    return false;
  }
}
