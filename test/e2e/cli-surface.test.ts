import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, collect, runCli, startCli, type CliResult } from '../helpers/cli.js';
import { putObjects } from '../helpers/s3.js';
import { startS3FaultProxy, type S3FaultProxy } from '../helpers/s3-fault-proxy.js';
import { uniqueValidVideo } from '../helpers/videos.js';
import { makeWorld, type World } from '../helpers/world.js';

/**
 * What a new user trips over at the CLI's surface: exit codes for scripts, pipes that close early,
 * globs and prefixes that match nothing, key lists instead of listings, units in flags, help text.
 */
describe('the CLI surface', () => {
  let w: World;
  let proxy: S3FaultProxy;
  const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { ...w.env, ...env }, { cwd: w.dir });
  const plan = (extra: string[]) => ['plan', '--source', `s3://${w.bucket}/x/`, '--index', w.indexId, ...extra];

  beforeAll(async () => {
    w = await makeWorld('cli-surface');
    proxy = await startS3FaultProxy(w.s3info.endpoint);
    await putObjects(w.s3, w.bucket, [
      { key: 'x/a.mp4', body: await uniqueValidVideo(1301) },
      { key: 'x/b.mp4', body: await uniqueValidVideo(1302) },
      { key: 'x/sub/c d.mp4', body: await uniqueValidVideo(1303) },
      { key: 'x/notes.txt', body: 'not a video' },
    ]);
  });
  afterAll(async () => {
    await proxy?.close();
    await w?.close();
  });

  describe('--detailed-exitcode (Terraform): 0 no changes, 2 changes, 1 error; a failed plan keeps the old plan file', () => {
    const leftovers = () => readdirSync(w.dir).filter((name) => name.endsWith('.tmp'));

    it('2 with work to do, 1 for a configuration error (plan.json untouched), 1 when planning fails half-way (no temp file left), 0 once applied', async () => {
      const first = await cli(plan(['--out', 'dx.json', '--state', 'dx-state.json', '--detailed-exitcode']));
      expect({ code: first.code, stderr: first.stderr }).toEqual({ code: 2, stderr: '' });
      const planned = readFileSync(join(w.dir, 'dx.json'));

      const missingBucket = await cli(['plan', '--source', 's3://no-such-bucket-tlm/', '--index', w.indexId, '--out', 'dx.json', '--detailed-exitcode']);
      expect({ code: missingBucket.code, stderr: missingBucket.stderr }).toEqual({ code: 1, stderr: expect.stringMatching(/^tlmigrate: S3 bucket 'no-such-bucket-tlm' does not exist/) });
      expect(readFileSync(join(w.dir, 'dx.json')).equals(planned)).toBe(true);

      // The plan file is being written when the HEAD of the second listed key is refused.
      writeFileSync(join(w.dir, 'dx-keys.txt'), 'a.mp4\nb.mp4\n');
      proxy.setRules([{ kinds: ['head'], action: 'deny', rate: 1, keys: ['x/b.mp4'] }]);
      try {
        const halfway = await cli(plan(['--out', 'dx.json', '--files-from', 'dx-keys.txt', '--detailed-exitcode']), { AWS_ENDPOINT_URL_S3: proxy.endpoint });
        expect({ code: halfway.code, stderr: halfway.stderr }).toEqual({ code: 1, stderr: expect.stringMatching(/^tlmigrate: access denied to s3:\/\/.*\/x\/b\.mp4: grant the credentials s3:GetObject/) });
      } finally {
        proxy.setRules([]);
      }
      expect(readFileSync(join(w.dir, 'dx.json')).equals(planned)).toBe(true);
      expect(leftovers()).toEqual([]);

      const applied = await cli(['apply', 'dx.json', '--state', 'dx-state.json']);
      expect(applied.code, applied.stderr).toBe(0);
      const again = await cli(plan(['--out', 'dx2.json', '--state', 'dx-state.json', '--detailed-exitcode']));
      expect({ code: again.code, stderr: again.stderr }).toEqual({ code: 0, stderr: '' });
      expect(again.stdout).toMatch(/^Plan: 0 to upload/);
    });
  });

  describe('a reader that goes away ends the output quietly', () => {
    /** Runs the CLI with its stdout's reading end closed before it writes: every write meets EPIPE. */
    const withClosedStdout = async (args: string[]): Promise<CliResult> => {
      const child = startCli(args, w.env, { cwd: w.dir });
      child.stdout?.destroy();
      return collect(child, 120_000);
    };

    beforeAll(async () => {
      const planned = await cli(plan(['--out', 'pipe.json', '--state', 'pipe-state.json']));
      expect(planned.code, planned.stderr).toBe(0);
      expect((await cli(['apply', 'pipe.json', '--state', 'pipe-state.json', '--wait', '--poll-interval', '0.2'])).code).toBe(0);
    });

    it.each([
      [['status', '--state', 'pipe-state.json'], 0],
      [['status', '--state', 'pipe-state.json', '--json'], 0],
      [['logs', '--state', 'pipe-state.json'], 0],
      [['report', 'pipe-state.json'], 0],
      [['report', 'pipe.json', '--format', 'csv'], 0],
      [['verify', '--source', 'S3URI', '--index', 'INDEX', '--state', 'pipe-state.json'], 0],
      [['dedupe', '--index', 'INDEX'], 0],
      [['plan', '--source', 'S3URI', '--index', 'INDEX', '--out', 'pipe-2.json', '--state', 'pipe-state.json'], 0],
    ])('tlmigrate %j: exit %d, nothing on stderr', async (args, code) => {
      const words = args.map((a) => (a === 'S3URI' ? `s3://${w.bucket}/x/` : a === 'INDEX' ? w.indexId : a));
      const result = await withClosedStdout(words);
      expect({ code: result.code, stderr: result.stderr }).toEqual({ code, stderr: '' });
    });

    it('tlmigrate status | head -1, through a shell', async () => {
      const script = `"${process.execPath}" "${CLI}" status --state pipe-state.json | head -1; exit \${PIPESTATUS[0]}`;
      const child = spawn('bash', ['-c', script], { cwd: w.dir, env: { ...process.env, ...w.env }, stdio: ['ignore', 'pipe', 'pipe'] });
      const result = await collect(child, 60_000);
      expect({ code: result.code, stderr: result.stderr, lines: result.stdout.trim().split('\n').length }).toEqual({ code: 0, stderr: '', lines: 1 });
    });
  });

  describe('surprises are said out loud', () => {
    it('an --include or --exclude that matches nothing is a warning that says what globs match against', async () => {
      const result = await cli(plan(['--out', 'g.json', '--state', 'none.json', '--include', '*.mp4', '--exclude', 'misc/**']));
      expect(result.code).toBe(0);
      expect(result.stderr.trim().split('\n')).toEqual([
        "tlmigrate: warning: --include '*.mp4' matched none of the 4 listed keys: globs match the whole key, prefix included; did you mean --include 'x/*.mp4' (2 keys)?",
        "tlmigrate: warning: --exclude 'misc/**' matched none of the 4 listed keys: globs match the whole key, prefix included",
      ]);
    });

    it('an empty listing names the prefix and the nearest ones that exist', async () => {
      const result = await cli(['plan', '--source', `s3://${w.bucket}/xx/`, '--index', w.indexId, '--out', 'e.json', '--state', 'none.json']);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^Plan: 0 to upload/);
      expect(result.stderr).toBe(`tlmigrate: warning: nothing listed under s3://${w.bucket}/xx/: check the prefix in --source; existing prefixes nearby: s3://${w.bucket}/x/\n`);
    });

    it('sizes take units: MB is 10^6 bytes, MiB 2^20', async () => {
      const json = async (extra: string[]) => {
        const r = await cli(plan(['--out', 's.json', '--state', 'none.json', '--no-incremental', '--json', ...extra]));
        expect(r.code, r.stderr).toBe(0);
        return JSON.parse(r.stdout) as { counts: { upload: number } };
      };
      expect((await json(['--max-size', '1KB'])).counts.upload).toBe(0);
      expect((await json(['--max-size', '1MiB'])).counts.upload).toBe(3);
      expect((await json(['--min-size', '0.5GB'])).counts.upload).toBe(0);
    });
  });

  describe('--files-from: the listed keys, HEADed, instead of a listing', () => {
    it('plans only the listed keys (relative to the prefix, or full URIs), reports the missing ones', async () => {
      writeFileSync(join(w.dir, 'keys.txt'), `# what to migrate\na.mp4\nsub/c d.mp4\ns3://${w.bucket}/x/b.mp4\ngone.mp4\na.mp4\n\n`);
      const result = await cli(plan(['--out', 'ff.json', '--state', 'none.json', '--no-incremental', '--files-from', 'keys.txt', '--json']));
      expect(result.code).toBe(0);
      expect(result.stderr).toBe(`tlmigrate: warning: --files-from keys.txt: 1 key is not in s3://${w.bucket}/x/: x/gone.mp4; planned the others\n`);
      const out = JSON.parse(result.stdout);
      expect(out).toMatchObject({ counts: { upload: 3, skip: 0, fail: 0 }, missing: ['x/gone.mp4'] });
      const planText = readFileSync(join(w.dir, 'ff.json'), 'utf8');
      expect(planText).toContain('"key":"x/sub/c d.mp4"');
      expect(planText).not.toContain('notes.txt');
    });

    it('reads the keys from stdin with -', async () => {
      const child = spawn(process.execPath, [CLI, ...plan(['--out', 'stdin.json', '--state', 'none.json', '--no-incremental', '--files-from', '-', '--json'])], {
        cwd: w.dir,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, ...w.env },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      child.stdin?.end('a.mp4\nb.mp4\n');
      const result = await collect(child, 60_000);
      expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
      expect(JSON.parse(result.stdout).counts.upload).toBe(2);
    });
  });

  describe('help says what a user needs', () => {
    it('migrate has its own description and lists the --via choices once', async () => {
      const help = await cli(['migrate', '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain('Plan, then apply that plan, in one command');
      expect(help.stdout.match(/choices: "tasks", "assets"/g)).toHaveLength(1);
      expect(help.stdout).toContain('--reconcile-min-age');
    });
    it('plan says what globs match against and what MB means', async () => {
      const help = (await cli(['plan', '--help'])).stdout.replace(/\s+/g, ' ');
      expect(help).toContain('Globs match the whole key, prefix included: under s3://b/videos/ write "videos/**/*.mp4" or "**/*.mp4", not "*.mp4"');
      expect(help).toContain('KB, MB, GB, TB are powers of 1000; KiB, MiB, GiB, TiB of 1024');
      expect(help).toContain('0 when there is nothing to upload, 2 when there is work to do, 1 on any error');
    });
    it('apply documents --reconcile-min-age with its floor', async () => {
      const help = (await cli(['apply', '--help'])).stdout.replace(/\s+/g, ' ');
      expect(help).toMatch(/--reconcile-min-age After a POST whose answer was lost, how long tlmigrate keeps searching the index before it may submit again \(at least 30s\): .* \[string\] \[default: "2m"\]/);
    });
  });
});
