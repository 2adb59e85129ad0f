/**
 * `npm run demo`: a whole migration on this machine. Starts a real S3 server (Ceph radosgw) and the
 * Twelve Labs API simulator, seeds a bucket with ~20 generated videos (some invalid on purpose,
 * some "already imported" in the index), then runs tlmigrate as a user would: plan, apply with
 * progress, status, logs. With TLM_TEST_S3_ENDPOINT, TLM_TEST_S3_ACCESS_KEY and TLM_TEST_S3_SECRET_KEY
 * set (as for the tests), it uses that running S3 server instead of starting one.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatCommand } from '../src/cli/shell.js';
import { startSimulator } from '../test/sim/index.js';
import { cliEnv } from '../test/helpers/cli.js';
import { createTestBucket, putObjects, s3Client } from '../test/helpers/s3.js';
import { uniqueValidVideo, videoFixture } from '../test/helpers/videos.js';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
import { ensureSystemPackages, startS3Server, stopS3Server, type S3ServerInfo } from './s3-server.js';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const work = join(root, '.tmp', 'demo');
const cli = join(root, 'dist', 'cli', 'main.js');

/** A section title: bold on a terminal, plain text into a pipe or a file. */
function say(text: string): void {
  process.stdout.write(process.stdout.isTTY ? `\n\x1b[1m== ${text}\x1b[0m\n` : `\n== ${text}\n`);
}

function tlmigrate(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  process.stdout.write(`$ ${formatCommand(['tlmigrate', ...args])}\n`);
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [cli, ...args], { env, cwd: work, stdio: 'inherit' });
    child.on('error', fail);
    child.on('close', (code) => done(code ?? 1));
  });
}

/** The S3 server named by TLM_TEST_S3_* (left running at the end), if any. */
function runningS3Server(): S3ServerInfo | undefined {
  const { TLM_TEST_S3_ENDPOINT: endpoint, TLM_TEST_S3_ACCESS_KEY: accessKeyId, TLM_TEST_S3_SECRET_KEY: secretAccessKey } = process.env;
  if (!endpoint || !accessKeyId || !secretAccessKey) return undefined;
  return { endpoint, region: 'us-east-1', accessKeyId, secretAccessKey, dir: '', pids: [] };
}

async function main(): Promise<number> {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const running = runningS3Server();
  say(`Installing what the demo needs (only when missing): ${running ? 'ffmpeg' : 'Ceph radosgw, ffmpeg'}`);
  await ensureSystemPackages(running ? ['ffmpeg'] : ['radosgw', 'ceph-mon', 'ceph-osd', 'ffmpeg']);
  say(`${running ? 'Using the running S3 server' : 'Starting a real S3 server (Ceph radosgw, loopback)'} and the Twelve Labs API simulator`);
  const s3info = running ?? (await startS3Server());
  const sim = await startSimulator({ probe: 'ffprobe', lifecycle: { validatingMs: 300, pendingMs: 300, queuedMs: 300, indexingMs: 800 } });
  try {
    const s3 = s3Client(s3info);
    const bucket = await createTestBucket(s3, 'demo');
    const index = sim.createIndex({ name: 'demo-archive' });
    process.stdout.write(`S3 ${s3info.endpoint}, bucket ${bucket}; API ${sim.url}, index ${index.id}\n`);

    say('Seeding the bucket: 20 videos (3 invalid, 1 empty, 1 duplicate), 2 sidecar files, 3 already in the index');
    const objects: Array<{ key: string; body: Buffer | string }> = [];
    for (let i = 1; i <= 14; i++) objects.push({ key: `shows/season ${1 + (i % 2)}/episode-${String(i).padStart(2, '0')}.mp4`, body: await uniqueValidVideo(i) });
    objects.push({ key: 'shows/season 1/episode-01 (copy).mp4', body: await uniqueValidVideo(1) });
    objects.push({ key: 'clips/teaser.mp4', body: await videoFixture('too_short') });
    objects.push({ key: 'clips/thumbnail-res.mp4', body: await videoFixture('low_res') });
    objects.push({ key: 'clips/corrupt.mp4', body: await videoFixture('random_bytes') });
    objects.push({ key: 'clips/empty.mp4', body: Buffer.alloc(0) });
    objects.push({ key: 'legacy/intro.mov', body: await videoFixture('mov') });
    objects.push({ key: 'shows/season 1/episode-01.json', body: '{"title":"Episode 1"}' });
    objects.push({ key: 'shows/season 1/episode-01.srt', body: '1\n00:00:00,000 --> 00:00:02,000\nHello\n' });
    const put = await putObjects(s3, bucket, objects);
    // "Already imported" by the old cloud-to-cloud import: same file name and size, no tlmigrate fingerprint.
    for (const key of ['shows/season 1/episode-02.mp4', 'shows/season 2/episode-03.mp4', 'legacy/intro.mov']) {
      const object = put.find((p) => p.key === key);
      if (object) sim.seedVideo(index.id, { filename: key.slice(key.lastIndexOf('/') + 1), size: object.size, duration: 5, width: 640, height: 360 });
    }

    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...cliEnv(s3info, sim) };
    const source = `s3://${bucket}/`;
    say('1. Plan: what will be uploaded, what is already there, what would fail (no credits spent)');
    const planCode = await tlmigrate(['plan', '--source', source, '--index', index.id, '--probe', '--out', 'plan.json'], env);
    if (planCode !== 0) return planCode;
    say('2. Apply: one task per video, exactly once, with progress; --wait follows them to ready');
    const applyCode = await tlmigrate(['apply', 'plan.json', '--concurrency', '4', '--metadata', 'project=demo', '--wait', '--poll-interval', '1'], env);
    say('3. Status (the old import-status, grouped by state)');
    await tlmigrate(['status'], env);
    say('4. Logs (one entry per run, failed files with their error codes)');
    await tlmigrate(['logs'], env);
    say('5. Re-plan: everything is accounted for, nothing left to upload');
    const replanCode = await tlmigrate(['plan', '--source', source, '--index', index.id, '--out', 'plan-2.json', '--detailed-exitcode'], env);

    const duplicates = sim.duplicates();
    const created = sim.counts().tasksCreated;
    say(`Done: ${created} tasks created, ${duplicates.size} duplicates; files in ${work}`);
    if (applyCode !== 0 || replanCode !== 0 || duplicates.size > 0) {
      process.stderr.write(`demo: unexpected result (apply exit ${applyCode}, re-plan exit ${replanCode}, duplicates ${duplicates.size})\n`);
      return 1;
    }
    return 0;
  } finally {
    await sim.close();
    if (!running) await stopS3Server(s3info);
  }
}

process.exitCode = await main();
