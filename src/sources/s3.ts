import { Readable } from 'node:stream';
import type { ListObjectsV2CommandInput, ListObjectsV2CommandOutput, S3Client } from '@aws-sdk/client-s3';
import type { DeserializeMiddleware } from '@smithy/types';
import { s3Sdk } from './aws-s3.js';
import { SourceError } from '../errors.js';
import { DEFAULT_S3_CONNECT_TIMEOUT_S, DEFAULT_S3_REQUEST_TIMEOUT_S, S3_MAX_ATTEMPTS, type S3Settings } from './s3-settings.js';
import { parseListObjectsV2, stripQuotes } from './list-xml.js';
import { listInParallel, type ListPage, type PageLister, type PageQuery } from './parallel-list.js';
import type { ListOptions, SourceLister, SourceObject, UrlSigner } from './types.js';

export { stripQuotes } from './list-xml.js';
export { DEFAULT_S3_CONNECT_TIMEOUT_S, DEFAULT_S3_REQUEST_TIMEOUT_S, S3_MAX_ATTEMPTS, resolveS3Settings, type S3Settings } from './s3-settings.js';

/**
 * The only place an S3Client is built. Credentials come from the SDK's default chain. With
 * `streaming`, a body may pause as long as its reader does (the reader guards silence itself).
 */
export function createS3Client(settings: S3Settings, options: { streaming?: boolean } = {}): S3Client {
  const requestTimeout = settings.requestTimeoutMs ?? DEFAULT_S3_REQUEST_TIMEOUT_S * 1000;
  return new (s3Sdk().S3Client)({
    region: settings.region ?? 'us-east-1',
    ...(settings.endpoint ? { endpoint: settings.endpoint, forcePathStyle: true } : {}),
    // The SDK retries throttles (503 SlowDown) and timeouts itself; we never wrap S3 calls in another retry loop.
    maxAttempts: S3_MAX_ATTEMPTS,
    requestHandler: {
      connectionTimeout: settings.connectTimeoutMs ?? DEFAULT_S3_CONNECT_TIMEOUT_S * 1000,
      // Until the answer's headers; the socket timeout then covers a body that stops arriving.
      requestTimeout,
      throwOnRequestTimeout: true,
      ...(options.streaming ? {} : { socketTimeout: requestTimeout }),
    },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** A bucket (and prefix) seen through the S3 API: lists, heads, signs. */
export class S3Source implements SourceLister, PageLister, UrlSigner {
  constructor(
    private readonly client: S3Client,
    readonly bucket: string,
    /** Key ranges listed at once, as rclone's default --checkers. */
    private readonly listConcurrency = 8,
  ) {}

  /** Fails fast with a clear line when the bucket is missing or not listable. */
  async checkAccess(prefix: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.client.send(new (s3Sdk().ListObjectsV2Command)({ Bucket: this.bucket, Prefix: prefix, MaxKeys: 1 }), { abortSignal: signal });
    } catch (error) {
      throw s3Failure(error, this.bucket, 'list', undefined, signal);
    }
  }

  /** Every object under the prefix, in key order; ranges of it cut at its folders are listed in parallel (see listInParallel). */
  list(options: ListOptions, signal?: AbortSignal): AsyncIterable<SourceObject> {
    return listInParallel(this, { prefix: options.prefix, concurrency: this.listConcurrency }, signal);
  }

  /**
   * One ListObjectsV2 page (1000 keys), with Delimiter '/' when asked. Sent by the SDK (signing,
   * credentials, retries, errors as for every S3 call), but a successful answer's XML is read by
   * parseListObjectsV2 instead of the SDK's generic parser (see readListingBody).
   */
  async listPage(query: PageQuery, signal?: AbortSignal): Promise<ListPage> {
    const command = new (s3Sdk().ListObjectsV2Command)({
      Bucket: this.bucket,
      Prefix: query.prefix || undefined,
      Delimiter: query.delimiter,
      ContinuationToken: query.token,
      StartAfter: query.startAfter || undefined,
      MaxKeys: 1000,
    });
    let page: ListPage | undefined;
    command.middlewareStack.addRelativeTo(readListingBody(this.client, (parsed) => (page = parsed)), READ_LISTING_BODY);
    try {
      await this.client.send(command, { abortSignal: signal });
    } catch (error) {
      throw s3Failure(error, this.bucket, 'list', undefined, signal);
    }
    if (!page) throw new SourceError('s3_error', `S3 list of bucket '${this.bucket}' failed: the answer had no listing: try again`);
    return page;
  }

  /** The "folders" right under `parent` (one ListObjectsV2 page with Delimiter '/'), to suggest a prefix that exists. */
  async childPrefixes(parent: string, signal?: AbortSignal): Promise<string[]> {
    try {
      const page = await this.client.send(new (s3Sdk().ListObjectsV2Command)({ Bucket: this.bucket, Prefix: parent || undefined, Delimiter: '/', MaxKeys: 1000 }), { abortSignal: signal });
      return (page.CommonPrefixes ?? []).flatMap((p) => (p.Prefix ? [p.Prefix] : []));
    } catch (error) {
      throw toSourceError(error, this.bucket, 'list');
    }
  }

  /**
   * One byte range of an object (`end` inclusive), only while its ETag is still `etag` (If-Match):
   * a changed object fails with `source_changed` instead of mixing two versions in one upload.
   */
  /**
   * Bytes `start..end` (inclusive) of the object, only while its ETag is `etag`, as the socket
   * delivers them: the caller pipes them on (multipart chunk PUTs) and destroys the stream when done.
   */
  async readRange(key: string, start: number, end: number, etag: string, signal?: AbortSignal): Promise<Readable> {
    try {
      const object = await this.client.send(new (s3Sdk().GetObjectCommand)({ Bucket: this.bucket, Key: key, Range: `bytes=${start}-${end}`, IfMatch: `"${etag}"` }), { abortSignal: signal });
      if (!(object.Body instanceof Readable)) throw new SourceError('source_short_read', `s3://${this.bucket}/${key}: no body for the bytes at ${start}: try again`);
      return object.Body;
    } catch (error) {
      if (error instanceof SourceError) throw error;
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 412) throw new SourceError('source_changed', `s3://${this.bucket}/${key} changed while it was being uploaded: re-plan`);
      throw s3Failure(error, this.bucket, 'read', key, signal);
    }
  }

  /** HEAD one object: current size and ETag, checksum when stored, restore state. */
  async head(key: string, signal?: AbortSignal): Promise<SourceObject | undefined> {
    try {
      const head = await this.client.send(new (s3Sdk().HeadObjectCommand)({ Bucket: this.bucket, Key: key, ChecksumMode: 'ENABLED' }), { abortSignal: signal });
      return {
        key,
        size: head.ContentLength ?? 0,
        etag: stripQuotes(head.ETag ?? ''),
        lastModified: (head.LastModified ?? new Date(0)).toISOString(),
        storageClass: head.StorageClass,
        restored: head.Restore ? head.Restore.includes('ongoing-request="false"') : undefined,
        sha256: head.ChecksumSHA256 && !head.ChecksumSHA256.includes('-') ? head.ChecksumSHA256 : undefined,
      };
    } catch (error) {
      const name = (error as { name?: string }).name;
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (name === 'NotFound' || name === 'NoSuchKey' || status === 404) return undefined;
      throw s3Failure(error, this.bucket, 'read', key, signal);
    }
  }

  /**
   * A URL signed just in time, never meant to outlive the credentials that sign it: temporary
   * credentials (a role, SSO, STS) are refreshed by the SDK's provider chain, so the expiry is
   * capped to the life left to the credentials used for this very URL. Credentials about to expire
   * are refreshed first; a refresh between reading them and signing is caught and signed again.
   */
  async presignGet(key: string, expiresInSeconds: number): Promise<string> {
    const provider = this.client.config.credentials as (options?: { forceRefresh?: boolean }) => Promise<{ accessKeyId: string; expiration?: Date | undefined }>;
    for (let attempt = 1; ; attempt++) {
      let credentials = await provider();
      if (lifeLeftSeconds(credentials.expiration, Date.now()) < MIN_URL_SECONDS) credentials = await provider({ forceRefresh: true });
      const expiresIn = presignLifetime(expiresInSeconds, credentials.expiration, Date.now());
      // Loaded on first use: only apply and --probe sign URLs, and the presigner costs start-up time.
      const { getSignedUrl } = await import('@aws-sdk/s3-request-presigner');
      const url = await getSignedUrl(this.client, new (s3Sdk().GetObjectCommand)({ Bucket: this.bucket, Key: key }), { expiresIn });
      if (signedBy(url) === credentials.accessKeyId || attempt >= 3) return url;
    }
  }
}

/**
 * Where the listing's own reader sits in the SDK's middleware stack: inside the deserializer, and
 * outside the S3 check that turns a 200 answer with an <Error> body into a 503 (which is retried).
 */
const READ_LISTING_BODY = { relation: 'before', toMiddleware: 'throw200ExceptionsMiddleware', name: 'tlmReadListingBody' } as const;

/** The SDK's deserializer reads this instead of the listing: an empty result, at no cost. */
const EMPTY_LISTING = new TextEncoder().encode('<ListBucketResult></ListBucketResult>');

/**
 * A middleware that reads a successful ListObjectsV2 answer's body (collected by the client's own
 * stream collector) with parseListObjectsV2, hands the page to `done`, and leaves the SDK's
 * deserializer an empty listing to read. Failures pass through untouched: the SDK reads their error.
 */
function readListingBody(client: S3Client, done: (page: ListPage) => void): DeserializeMiddleware<ListObjectsV2CommandInput, ListObjectsV2CommandOutput> {
  return (next) => async (args) => {
    const result = await next(args);
    const response = result.response;
    if (!isHttpResponse(response) || response.statusCode < 200 || response.statusCode >= 300) return result;
    const body = response.body instanceof Uint8Array ? response.body : await client.config.streamCollector(response.body);
    done(parseListObjectsV2(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')));
    response.body = EMPTY_LISTING;
    return result;
  };
}

function isHttpResponse(response: unknown): response is { statusCode: number; body: unknown } {
  return typeof response === 'object' && response !== null && 'statusCode' in response && typeof response.statusCode === 'number' && 'body' in response;
}

/** A URL shorter-lived than this is hardly worth posting: credentials that close to their end are refreshed first. */
const MIN_URL_SECONDS = 60;

function lifeLeftSeconds(expiration: Date | undefined, now: number): number {
  return expiration === undefined ? Number.POSITIVE_INFINITY : Math.floor((expiration.getTime() - now) / 1000);
}

/** The expiry of a URL signed now: the requested one, capped to the signing credentials' life left (at least 1 s). */
export function presignLifetime(requestedSeconds: number, expiration: Date | undefined, now: number): number {
  return Math.max(1, Math.min(requestedSeconds, lifeLeftSeconds(expiration, now)));
}

/** The access key id a SigV4 presigned URL names in X-Amz-Credential. */
function signedBy(url: string): string | undefined {
  return new URL(url).searchParams.get('X-Amz-Credential')?.split('/')[0];
}

/** A request aborted by the run's signal (Ctrl-C) fails with the signal's reason: an interruption, not an S3 fault. */
export function s3Failure(error: unknown, bucket: string, action: 'list' | 'read', key: string | undefined, signal: AbortSignal | undefined): unknown {
  return signal?.aborted ? signal.reason : toSourceError(error, bucket, action, key);
}

/** Maps SDK failures to one line naming the bucket and the fix. */
export function toSourceError(error: unknown, bucket: string, action: 'list' | 'read', key?: string): SourceError {
  const e = error as { name?: string; Code?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const name = e.name ?? e.Code ?? '';
  const status = e.$metadata?.httpStatusCode;
  const what = key === undefined ? `bucket '${bucket}'` : `s3://${bucket}/${key}`;
  if (name === 'TimeoutError') return timeoutError(e.message ?? '', what, error);
  if (name === 'NoSuchBucket' || (status === 404 && key === undefined)) {
    return new SourceError('bucket_missing', `S3 bucket '${bucket}' does not exist: check the bucket name in --source (and --s3-region / --s3-endpoint)`, { cause: error });
  }
  // Before the 403 test: S3 answers a wrong key or secret with 403 too, and the fix is not a permission.
  if (name === 'InvalidAccessKeyId' || name === 'SignatureDoesNotMatch') {
    return new SourceError('credentials_invalid', `S3 rejected the credentials (${name}): check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the AWS profile`, { cause: error });
  }
  if (name === 'AccessDenied' || name === 'Forbidden' || status === 403) {
    const permission = action === 'list' ? `s3:ListBucket on arn:aws:s3:::${bucket}` : `s3:GetObject on arn:aws:s3:::${bucket}/*`;
    return new SourceError('access_denied', `access denied to ${what}: grant the credentials ${permission}`, { cause: error });
  }
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(e.message ?? '')) {
    return new SourceError('credentials_missing', 'no AWS credentials found: set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run on a role', { cause: error });
  }
  const code = e.code ?? (error as { cause?: { code?: string } }).cause?.code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'ETIMEDOUT' || code === 'ECONNRESET') {
    return new SourceError('endpoint_unreachable', `cannot reach S3 for ${what} (${code}): check --s3-endpoint / AWS_ENDPOINT_URL_S3 and the network`, { cause: error });
  }
  return new SourceError('s3_error', `S3 ${action} of ${what} failed: ${name || 'error'}${status ? ` (HTTP ${status})` : ''}: ${(e.message ?? '').split('\n')[0]}`, { cause: error });
}

/** The SDK's timeout after its retries: one line naming the flag that sets it. */
export function timeoutError(message: string, what: string, cause?: unknown): SourceError {
  const ms = Number(/(\d+) ms/.exec(message)?.[1]);
  const after = Number.isFinite(ms) ? ` within ${ms / 1000} s` : '';
  if (/establish a connection/i.test(message)) {
    return new SourceError('s3_timeout', `S3 did not accept a connection${after} for ${what} (${S3_MAX_ATTEMPTS} attempts): check --s3-endpoint / AWS_ENDPOINT_URL_S3 and the network, or raise --s3-connect-timeout`, { cause });
  }
  return new SourceError('s3_timeout', `S3 did not answer${after} for ${what} (${S3_MAX_ATTEMPTS} attempts): check --s3-endpoint / AWS_ENDPOINT_URL_S3 and the network, or raise --s3-request-timeout`, { cause });
}
