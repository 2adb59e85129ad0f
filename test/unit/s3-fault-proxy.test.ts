import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestIdentity, startS3FaultProxy, type S3FaultProxy } from '../helpers/s3-fault-proxy.js';

// The chaos driver caps faults in a row so the SDK's own retries (5 attempts) get through. With
// parallel listing, another page's success fell between one page's retries and reset a cap kept
// per request kind: one page then failed 5 times in a row and the plan exited 2 (CI, seed 5).
describe('S3 fault proxy: maxInARow counts the attempts of one request', () => {
  let upstream: Server;
  let proxy: S3FaultProxy;

  beforeAll(async () => {
    upstream = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/xml' }).end('<ListBucketResult/>'));
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    proxy = await startS3FaultProxy(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`);
  });
  afterAll(async () => {
    await proxy.close();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
  });

  const list = async (prefix: string, attempt: number): Promise<number> => {
    const answer = await fetch(`${proxy.endpoint}/bucket?list-type=2&prefix=${prefix}&X-Amz-Date=2026120${attempt}T000000Z`);
    await answer.arrayBuffer();
    return answer.status;
  };

  it("another request's attempts between one request's retries do not reset its count", async () => {
    proxy.setRules([{ kinds: ['list'], action: 'slowdown', rate: 1, maxInARow: 2 }]);
    const statuses = [await list('a/', 1), await list('a/', 2), await list('b/', 1), await list('b/', 2), await list('a/', 3), await list('b/', 3)];
    expect(statuses).toEqual([503, 503, 503, 503, 200, 200]);
    // A success ends the request's streak: its next attempt may fault again.
    expect(await list('a/', 4)).toBe(503);
  });

  it("one request is its method, path and query without the signing parameters", () => {
    const a = requestIdentity({ method: 'GET', url: '/b/k?X-Amz-Signature=1&X-Amz-Date=1&partNumber=2' });
    const b = requestIdentity({ method: 'GET', url: '/b/k?partNumber=2&X-Amz-Signature=2&X-Amz-Date=2' });
    expect(a).toBe(b);
    expect(requestIdentity({ method: 'HEAD', url: '/b/k' })).not.toBe(requestIdentity({ method: 'GET', url: '/b/k' }));
    expect(requestIdentity({ method: 'GET', url: '/b?prefix=a%2F' })).not.toBe(requestIdentity({ method: 'GET', url: '/b?prefix=b%2F' }));
  });
});
