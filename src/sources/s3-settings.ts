import { ConfigError } from '../errors.js';

// No AWS SDK import here: the CLI reads these defaults for its flags without loading the SDK.

export interface S3Settings {
  /** `--s3-endpoint`, else AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL. */
  endpoint?: string | undefined;
  region?: string | undefined;
  /** `--s3-connect-timeout`: a connection not established by then is a failed attempt. */
  connectTimeoutMs?: number | undefined;
  /** `--s3-request-timeout`: no answer, or a body silent that long, is a failed attempt. */
  requestTimeoutMs?: number | undefined;
}

export const DEFAULT_S3_CONNECT_TIMEOUT_S = 10;
export const DEFAULT_S3_REQUEST_TIMEOUT_S = 30;
/** Attempts per S3 request (the SDK's own retries: throttles, 5xx, resets, timeouts); worst case about 5 x the request timeout. */
export const S3_MAX_ATTEMPTS = 5;

/** Resolves endpoint and region the way the AWS CLI does, plus our flags. */
export function resolveS3Settings(flags: S3Settings, env: NodeJS.ProcessEnv): Required<Pick<S3Settings, 'region' | 'connectTimeoutMs' | 'requestTimeoutMs'>> & S3Settings {
  const [endpoint, from] =
    flags.endpoint !== undefined ? [flags.endpoint, '--s3-endpoint'] : env.AWS_ENDPOINT_URL_S3 ? [env.AWS_ENDPOINT_URL_S3, 'AWS_ENDPOINT_URL_S3'] : [env.AWS_ENDPOINT_URL, 'AWS_ENDPOINT_URL'];
  const region = flags.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
  if (endpoint) checkEndpoint(endpoint, from);
  const connectTimeoutMs = flags.connectTimeoutMs ?? DEFAULT_S3_CONNECT_TIMEOUT_S * 1000;
  const requestTimeoutMs = flags.requestTimeoutMs ?? DEFAULT_S3_REQUEST_TIMEOUT_S * 1000;
  for (const [flag, ms] of [['--s3-connect-timeout', connectTimeoutMs], ['--s3-request-timeout', requestTimeoutMs]] as const) {
    if (!Number.isFinite(ms) || ms <= 0) throw new ConfigError('s3_timeout_invalid', `${flag} ${ms / 1000} must be a positive number of seconds`);
  }
  return { endpoint: endpoint || undefined, region, connectTimeoutMs, requestTimeoutMs };
}

/** The SDK would say `TypeError: Invalid URL` (or worse, nothing) for an endpoint without a scheme. */
function checkEndpoint(endpoint: string, from: string): void {
  const example = /^[\w.-]+(:\d+)?(\/.*)?$/.test(endpoint) ? `http://${endpoint} (or https://${endpoint})` : 'https://s3.example.com or http://127.0.0.1:9000';
  let url: URL | undefined;
  try {
    url = new URL(endpoint);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname) {
    throw new ConfigError('s3_endpoint_invalid', `${from} '${endpoint}' is not an http(s) URL: write it with its scheme, e.g. ${example}`);
  }
}
