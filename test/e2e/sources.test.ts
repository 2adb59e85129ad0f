import { PutObjectCommand } from '@aws-sdk/client-s3';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { S3Source, createS3Client } from '../../src/sources/s3.js';
import { TwelveLabsClient } from '../../src/twelvelabs/client.js';
import { CLI, runCli } from '../helpers/cli.js';
import { putObjects } from '../helpers/s3.js';
import { uniqueValidVideo } from '../helpers/videos.js';
import { makeWorld, type World } from '../helpers/world.js';

describe('presigned URLs from tlmigrate, fetched by the simulator', () => {
  let w: World;
  let source: S3Source;
  let api: TwelveLabsClient;
  beforeAll(async () => {
    w = await makeWorld('presign');
    await putObjects(w.s3, w.bucket, [{ key: 'in folder/clip one.mp4', body: await uniqueValidVideo(77) }]);
    source = new S3Source(createS3Client({ endpoint: w.s3info.endpoint, region: w.s3info.region }), w.bucket);
    api = new TwelveLabsClient({ baseUrl: w.sim.url, apiKey: w.sim.apiKey, clock: systemClock });
    process.env.AWS_ACCESS_KEY_ID = w.s3info.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = w.s3info.secretAccessKey;
  });
  afterAll(() => w?.close());

  it('a URL signed by src/sources/s3.ts is fetched (Range) and the task gets ready, named after the decoded key', async () => {
    const url = await source.presignGet('in folder/clip one.mp4', 600);
    const created = await api.createTask({ indexId: w.indexId, videoUrl: url, enableVideoStream: false, userMetadata: { tlm_source: 'x' } });
    const task = await w.sim.waitForTask(created.taskId);
    expect(task.status).toBe('ready');
    expect(task.filename).toBe('clip one.mp4');
  });

  it('a tampered signature fails the task, as S3 refuses the fetch', async () => {
    const url = new URL(await source.presignGet('in folder/clip one.mp4', 600));
    const signature = url.searchParams.get('X-Amz-Signature') ?? '';
    url.searchParams.set('X-Amz-Signature', `${signature.slice(0, -1)}${signature.endsWith('0') ? '1' : '0'}`);
    const created = await api.createTask({ indexId: w.indexId, videoUrl: url.toString(), enableVideoStream: false, userMetadata: {} });
    const task = await w.sim.waitForTask(created.taskId);
    expect(task.status).toBe('failed');
    expect(task.failure?.message).toMatch(/403/);
  });
});

describe('plan --inventory reads an S3 Inventory report instead of listing', () => {
  let w: World;
  beforeAll(async () => {
    w = await makeWorld('inventory');
  });
  afterAll(() => w?.close());

  it('plans exactly the keys of the report (URL-encoded keys, quoted CSV)', async () => {
    const put = await putObjects(w.s3, w.bucket, [
      { key: 'media/a b.mp4', body: await uniqueValidVideo(301) },
      { key: 'media/c,d.mp4', body: await uniqueValidVideo(302) },
      { key: 'media/not-in-report.mp4', body: await uniqueValidVideo(303) },
    ]);
    const row = (key: string) => {
      const p = put.find((x) => x.key === key);
      return [w.bucket, encodeURIComponent(key).replace(/%20/g, '+'), String(p?.size), '2026-01-01T00:00:00.000Z', (p?.etag ?? '').replace(/"/g, ''), 'STANDARD'].map((f) => `"${f}"`).join(',');
    };
    const csv = gzipSync(`${row('media/a b.mp4')}\n${row('media/c,d.mp4')}\n`);
    await w.s3.send(new PutObjectCommand({ Bucket: w.bucket, Key: 'inv/data/part-0.csv.gz', Body: csv }));
    const manifest = { sourceBucket: w.bucket, fileFormat: 'CSV', fileSchema: 'Bucket, Key, Size, LastModifiedDate, ETag, StorageClass', files: [{ key: 'inv/data/part-0.csv.gz' }] };
    await w.s3.send(new PutObjectCommand({ Bucket: w.bucket, Key: 'inv/manifest.json', Body: JSON.stringify(manifest) }));
    const out = join(w.dir, 'plan.json');
    const result = await runCli(['plan', '--source', `s3://${w.bucket}/media/`, '--index', w.indexId, '--inventory', `s3://${w.bucket}/inv/manifest.json`, '--json', '--out', out], w.env);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout).counts).toEqual({ upload: 2, skip: 0, fail: 0 });
    const plan = JSON.parse(readFileSync(out, 'utf8')) as { items: Array<{ key: string; etag: string }> };
    expect(plan.items.map((i) => i.key).sort()).toEqual(['media/a b.mp4', 'media/c,d.mp4']);
  });
});

describe('packaging', () => {
  it('npm pack gives a tarball that installs into an empty folder and runs tlmigrate --help', () => {
    const root = join(CLI, '..', '..', '..');
    const dir = mkdtempSync(join(tmpdir(), 'tlm-pack-'));
    execFileSync('npm', ['pack', '--pack-destination', dir, '--ignore-scripts'], { cwd: root, stdio: 'pipe' });
    const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
    expect(tarball).toBeDefined();
    const app = join(dir, 'app');
    execFileSync('npm', ['init', '-y'], { cwd: dir, stdio: 'pipe' });
    execFileSync('mkdir', ['-p', app]);
    execFileSync('npm', ['init', '-y'], { cwd: app, stdio: 'pipe' });
    execFileSync('npm', ['install', '--no-audit', '--no-fund', join(dir, tarball ?? '')], { cwd: app, stdio: 'pipe', timeout: 240_000 });
    expect(existsSync(join(app, 'node_modules', 'tlmigrate', 'dist', 'cli', 'main.js'))).toBe(true);
    const help = execFileSync('npx', ['--no-install', 'tlmigrate', '--help'], { cwd: app, encoding: 'utf8' });
    expect(help).toMatch(/tlmigrate plan/);
    expect(help).toMatch(/tlmigrate apply <plan>/);
  }, 300_000);
});
