import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { putObjects } from '../helpers/s3.js';
import { startS3FaultProxy, type S3FaultProxy } from '../helpers/s3-fault-proxy.js';
import { uniqueValidVideo, videoFixture } from '../helpers/videos.js';
import { makeWorld, type World } from '../helpers/world.js';

/**
 * A whole migration at every log level, every report format and the error paths that are cheap to
 * reach, with a (fake) AWS session token in play; then every byte written (stdout, stderr, log
 * files, plans, states, journals, reports) and the process table while it all ran (every
 * ffprobe's command line and environment, every process naming this test's bucket or secrets) is
 * searched for the API key, the AWS secret, the session token and presigned-URL signatures: zero hits. Ceph ignores an unknown session token,
 * so the token rides along on every S3 request and in every presigned URL.
 */
const SESSION_TOKEN = 'FwoGZXIvYXdzEXAMPLEtlmigrateFAKESESSIONtoken0123456789abcdef';
const WRONG_SECRET = 'wRoNgSeCrEt/tlmigrate+example0123456789';
const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;

/** What `ps` shows of one process: its command line, and its environment where we may read it. */
interface ProcessSample {
  pid: string;
  cmdline: string;
  environ?: string;
}

/**
 * Watches the process table while the CLI runs. Every ffprobe tlmigrate starts is this wrapper
 * first: it registers its pid and waits until the watcher has read its command line and
 * environment from /proc (as `ps` and any local user can), then runs the real ffprobe. Besides, the
 * whole table is sampled for any process that names this test's bucket or secrets.
 */
function watchProcesses(dir: string, mine: readonly string[]) {
  const bin = join(dir, 'bin');
  for (const sub of ['bin', 'pending', 'seen', 'unseen']) mkdirSync(join(dir, sub), { recursive: true });
  const real = execFileSync('sh', ['-c', 'command -v ffprobe']).toString().trim();
  writeFileSync(
    join(bin, 'ffprobe'),
    `#!/bin/sh\ntouch '${dir}/pending/'$$\ni=0\nwhile [ ! -e '${dir}/seen/'$$ ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done\n[ -e '${dir}/seen/'$$ ] || touch '${dir}/unseen/'$$\nexec '${real}' "$@"\n`,
  );
  chmodSync(join(bin, 'ffprobe'), 0o755);
  const children: ProcessSample[] = [];
  const table: ProcessSample[] = [];
  let ticks = 0;
  const read = (path: string) => {
    try {
      return readFileSync(path).toString('latin1').replace(/\0/g, ' ');
    } catch {
      return undefined;
    }
  };
  const tick = () => {
    ticks += 1;
    for (const pid of readdirSync(join(dir, 'pending'))) {
      if (existsSync(join(dir, 'seen', pid))) continue;
      children.push({ pid, cmdline: read(`/proc/${pid}/cmdline`) ?? '', environ: read(`/proc/${pid}/environ`) ?? '' });
      writeFileSync(join(dir, 'seen', pid), '');
    }
    for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      const cmdline = read(`/proc/${pid}/cmdline`);
      // Other engineers' processes share this machine: only ours name this test's bucket or secrets.
      if (cmdline && mine.some((m) => cmdline.includes(m))) table.push({ pid, cmdline });
    }
  };
  const timer = setInterval(tick, 50);
  timer.unref();
  return {
    path: `${bin}:${process.env.PATH ?? ''}`,
    stop: () => {
      clearInterval(timer);
      tick();
      return { children, table, ticks, unseen: readdirSync(join(dir, 'unseen')) };
    },
  };
}

describe('secrets never reach any output or file', () => {
  let w: World;
  let proxy: S3FaultProxy;
  let root: string;
  const outputs: Array<{ what: string; result: CliResult }> = [];

  /** Runs the CLI, keeps its output for the search, and returns it. */
  const cli = async (what: string, args: string[], env: Record<string, string>, cwd: string) => {
    const result = await runCli(args, env, { cwd });
    outputs.push({ what, result });
    return result;
  };

  beforeAll(async () => {
    w = await makeWorld('secrets');
    proxy = await startS3FaultProxy(w.s3info.endpoint);
    root = join(w.dir, 'out');
    mkdirSync(root);
    const objects = [];
    for (const [i, level] of LEVELS.entries()) {
      objects.push(
        { key: `${level}/one.mp4`, body: await uniqueValidVideo(900 + i * 10) },
        { key: `${level}/two.mp4`, body: await uniqueValidVideo(901 + i * 10) },
        { key: `${level}/gone.mp4`, body: await uniqueValidVideo(902 + i * 10) },
        { key: `${level}/denied.mp4`, body: await uniqueValidVideo(903 + i * 10) },
        { key: `${level}/broken.mp4`, body: await videoFixture('random_bytes') },
      );
    }
    await putObjects(w.s3, w.bucket, objects);
    // The HEAD before each POST of every */denied.mp4 is refused (the plan's probe may read it): an item failure whose message must not carry a URL.
    proxy.setRules([{ kinds: ['head'], action: 'deny', rate: 1, keys: LEVELS.map((l) => `${l}/denied.mp4`) }]);
    // One lost answer (a 500 after the task was created) and one 429 burst per apply: the error paths of POST /tasks.
    w.sim.faults.set({ postAcceptThenFail: { nth: [1], mode: '500' }, rateLimit: { limit: 4, windowMs: 1000, retryAfter: true, routes: ['POST /tasks'] } });
  });
  afterAll(async () => {
    await proxy?.close();
    await w?.close();
  });

  it(
    'a migration at every log level, every report format and the cheap error paths write none of them, and plans and states are 0600',
    { timeout: 180_000 },
    async () => {
      const watch = watchProcesses(join(w.dir, 'ps'), [w.bucket, w.sim.apiKey, SESSION_TOKEN, WRONG_SECRET]);
      const env = { ...w.env, AWS_ENDPOINT_URL_S3: proxy.endpoint, AWS_SESSION_TOKEN: SESSION_TOKEN, PATH: watch.path };
      const reportFormats = (await runCli(['report', '--help'], env)).code === 0 ? (['text', 'json', 'csv', 'md', 'html'] as const) : [];

      const migrate = async (level: (typeof LEVELS)[number], toStderr: boolean) => {
        const dir = join(root, `${level}${toStderr ? '-stderr' : ''}`);
        mkdirSync(dir);
        const index = w.sim.createIndex({ name: `secrets-${level}` }).id;
        const log = (name: string) => (toStderr ? ['--log-level', level] : ['--log-level', level, '--log-file', join(dir, `${name}.log`)]);
        // trace probes (ffprobe on presigned URLs): the broken file's failure is recorded, the URL it read is not.
        const probe = level === 'trace' ? ['--probe'] : [];
        const planned = await cli(`${level} plan`, ['plan', '--source', `s3://${w.bucket}/${level}/`, '--index', index, ...probe, ...log('plan')], env, dir);
        expect(planned.code, planned.stderr).toBe(0);
        const plan = JSON.parse(readFileSync(join(dir, 'plan.json'), 'utf8')) as { items: Array<{ key: string; action: string; reason?: string; detail?: string }> };
        if (probe.length) expect(plan.items.find((i) => i.key.endsWith('broken.mp4'))).toMatchObject({ action: 'fail', reason: 'video_file_broken' });
        if (level === 'trace') await w.s3.send(new DeleteObjectCommand({ Bucket: w.bucket, Key: `${level}/gone.mp4` }));
        const applied = await cli(`${level} apply`, ['apply', 'plan.json', '--wait', '--poll-interval', '0.2', '--reconcile-lag', '0.3', ...log('apply')], env, dir);
        expect(applied.code, applied.stderr).toBe(1);
        return { dir, index, log };
      };

      // trace with a log file runs every command; the other levels (and trace on stderr) run plan and apply.
      const runs = await Promise.all([migrate('trace', false), migrate('trace', true), ...LEVELS.filter((l) => l !== 'trace').map((l) => migrate(l, false))]);
      const full = runs[0] as Awaited<ReturnType<typeof migrate>>;
      const { dir, index, log } = full;
      const refreshed = await cli('status --refresh', ['status', '--refresh', ...log('status-refresh')], env, dir);
      expect(refreshed.code, refreshed.stderr).toBe(0);
      // Read-only commands, at once: each writes its own log file and report.
      const second = w.sim.createIndex({ name: 'secrets-migrate' }).id;
      const readers: Array<[string, string[], number | number[]]> = [
        ...[['status'], ['status', '--json'], ['logs'], ['logs', '--json']].map((args): [string, string[], number] => [args.join(' '), [...args, ...log(args.join('-'))], 0]),
        ...reportFormats.flatMap((format) =>
          ['plan.json', 'tlmigrate-state.json'].map((file): [string, string[], number] => [`report ${file} ${format}`, ['report', file, '--format', format, '--out', `report-${file.split('.')[0]}.${format}`, ...log(`report-${format}-${file}`)], 0]),
        ),
        ...reportFormats.map((format): [string, string[], number] => [`report stdout ${format}`, ['report', 'tlmigrate-state.json', '--format', format, ...log(`report-stdout-${format}`)], 0]),
        // verify's verdict (0 or 1) is not the point here; its output is.
        ['verify', ['verify', '--source', `s3://${w.bucket}/trace/`, '--index', index, '--json', ...log('verify')], [0, 1]],
        ['dedupe', ['dedupe', '--index', index, '--json', ...log('dedupe')], 0],
        ['migrate', ['migrate', '--source', `s3://${w.bucket}/trace/`, '--index', second, '--out', 'migrate-plan.json', '--state', 'migrate-state.json', '--wait', '--poll-interval', '0.2', '--json', ...log('migrate')], 1],
      ];
      for (let i = 0; i < readers.length; i += 6) {
        await Promise.all(
          readers.slice(i, i + 6).map(async ([what, args, code]) => {
            const result = await cli(what, args, env, dir);
            expect([code].flat(), `${what}: ${result.stderr}`).toContain(result.code);
          }),
        );
      }

      // Error paths: each one line, none with a secret in it.
      writeFileSync(join(dir, 'truncated.json'), readFileSync(join(dir, 'plan.json'), 'utf8').slice(0, 300));
      const errors: Array<[string, string[], Record<string, string>]> = [
        ['wrong API key', ['plan', '--source', `s3://${w.bucket}/trace/`, '--index', index, '--out', 'x.json'], { TWELVELABS_API_KEY: `${w.sim.apiKey}x` }],
        ['wrong AWS secret', ['plan', '--source', `s3://${w.bucket}/trace/`, '--index', index, '--out', 'x.json'], { AWS_SECRET_ACCESS_KEY: WRONG_SECRET }],
        ['wrong AWS secret at apply', ['apply', 'plan.json', '--state', 'other-state.json'], { AWS_SECRET_ACCESS_KEY: WRONG_SECRET }],
        ['truncated plan', ['apply', 'truncated.json', '--state', 'other-state.json'], {}],
        ['reserved metadata', ['apply', 'plan.json', '--metadata', 'tlm_source=x'], {}],
        ['unknown index', ['plan', '--source', `s3://${w.bucket}/trace/`, '--index', 'cccccccccccccccccccccccc', '--out', 'x.json'], {}],
      ];
      await Promise.all(
        errors.map(async ([what, args, extra], i) => {
          const result = await cli(what, [...args, ...log(`error-${i}`)], { ...env, ...extra }, dir);
          expect(result.code, what).toBe(2);
          expect(result.stderr.trim().split('\n'), what).toHaveLength(1);
        }),
      );

      // The process table while all that ran: ffprobe's command line and environment, and every process of ours.
      const processes = watch.stop();
      expect(processes.unseen).toEqual([]);
      expect(processes.children.length).toBeGreaterThanOrEqual(10);
      for (const child of processes.children) {
        expect(child.cmdline).toMatch(/ffprobe .*http:\/\/127\.0\.0\.1:\d+\/[\w-]+\/video\.mp4/);
        expect(child.environ?.trim().split(' ').map((v) => v.split('=')[0])).toEqual(['PATH']);
      }
      expect(processes.ticks).toBeGreaterThan(1);

      // Every byte written.
      const files = listFiles(root);
      expect(files.some((f) => f.endsWith('.log'))).toBe(true);
      expect(files.some((f) => f.endsWith('.journal'))).toBe(true);
      if (reportFormats.length) expect(files.filter((f) => /report-.*\.(text|json|csv|md|html)$/.test(f))).toHaveLength(reportFormats.length * 2);
      const written = [
        ...files.map((f) => ({ what: relative(root, f), text: readFileSync(f, 'latin1') })),
        ...outputs.map((o) => ({ what: `${o.what} (stdout+stderr)`, text: `${o.result.stdout}\n${o.result.stderr}` })),
      ];
      const needles = [w.sim.apiKey, w.s3info.secretAccessKey, w.s3info.accessKeyId, SESSION_TOKEN, WRONG_SECRET, 'x-amz-signature', 'x-amz-credential', 'x-amz-security-token', 'x-amz-date='];
      const seenInPs = [
        ...processes.children.flatMap((c) => [{ what: `ffprobe ${c.pid} command line`, text: c.cmdline }, { what: `ffprobe ${c.pid} environment`, text: c.environ ?? '' }]),
        ...processes.table.map((p) => ({ what: `process ${p.pid} command line`, text: p.cmdline })),
      ];
      const hits = [...written, ...seenInPs].flatMap(({ what, text }) => needles.filter((n) => text.toLowerCase().includes(n.toLowerCase())).map((n) => `${what}: ${n}`));
      expect(hits).toEqual([]);
      // The search is not vacuous: the outputs name what failed and why.
      const all = written.map((x) => x.text).join('\n');
      for (const expected of ['source_missing', 'source_access_denied', 'video_file_broken', 'api_key_invalid', 'SignatureDoesNotMatch', 'temporary (session token)']) expect(all).toContain(expected);
      expect(w.sim.counts().rateLimited + w.sim.counts().serverErrors).toBeGreaterThan(0);

      // Reports are for sharing (their mode is the report command's choice); plans, states and logs are private.
      const privateFiles = files.filter((p) => /(^|\/)(migrate-)?(plan|tlmigrate-state|state)\.json(\.journal)?$|\.log$/.test(p));
      expect(privateFiles.length).toBeGreaterThanOrEqual(LEVELS.length * 3);
      for (const f of privateFiles) expect({ f: relative(root, f), mode: statSync(f).mode & 0o777 }).toEqual({ f: relative(root, f), mode: 0o600 });
    },
  );
});

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? listFiles(path) : [path];
  });
}
