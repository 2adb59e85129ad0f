import type { S3Client } from '@aws-sdk/client-s3';
import { s3Sdk } from './aws-s3.js';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { SourceError } from '../errors.js';
import { DEFAULT_S3_REQUEST_TIMEOUT_S, s3Failure, stripQuotes, timeoutError } from './s3.js';
import { guardSilence } from './silence.js';
import type { ListOptions, SourceLister, SourceObject } from './types.js';

interface InventoryManifest {
  sourceBucket?: string;
  fileFormat?: string;
  fileSchema?: string;
  files?: Array<{ key: string }>;
}

/**
 * Lists a bucket from an S3 Inventory report (CSV, gzip) instead of ListObjectsV2: for buckets of
 * tens of millions of keys. Streams each data file; never holds the whole report. Its client is
 * built with `streaming` (the planner may pause reading for minutes), so silence is guarded here.
 */
export class InventoryLister implements SourceLister {
  private manifest: InventoryManifest | undefined;

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly manifestKey: string,
    private readonly sourceBucket: string,
    /** `--s3-request-timeout`: the server silent that long while we wait for data fails the listing. */
    private readonly idleTimeoutMs = DEFAULT_S3_REQUEST_TIMEOUT_S * 1000,
  ) {}

  async checkAccess(signal?: AbortSignal): Promise<void> {
    const text = await this.getText(this.manifestKey, signal);
    let manifest: InventoryManifest;
    try {
      manifest = JSON.parse(text) as InventoryManifest;
    } catch (cause) {
      throw new SourceError('inventory_invalid', `--inventory s3://${this.bucket}/${this.manifestKey} is not a manifest.json: point it at the report's manifest.json`, { cause });
    }
    if ((manifest.fileFormat ?? 'CSV').toUpperCase() !== 'CSV' || !manifest.fileSchema || !Array.isArray(manifest.files)) {
      throw new SourceError('inventory_invalid', `--inventory manifest has format ${manifest.fileFormat ?? '?'}: tlmigrate reads CSV inventory reports (configure the report as CSV)`);
    }
    if (manifest.sourceBucket && manifest.sourceBucket !== this.sourceBucket) {
      throw new SourceError('inventory_mismatch', `--inventory lists bucket '${manifest.sourceBucket}', not '${this.sourceBucket}' from --source: use the report of that bucket`);
    }
    this.manifest = manifest;
  }

  async *list(options: ListOptions, signal?: AbortSignal): AsyncIterable<SourceObject> {
    if (!this.manifest) await this.checkAccess(signal);
    const manifest = this.manifest as InventoryManifest;
    const schema = (manifest.fileSchema ?? '').split(',').map((f) => f.trim());
    const col = (name: string) => schema.indexOf(name);
    const [iKey, iSize, iModified, iEtag, iClass] = [col('Key'), col('Size'), col('LastModifiedDate'), col('ETag'), col('StorageClass')];
    const iDelete = col('IsDeleteMarker');
    const iLatest = col('IsLatest');
    if (iKey === -1 || iSize === -1 || iEtag === -1) {
      throw new SourceError('inventory_invalid', 'the inventory report lacks Key, Size or ETag: enable the Size and ETag fields in the inventory configuration');
    }
    for (const file of manifest.files ?? []) {
      const body = await this.getStream(file.key, signal);
      const lines = createInterface({ input: body.pipe(createGunzip()), crlfDelay: Infinity });
      let lineNo = 0;
      for await (const line of lines) {
        lineNo += 1;
        if (!line) continue;
        const fields = parseCsvLine(line);
        if (iDelete !== -1 && fields[iDelete] === 'true') continue;
        if (iLatest !== -1 && fields[iLatest] === 'false') continue;
        const key = decodeKey(fields[iKey] ?? '', file.key, lineNo);
        if (!key.startsWith(options.prefix)) continue;
        yield {
          key,
          size: Number(fields[iSize] ?? 0),
          etag: stripQuotes(fields[iEtag] ?? ''),
          lastModified: iModified === -1 ? new Date(0).toISOString() : (fields[iModified] ?? ''),
          storageClass: iClass === -1 ? undefined : fields[iClass],
        };
      }
    }
  }

  private async getStream(key: string, signal?: AbortSignal): Promise<Readable> {
    try {
      const out = await this.client.send(new (s3Sdk().GetObjectCommand)({ Bucket: this.bucket, Key: key }), { abortSignal: signal });
      return guardSilence(out.Body as Readable, this.idleTimeoutMs, () => timeoutError(`${this.idleTimeoutMs} ms`, `s3://${this.bucket}/${key}`));
    } catch (error) {
      throw s3Failure(error, this.bucket, 'read', key, signal);
    }
  }

  private async getText(key: string, signal?: AbortSignal): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of await this.getStream(key, signal)) chunks.push(Buffer.from(chunk as Buffer));
    return Buffer.concat(chunks).toString('utf8');
  }
}

/** Inventory keys are URL-encoded UTF-8; S3 keys cannot be anything else, so a key that does not decode is a damaged report. */
function decodeKey(encoded: string, file: string, lineNo: number): string {
  try {
    return decodeURIComponent(encoded.replace(/\+/g, ' '));
  } catch (cause) {
    throw new SourceError('inventory_invalid', `inventory file ${file} line ${lineNo}: key '${encoded.slice(0, 200)}' is not URL-encoded UTF-8: the report is damaged; use the next day's report or plan without --inventory`, { cause });
  }
}

/** One CSV record (inventory reports quote every field and never break lines inside one). */
export function parseCsvLine(line: string): string[] {
  const fields: string[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let value = '';
      i += 1;
      for (;;) {
        const quote = line.indexOf('"', i);
        if (quote === -1) {
          value += line.slice(i);
          i = line.length;
          break;
        }
        value += line.slice(i, quote);
        if (line[quote + 1] === '"') {
          value += '"';
          i = quote + 2;
        } else {
          i = quote + 1;
          break;
        }
      }
      fields.push(value);
      i += 1;
    } else {
      const comma = line.indexOf(',', i);
      const end = comma === -1 ? line.length : comma;
      fields.push(line.slice(i, end));
      i = end + 1;
    }
  }
  return fields;
}
