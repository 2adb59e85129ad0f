import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { parseListObjectsV2, xmlText } from '../../src/sources/list-xml.js';
import { S3Source, createS3Client } from '../../src/sources/s3.js';

const doc = (body: string) => `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix></Prefix><MaxKeys>1000</MaxKeys>${body}</ListBucketResult>`;
const contents = (fields: string) => `<Contents>${fields}</Contents>`;

describe('parseListObjectsV2', () => {
  it('reads each object: key, size, ETag without quotes, last modified, storage class', () => {
    const page = parseListObjectsV2(
      doc(
        `<IsTruncated>true</IsTruncated><NextContinuationToken>tok/+=</NextContinuationToken><KeyCount>2</KeyCount>` +
          contents('<Key>a.mp4</Key><LastModified>2026-01-02T03:04:05.678Z</LastModified><ETag>&quot;0123abcd&quot;</ETag><Size>1024</Size><StorageClass>STANDARD</StorageClass><Owner><ID>o</ID></Owner>') +
          contents('<Key>b/c.mp4</Key><LastModified>2026-01-02T03:04:05Z</LastModified><ETag>"abc-2"</ETag><Size>0</Size><StorageClass>GLACIER</StorageClass>'),
      ),
    );
    expect(page).toEqual({
      objects: [
        { key: 'a.mp4', size: 1024, etag: '0123abcd', lastModified: '2026-01-02T03:04:05.678Z', storageClass: 'STANDARD', restored: undefined },
        { key: 'b/c.mp4', size: 0, etag: 'abc-2', lastModified: '2026-01-02T03:04:05.000Z', storageClass: 'GLACIER', restored: undefined },
      ],
      prefixes: [],
      next: 'tok/+=',
    });
  });

  it('decodes keys as XML text: the five entities, character references, CDATA; nothing else changes', () => {
    const cases: Array<[string, string]> = [
      ['amp &amp; lt &lt; gt &gt; &quot;q&quot; &apos;a&apos;.mp4', `amp & lt < gt > "q" 'a'.mp4`],
      ['plus+sign %20 literal.mp4', 'plus+sign %20 literal.mp4'],
      ['&#9;tab&#x1F3AC;&#233;.mp4', '\ttab\u{1F3AC}é.mp4'],
      [' spaces at both ends ', ' spaces at both ends '],
      ['<![CDATA[a<&>b]]>&amp;c', 'a<&>b&c'],
      ['\u{1F3AC}/é.mp4', '\u{1F3AC}/é.mp4'],
    ];
    for (const [raw, key] of cases) expect(parseListObjectsV2(doc(contents(`<Key>${raw}</Key><Size>1</Size>`))).objects[0]?.key).toBe(key);
    expect(xmlText('no entities')).toBe('no entities');
  });

  it('reads the common prefixes, and a listing without IsTruncated as the last page', () => {
    const page = parseListObjectsV2(doc('<CommonPrefixes><Prefix>a/</Prefix></CommonPrefixes><CommonPrefixes><Prefix>b &amp; c/</Prefix></CommonPrefixes>'));
    expect(page).toEqual({ objects: [], prefixes: ['a/', 'b & c/'], next: undefined });
    expect(parseListObjectsV2(doc('<IsTruncated>false</IsTruncated><NextContinuationToken>x</NextContinuationToken>')).next).toBeUndefined();
  });

  it('reads a restore state when the listing carries one', () => {
    const restored = (status: string) => parseListObjectsV2(doc(contents(`<Key>k</Key><RestoreStatus>${status}</RestoreStatus>`))).objects[0]?.restored;
    expect(restored('<IsRestoreInProgress>false</IsRestoreInProgress><RestoreExpiryDate>2026-02-01T00:00:00.000Z</RestoreExpiryDate>')).toBe(true);
    expect(restored('<IsRestoreInProgress>true</IsRestoreInProgress>')).toBe(false);
    expect(parseListObjectsV2(doc(contents('<Key>k</Key><StorageClass/>'))).objects[0]).toMatchObject({ storageClass: '', restored: undefined, size: 0, etag: '', lastModified: '1970-01-01T00:00:00.000Z' });
  });

  it('reads an empty root element as an empty last page', () => {
    expect(parseListObjectsV2('<?xml version="1.0"?><ListBucketResult xmlns="x"/>')).toEqual({ objects: [], prefixes: [], next: undefined });
  });

  it('refuses what is not a whole ListBucketResult', () => {
    expect(() => parseListObjectsV2('<Error><Code>SlowDown</Code></Error>')).toThrow('not a whole ListBucketResult');
    expect(() => parseListObjectsV2(doc(contents('<Key>a</Key>')).slice(0, -30))).toThrow('not a whole ListBucketResult');
    expect(() => parseListObjectsV2(doc('<Contents><Key>a</Key>'))).toThrow('<Contents> that never closes');
    expect(() => parseListObjectsV2(doc(contents('<Size>1</Size>')))).toThrow('has no Key');
    expect(() => parseListObjectsV2(doc(contents('<Key>a</Key><LastModified>yesterday</LastModified>')))).toThrow('not a time');
  });
});

/** An S3 stand-in that answers each ListObjectsV2 request with the next of `answers` (the last one again when they run out). */
async function scriptedS3(answers: Array<[number, string]>): Promise<{ endpoint: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    requests.push(req.url ?? '');
    const [status, body] = answers[Math.min(requests.length, answers.length) - 1] ?? [500, ''];
    res.writeHead(status, { 'content-type': 'application/xml' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('S3Source.listPage: sent by the SDK, read by parseListObjectsV2', () => {
  const page = doc(`<IsTruncated>true</IsTruncated><NextContinuationToken>next</NextContinuationToken>${contents('<Key>a &amp; b.mp4</Key><Size>7</Size><ETag>&quot;e1&quot;</ETag><LastModified>2026-01-02T03:04:05.000Z</LastModified>')}<CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes>`);
  const slowDown = '<?xml version="1.0"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>';

  const withS3 = async (answers: Array<[number, string]>, body: (source: S3Source, requests: string[]) => Promise<void>) => {
    const s3 = await scriptedS3(answers);
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIAEXAMPLE');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'secret');
    try {
      await body(new S3Source(createS3Client({ endpoint: s3.endpoint, region: 'us-east-1' }), 'bucket'), s3.requests);
    } finally {
      vi.unstubAllEnvs();
      await s3.close();
    }
  };

  it("keeps the SDK's retries: a 503 SlowDown and a 200 whose body is an <Error> are sent again, then the page is read", async () => {
    await withS3([[503, slowDown], [200, slowDown], [200, page]], async (source, requests) => {
      expect(await source.listPage({ prefix: '', delimiter: '/' })).toEqual({
        objects: [{ key: 'a & b.mp4', size: 7, etag: 'e1', lastModified: '2026-01-02T03:04:05.000Z', storageClass: undefined, restored: undefined }],
        prefixes: ['p/'],
        next: 'next',
      });
      expect(requests).toHaveLength(3);
      expect(requests[0]).toContain('list-type=2');
    });
  });

  it("keeps the SDK's errors: a 403 is access denied, naming the permission", async () => {
    const denied = '<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>';
    await withS3([[403, denied]], async (source) => {
      await expect(source.listPage({ prefix: '' })).rejects.toMatchObject({ code: 'access_denied' });
    });
  });

  it('a 200 that is not a listing fails the page with one line (not retried: the SDK would not retry its own parse error)', async () => {
    await withS3([[200, '<html>a proxy page</html>']], async (source, requests) => {
      await expect(source.listPage({ prefix: '' })).rejects.toMatchObject({ code: 's3_error', message: expect.stringContaining('not a whole ListBucketResult') });
      expect(requests).toHaveLength(1);
    });
  });
});
