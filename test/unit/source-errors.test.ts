import { describe, expect, it } from 'vitest';
import { toSourceError } from '../../src/sources/s3.js';

/** What the SDK throws, as Ceph and S3 answer: the error name from the XML body (none for HEAD) and the status. */
function sdkError(name: string, status: number): Error {
  return Object.assign(new Error(`${name} message`), { name, $metadata: { httpStatusCode: status } });
}

describe('toSourceError names the right fix', () => {
  it.each<[string, Error, 'list' | 'read', string | undefined, string, RegExp]>([
    ['a wrong secret (403 SignatureDoesNotMatch)', sdkError('SignatureDoesNotMatch', 403), 'list', undefined, 'credentials_invalid', /S3 rejected the credentials \(SignatureDoesNotMatch\): check AWS_ACCESS_KEY_ID/],
    ['an unknown key id (403 InvalidAccessKeyId)', sdkError('InvalidAccessKeyId', 403), 'list', undefined, 'credentials_invalid', /S3 rejected the credentials \(InvalidAccessKeyId\)/],
    ['a listing denied by policy', sdkError('AccessDenied', 403), 'list', undefined, 'access_denied', /access denied to bucket 'media': grant the credentials s3:ListBucket on arn:aws:s3:::media$/],
    ['a HEAD denied (no body: no name)', sdkError('Unknown', 403), 'read', 'a/b.mp4', 'access_denied', /access denied to s3:\/\/media\/a\/b\.mp4: grant the credentials s3:GetObject on arn:aws:s3:::media\/\*/],
    ['a missing bucket', sdkError('NoSuchBucket', 404), 'list', undefined, 'bucket_missing', /S3 bucket 'media' does not exist: check the bucket name in --source/],
    [
      'no connection within the connect timeout',
      Object.assign(new Error('@smithy/node-http-handler - the request socket did not establish a connection with the server within the configured timeout of 10000 ms.'), { name: 'TimeoutError' }),
      'list',
      undefined,
      's3_timeout',
      /^S3 did not accept a connection within 10 s for bucket 'media' \(5 attempts\): check --s3-endpoint \/ AWS_ENDPOINT_URL_S3 and the network, or raise --s3-connect-timeout$/,
    ],
    [
      'no answer within the request timeout',
      Object.assign(new Error('@smithy/node-http-handler - [ERROR] a request has exceeded the configured 30000 ms requestTimeout.'), { name: 'TimeoutError', code: 'ETIMEDOUT' }),
      'read',
      'a/b.mp4',
      's3_timeout',
      /^S3 did not answer within 30 s for s3:\/\/media\/a\/b\.mp4 \(5 attempts\): .* or raise --s3-request-timeout$/,
    ],
    [
      'a body silent past the socket timeout',
      Object.assign(new Error('@smithy/node-http-handler - the request socket timed out after 30000 ms of inactivity (configured by client requestHandler).'), { name: 'TimeoutError' }),
      'list',
      undefined,
      's3_timeout',
      /^S3 did not answer within 30 s for bucket 'media' .*--s3-request-timeout$/,
    ],
  ])('%s', (_case, error, action, key, code, message) => {
    const mapped = toSourceError(error, 'media', action, key);
    expect(mapped.code).toBe(code);
    expect(mapped.message).toMatch(message);
  });
});
