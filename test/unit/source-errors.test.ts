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
  ])('%s', (_case, error, action, key, code, message) => {
    const mapped = toSourceError(error, 'media', action, key);
    expect(mapped.code).toBe(code);
    expect(mapped.message).toMatch(message);
  });
});
