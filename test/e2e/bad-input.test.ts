import { DeleteObjectCommand, PutBucketPolicyCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { hostname } from 'node:os';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadState } from '../../src/state/index.js';
import { canMount } from '../helpers/mount.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { createTestBucket, putObjects } from '../helpers/s3.js';
import { uniqueValidVideo } from '../helpers/videos.js';
import { makeWorld, type World } from '../helpers/world.js';

/**
 * The bad-input catalogue (docs/errors.md): each case asserts one line on stderr that names the
 * problem and the fix, the exit code, and that nothing was written or lost (the working folder is
 * byte-identical afterwards, no task was created).
 */

/** Every file under `dir`, path -> content (base64), so "nothing written or lost" is one equality. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else out[relative(dir, path)] = readFileSync(path).toString('base64');
    }
  };
  walk(dir);
  return out;
}

/** The one-line refusal: exit code, a single `tlmigrate: ` line matching `message`, nothing on stdout. */
function expectOneLine(result: CliResult, code: number, message: RegExp): void {
  const lines = result.stderr.split('\n').filter((l) => l !== '');
  expect({ code: result.code, lines }).toEqual({ code, lines: [expect.stringMatching(message)] });
  expect(lines[0]).toMatch(/^tlmigrate: \S/);
  expect(result.stdout).toBe('');
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}


describe.concurrent('bad input: refused with one line, an exit code, nothing written or lost', () => {
  let w: World;
  let planFile: string;
  let planText: string;
  const unreachable = { api: 0, s3: 0 };
  let caseNo = 0;
  /** A fresh working folder holding `files` (name -> content, or a path to copy). */
  const caseDir = (files: Record<string, string | { copy: string }> = {}): string => {
    const dir = join(w.dir, `case-${++caseNo}`);
    mkdirSync(dir);
    for (const [name, content] of Object.entries(files)) {
      if (typeof content === 'string') writeFileSync(join(dir, name), content);
      else copyFileSync(content.copy, join(dir, name));
    }
    return dir;
  };
  /** Runs the CLI in a fresh folder and checks the refusal and that the folder is unchanged. */
  const refused = async (args: string[], code: number, message: RegExp, options: { env?: Record<string, string>; files?: Record<string, string | { copy: string }> } = {}) => {
    const dir = caseDir(options.files);
    const before = snapshot(dir);
    const result = await runCli(args, { ...w.env, ...options.env }, { cwd: dir });
    expectOneLine(result, code, message);
    expect(snapshot(dir)).toEqual(before);
    expect(w.sim.counts().tasksCreated).toBe(0);
    return result;
  };

  beforeAll(async () => {
    w = await makeWorld('bad-input');
    await putObjects(w.s3, w.bucket, [
      { key: 'x/one.mp4', body: await uniqueValidVideo(501) },
      { key: 'x/two.mp4', body: await uniqueValidVideo(502) },
    ]);
    planFile = join(w.dir, 'plan.json');
    const result = await runCli(['plan', '--source', `s3://${w.bucket}`, '--index', w.indexId, '--out', planFile, '--state', join(w.dir, 'none.json')], w.env);
    expect(result.code, result.stderr).toBe(0);
    planText = readFileSync(planFile, 'utf8');
    unreachable.api = await closedPort();
    unreachable.s3 = await closedPort();
  });
  afterAll(() => w?.close());

  const plan = (extra: string[] = []) => ['plan', '--source', `s3://${w.bucket}`, '--index', w.indexId, ...extra];
  const apply = (extra: string[] = []) => ['apply', 'plan.json', ...extra];
  const withPlan = (files: Record<string, string | { copy: string }> = {}) => ({ 'plan.json': { copy: planFile }, ...files });

  describe('credentials and endpoints', () => {
    it('missing API key', () => refused(plan(), 2, /TWELVELABS_API_KEY is not set: export TWELVELABS_API_KEY=tlk_/, { env: { TWELVELABS_API_KEY: '' } }));
    it('invalid API key', () => refused(plan(), 2, /the Twelve Labs API rejected TWELVELABS_API_KEY \(401 api_key_invalid\): check the key in the dashboard/, { env: { TWELVELABS_API_KEY: 'tlk_wrong' } }));
    it('invalid API key, at apply', () => refused(apply(), 2, /rejected TWELVELABS_API_KEY \(401 api_key_invalid\): check the key/, { env: { TWELVELABS_API_KEY: 'tlk_wrong' }, files: withPlan() }));
    it('unreachable API endpoint (closed port)', () =>
      refused(plan(['--api-url', `http://127.0.0.1:${unreachable.api}/v1.3`]), 2, new RegExp(`cannot reach the Twelve Labs API at http://127\\.0\\.0\\.1:${unreachable.api}/v1\\.3 \\(network_error\\): check --api-url / TWELVELABS_BASE_URL`)));
    it('API URL that is not http(s)', () => refused(plan(['--api-url', 'ftp://example.com']), 2, /--api-url 'ftp:\/\/example\.com' must be http\(s\): use e\.g\. https:\/\/api\.twelvelabs\.io\/v1\.3/));
    it('API URL without its version path', () =>
      refused(plan(['--api-url', w.sim.origin]), 2, new RegExp(`the API URL ${w.sim.origin.replace(/\./g, '\\.')} has no version path \\(404 for the index\\): end it with /v1\\.3, e\\.g\\. ${w.sim.origin.replace(/\./g, '\\.')}/v1\\.3`)));
    it('S3 endpoint without a scheme', () => refused(plan(['--s3-endpoint', `127.0.0.1:${unreachable.s3}`]), 2, new RegExp(`--s3-endpoint '127\\.0\\.0\\.1:${unreachable.s3}' is not an http\\(s\\) URL: write it with its scheme, e\\.g\\. http://127\\.0\\.0\\.1:${unreachable.s3}`)));
    it('S3 endpoint without a scheme, from the environment, at apply', () =>
      refused(apply(), 2, /AWS_ENDPOINT_URL_S3 'localhost:9000' is not an http\(s\) URL: write it with its scheme, e\.g\. http:\/\/localhost:9000/, { env: { AWS_ENDPOINT_URL_S3: 'localhost:9000' }, files: withPlan() }));
    it('unreachable S3 endpoint (closed port)', () => refused(plan(['--s3-endpoint', `http://127.0.0.1:${unreachable.s3}`]), 2, /cannot reach S3 for bucket '.*' \(ECONNREFUSED\): check --s3-endpoint \/ AWS_ENDPOINT_URL_S3/));
    it('no AWS credentials', () => refused(plan(), 2, /no AWS credentials found: set AWS_ACCESS_KEY_ID \/ AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run on a role/, { env: { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' } }));
    it('wrong AWS secret', () => refused(plan(), 2, /S3 rejected the credentials \(SignatureDoesNotMatch\): check AWS_ACCESS_KEY_ID \/ AWS_SECRET_ACCESS_KEY/, { env: { AWS_SECRET_ACCESS_KEY: 'wrong-secret' } }));
    it('wrong AWS secret, at apply: stopped up front, not one failure per object', () =>
      refused(apply(), 2, /S3 rejected the credentials \(SignatureDoesNotMatch\)/, { env: { AWS_SECRET_ACCESS_KEY: 'wrong-secret' }, files: withPlan() }));
  });

  describe('source and index', () => {
    it('unknown index', () => refused(['plan', '--source', `s3://${w.bucket}`, '--index', 'aaaaaaaaaaaaaaaaaaaaaaaa'], 2, /index aaaaaaaaaaaaaaaaaaaaaaaa does not exist for this API key: check --index/));
    it('index id that is not one', () => refused(['plan', '--source', `s3://${w.bucket}`, '--index', 'my index'], 2, /--index 'my index' is not an index id: copy the 24-character id from the dashboard/));
    it('malformed --source', () => refused(['plan', '--source', 'https://example.com/bucket', '--index', w.indexId], 2, /--source 'https:\/\/example\.com\/bucket' is not an S3 URI: write it as s3:\/\/BUCKET or s3:\/\/BUCKET\/PREFIX/));
    it('bucket name S3 would refuse', () => refused(['plan', '--source', 's3://Bad_Bucket', '--index', w.indexId], 2, /--source: 'Bad_Bucket' is not a valid S3 bucket name \(3-63 lowercase letters, digits, dots, hyphens\)/));
    it('missing bucket', () => refused(['plan', '--source', 's3://no-such-bucket-tlm', '--index', w.indexId], 2, /S3 bucket 'no-such-bucket-tlm' does not exist: check the bucket name in --source/));
    it('missing bucket, with --detailed-exitcode: 1 (an error), never 2 (work to do)', () =>
      refused(['plan', '--source', 's3://no-such-bucket-tlm', '--index', w.indexId, '--detailed-exitcode'], 1, /S3 bucket 'no-such-bucket-tlm' does not exist/));
    it('a usage error with --detailed-exitcode: 1', () => refused(plan(['--detailed-exitcode', '--min-size', 'big']), 1, /--min-size "big" is not a size/));
    it('no permission to list the bucket', async () => {
      const bucket = await createTestBucket(w.s3, 'denied');
      await w.s3.send(
        new PutBucketPolicyCommand({
          Bucket: bucket,
          Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Principal: '*', Action: 's3:ListBucket', Resource: `arn:aws:s3:::${bucket}` }] }),
        }),
      );
      await refused(['plan', '--source', `s3://${bucket}`, '--index', w.indexId], 2, new RegExp(`access denied to bucket '${bucket}': grant the credentials s3:ListBucket on arn:aws:s3:::${bucket}`));
    });
    it('empty bucket: not an error but a warning, a plan with 0 to upload (exit 0), and its apply does nothing (exit 0)', async () => {
      const bucket = await createTestBucket(w.s3, 'empty');
      const dir = caseDir();
      const planned = await runCli(['plan', '--source', `s3://${bucket}`, '--index', w.indexId, '--detailed-exitcode'], w.env, { cwd: dir });
      expect({ code: planned.code, stderr: planned.stderr }).toEqual({ code: 0, stderr: `tlmigrate: warning: nothing listed in s3://${bucket}: the bucket is empty\n` });
      expect(planned.stdout).toMatch(/^Plan: 0 to upload \(0 B\), 0 already indexed, 0 will fail preflight, 0 duplicates in source, 0 excluded\.\nPlan written to plan\.json/);
      const applied = await runCli(['apply', 'plan.json', '--json'], w.env, { cwd: dir });
      expect(applied.code).toBe(0);
      expect(JSON.parse(applied.stdout)).toMatchObject({ submitted: 0, failed: 0, pending: 0, exitCode: 0 });
      expect(w.sim.counts().tasksCreated).toBe(0);
    });
  });

  describe('plan flags', () => {
    it('--min-size above --max-size', () => refused(plan(['--min-size', '10', '--max-size', '5']), 2, /--min-size 10 is larger than --max-size 5: swap them/));
    it('--out in a folder that does not exist', () => refused(plan(['--out', '/nonexistent/folder/plan.json']), 2, /cannot write plan file \/nonexistent\/folder\/plan\.json \(ENOENT\): choose a writable --out path/));
    it('unknown command', () => refused(['aply', 'plan.json'], 2, /Did you mean apply\? \(see tlmigrate --help\)/));
    it('--s3-request-timeout 0', () => refused(plan(['--s3-request-timeout', '0']), 2, /--s3-request-timeout "0" is out of range: use 100ms to 1h/));
    it('unknown flag: did you mean, and the command\'s own help', () => refused(apply(['--concurency', '4']), 2, /^tlmigrate: Unknown flag --concurency: did you mean --concurrency\? \(see tlmigrate apply --help\)$/, { files: withPlan() }));
    it('a mistyped required flag', () => refused(['plan', '--sorce', `s3://${w.bucket}`, '--index', w.indexId], 2, /Missing required argument: source; --sorce: did you mean --source\? \(see tlmigrate plan --help\)$/));
    it('a value that is not one of the choices: one line, no literal \\n', async () => {
      const result = await refused(plan(['--via', 'nope']), 2, /^tlmigrate: Invalid values: Argument: via, Given: "nope", Choices: "tasks", "assets" \(see tlmigrate plan --help\)$/);
      expect(result.stderr).not.toContain('\\n');
    });
    it('--files-from a file that does not exist', () => refused(plan(['--files-from', 'keys.txt']), 2, /--files-from keys\.txt: cannot read it \(ENOENT\): check the path \(- reads stdin\)/));
    it('--files-from with --inventory', () => refused(plan(['--files-from', 'keys.txt', '--inventory', `s3://${w.bucket}/inv/manifest.json`]), 2, /--files-from and --inventory both say which objects to plan: pass only one of them/, { files: { 'keys.txt': 'x/one.mp4\n' } }));
    it('--fail-on-missing without --files-from', () => refused(plan(['--fail-on-missing']), 2, /--fail-on-missing applies to --files-from: add --files-from FILE, or leave --fail-on-missing out/));
    it('--files-from naming a key the bucket does not hold, with --fail-on-missing: no plan written', () =>
      refused(plan(['--files-from', 'keys.txt', '--fail-on-missing']), 2, new RegExp(`--files-from keys\\.txt: 1 key is not in s3://${w.bucket}/: x/gone\\.mp4: fix the list, or leave out --fail-on-missing to plan the others \\(no plan was written\\)`), {
        files: { 'keys.txt': 'x/one.mp4\nx/gone.mp4\n' },
      }));
    it('--files-from naming a URI outside the source', () =>
      refused(['plan', '--source', `s3://${w.bucket}/x/`, '--index', w.indexId, '--files-from', 'keys.txt'], 2, new RegExp(`--files-from keys\\.txt line 2: s3://other-bucket/x/a\\.mp4 is not inside --source s3://${w.bucket}/x/`), {
        files: { 'keys.txt': 'one.mp4\ns3://other-bucket/x/a.mp4\n' },
      }));
  });

  // Every numeric, size and duration flag: what the user typed is quoted and the fix named (src/cli/flags.ts).
  describe('numeric, size and duration flags', () => {
    const planCases: Array<[string[], RegExp]> = [
      [['--min-size', '-1'], /--min-size "-1" is out of range: use 0 bytes or more, e\.g\. --min-size 500MB/],
      [['--min-size', '10parsecs'], /--min-size "10parsecs" is not a size: write bytes, or a number with a unit such as 500MB or 1\.5GiB \(KB, MB, GB, TB are powers of 1000; KiB, MiB, GiB, TiB of 1024\)/],
      [['--max-size', 'abc'], /--max-size "abc" is not a size/],
      [['--max-file-size', '0'], /--max-file-size "0" is out of range: use 1 byte or more/],
      [['--min-duration', 'abc'], /--min-duration "abc" is not a duration: write a duration such as 30s, 2m or 1h \(a plain number is seconds\)/],
      [['--max-duration', '-5'], /--max-duration "-5" is out of range: use 0s to 7d/],
      [['--probe-concurrency', '0'], /--probe-concurrency "0" is out of range: use a whole number from 1 to 256, e\.g\. --probe-concurrency 16/],
      [['--probe-concurrency', 'abc'], /--probe-concurrency "abc" is not a whole number: use 1 to 256/],
    ];
    for (const [flags, message] of planCases) it(`plan ${flags.join(' ')}`, () => refused(plan(flags), 2, message));

    const applyCases: Array<[string[], RegExp]> = [
      [['--concurrency', '0'], /--concurrency "0" is out of range: use a whole number from 1 to 64, e\.g\. --concurrency 8/],
      [['--concurrency', '65'], /--concurrency "65" is out of range: use a whole number from 1 to 64/],
      [['--concurrency', 'abc'], /--concurrency "abc" is not a whole number: use 1 to 64, e\.g\. --concurrency 8/],
      [['--max-rpm', '0'], /--max-rpm "0" is out of range: use a number above 0 \(requests per minute; omit it for no cap\), e\.g\. --max-rpm 60/],
      [['--max-rpm', '-5'], /--max-rpm "-5" is out of range: use a number above 0/],
      [['--max-rpm', 'fast'], /--max-rpm "fast" is not a number: use a number above 0/],
      [['--presign-expires', '8d'], /--presign-expires "8d" is out of range: use 1m to 7d, e\.g\. --presign-expires 6h/],
      [['--presign-expires', 'soon'], /--presign-expires "soon" is not a duration: write a duration such as 30s, 2m or 1h/],
      [['--request-timeout', 'abc'], /--request-timeout "abc" is not a duration/],
      [['--request-timeout', '0'], /--request-timeout "0" is out of range: use 1s to 1h, e\.g\. --request-timeout 60s/],
      [['--request-timeout', '-1'], /--request-timeout "-1" is out of range: use 1s to 1h/],
      [['--poll-interval', 'abc'], /--poll-interval "abc" is not a duration/],
      [['--poll-interval', '0'], /--poll-interval "0" is out of range: use 100ms to 1h/],
      [['--reconcile-lag', 'abc'], /--reconcile-lag "abc" is not a duration/],
      [['--reconcile-lag', '0'], /--reconcile-lag "0" is out of range: use 100ms to 10m/],
      [['--reconcile-lag', '-1'], /--reconcile-lag "-1" is out of range/],
      [['--reconcile-min-age', '10s'], /--reconcile-min-age "10s" is out of range: use 30s to 1d \(a shorter search could miss a task the index lists late, and submit the video twice\), e\.g\. --reconcile-min-age 2m/],
      [['--reconcile-min-age', 'abc'], /--reconcile-min-age "abc" is not a duration/],
    ];
    for (const [flags, message] of applyCases) it(`apply ${flags.join(' ')}`, () => refused(apply(flags), 2, message, { files: withPlan() }));

    it('migrate checks the apply flags before it plans: no plan written', () => refused(['migrate', '--source', `s3://${w.bucket}`, '--index', w.indexId, '--concurrency', 'abc'], 2, /--concurrency "abc" is not a whole number/));
    it('report --max-rpm 0', () => refused(['report', 'plan.json', '--max-rpm', '0'], 2, /--max-rpm "0" is out of range: use a number above 0 \(requests per minute\)/, { files: withPlan() }));
    it('report --max-keys -1', () => refused(['report', 'plan.json', '--max-keys', '-1'], 2, /--max-keys "-1" is out of range: use a whole number from 0 to/, { files: withPlan() }));
    it('report --max-keys abc', () => refused(['report', 'plan.json', '--max-keys', 'abc'], 2, /--max-keys "abc" is not a whole number/, { files: withPlan() }));
  });

  describe('apply flags', () => {
    const cases: Array<[string, string[], RegExp]> = [
      ['--metadata with a reserved key', ['--metadata', 'duration=3'], /--metadata key 'duration' is a system metadata name: rename it \(e\.g\. 'my_duration'\)/],
      ['--metadata with a tlm_ key', ['--metadata', 'tlm_source=x'], /--metadata key 'tlm_source': tlm_\* keys are tlmigrate's own fingerprint: rename it/],
      ['--metadata without =', ['--metadata', 'oops'], /--metadata 'oops' is not KEY=VALUE: write e\.g\. --metadata project=archive/],
    ];
    for (const [name, flags, message] of cases) it(name, () => refused(apply(flags), 2, message, { files: withPlan() }));

    it('--metadata-json with a nested value', () =>
      refused(apply(['--metadata-json', 'meta.json']), 2, /--metadata-json key 'nested' holds object: only strings, numbers and booleans are allowed \(no nesting\)/, {
        files: withPlan({ 'meta.json': JSON.stringify({ project: 'a', nested: { b: 1 } }) }),
      }));
    it('--metadata with a value over 1 KiB', () =>
      refused(apply(['--metadata', `note=${'x'.repeat(2000)}`]), 2, /--metadata value of 'note' is 2000 bytes, over the limit of 1024 bytes per value: shorten it$/, { files: withPlan() }));
    it('--metadata-json with a 5 MB value', () =>
      refused(apply(['--metadata-json', 'meta.json']), 2, /--metadata value of 'blob' is 5000000 bytes, over the limit of 1024 bytes per value: shorten it$/, { files: withPlan({ 'meta.json': JSON.stringify({ blob: 'x'.repeat(5_000_000) }) }) }));
    it('--metadata over 16 KiB in all', () =>
      refused(apply(Array.from({ length: 20 }, (_, i) => ['--metadata', `k${i}=${'x'.repeat(1000)}`]).flat()), 2, /--metadata and --metadata-json come to \d+ bytes as JSON, over the limit of 16384 bytes in all: send fewer or shorter values$/, { files: withPlan() }));
    it('--metadata-json that is not JSON', () =>
      refused(apply(['--metadata-json', 'meta.json']), 2, /--metadata-json meta\.json is not valid JSON: write one object of scalar values/, { files: withPlan({ 'meta.json': 'project=a' }) }));
  });

  describe('plan files', () => {
    it('truncated', () => refused(apply(), 2, /plan file plan\.json is not valid JSON \(truncated or edited\?\): re-run tlmigrate plan/, { files: { 'plan.json': planText.slice(0, Math.floor(planText.length * 0.6)) } }));
    it('not JSON at all', () => refused(apply(), 2, /plan file plan\.json is not valid JSON \(truncated or edited\?\): re-run tlmigrate plan/, { files: { 'plan.json': 'hello\n' } }));
    it('of an unknown version', () => refused(apply(), 2, /plan file plan\.json has version 99; this tlmigrate reads version 1: re-run tlmigrate plan with this version/, { files: { 'plan.json': planText.replace('"version":1', '"version":99') } }));
    it('missing', () => refused(apply(), 2, /plan file plan\.json not found: run tlmigrate plan --out plan\.json first/));
    it('an excluded .srt switched to upload by hand: refused before anything is sent', async () => {
      // The plan as the planner would write it with an excluded sidecar (applies fine), then the same plan with that item edited to upload.
      const withSidecar = (item: string) =>
        planText.replace(/\n\],"summary":\{"total":2,"counts":\{"upload":2,"skip":0,"fail":0\}/, `,\n${item}\n],"summary":{"total":3,"counts":{"upload":2,"skip":1,"fail":0}`);
      const srt = `{"key":"x/one.srt","size":2,"etag":"e","lastModified":"2026-01-01T00:00:00.000Z"`;
      const planned = withSidecar(`${srt},"action":"skip","reason":"excluded"}`);
      expect(planned).not.toBe(planText);
      const edited = withSidecar(`${srt},"action":"upload"}`);
      await refused(apply(), 2, /^tlmigrate: plan file plan\.json was edited: its summary says upload 2, skip 1 but its items hold upload 3, skip 0: re-run tlmigrate plan rather than editing items by hand$/, { files: { 'plan.json': edited } });
    });
    it('for an index this key cannot see', () =>
      refused(apply(), 2, /index bbbbbbbbbbbbbbbbbbbbbbbb does not exist for this API key: check --index/, { files: { 'plan.json': planText.replace(`"indexId":"${w.indexId}"`, '"indexId":"bbbbbbbbbbbbbbbbbbbbbbbb"') } }));
  });

  describe('state files', () => {
    const foreignState = () => JSON.stringify({ version: 1, tool: 'tlmigrate 0.1.0', source: { uri: 's3://another-bucket', bucket: 'another-bucket', prefix: '' }, indexId: w.indexId, createdAt: '', updatedAt: '', items: {}, runs: [] });
    it('corrupt', () => refused(apply(), 2, /state file tlmigrate-state\.json is not valid JSON: it was left untouched; restore it from a backup or pass another --state/, { files: withPlan({ 'tlmigrate-state.json': '{"version":1,"items":{' }) }));
    it('corrupt, read by plan for its ledger', () =>
      refused(plan(), 2, /state file tlmigrate-state\.json is not valid JSON: it was left untouched/, { files: { 'tlmigrate-state.json': '{"version":1,"items":{' } }));
    it('not a tlmigrate state file', () => refused(apply(), 2, /tlmigrate-state\.json is not a tlmigrate state file: it was left untouched; pass another --state/, { files: withPlan({ 'tlmigrate-state.json': '{"name":"my-app","version":"1.0.0"}' }) }));
    it('of an unknown version', () =>
      refused(apply(), 2, /state file tlmigrate-state\.json has version 9; this tlmigrate reads version 1: use the tlmigrate that wrote it/, { files: withPlan({ 'tlmigrate-state.json': JSON.stringify({ version: 9, tool: 'tlmigrate 9', items: {} }) }) }));
    it('of another source or index', () =>
      refused(apply(), 2, new RegExp(`state file tlmigrate-state\\.json belongs to s3://another-bucket -> index ${w.indexId}, not s3://${w.bucket} -> index ${w.indexId}: pass another --state`), { files: withPlan({ 'tlmigrate-state.json': foreignState() }) }));
    it('of another source, read by plan', () => refused(plan(), 2, /belongs to s3:\/\/another-bucket .*: pass another --state/, { files: { 'tlmigrate-state.json': foreignState() } }));
    it('locked by a live process', () =>
      refused(apply(), 2, new RegExp(`state file tlmigrate-state\\.json is in use by pid ${process.pid} on ${hostname()} \\(apply plan\\.json, started 2026-01-01T00:00:00\\.000Z\\): wait for it, or stop it first`), {
        files: withPlan({ 'tlmigrate-state.json.lock': JSON.stringify({ pid: process.pid, host: hostname(), startedAt: '2026-01-01T00:00:00.000Z', command: 'apply plan.json' }) }),
      }));
    it('locked from another host: the command to clear it, after checking', () =>
      refused(apply(), 2, /state file tlmigrate-state\.json is locked by pid 4242 on build-7 \(apply plan\.json, started 2026-01-01T00:00:00\.000Z\), another host, which this one cannot check: if no tlmigrate runs there any more, remove the lock: rm tlmigrate-state\.json\.lock$/, {
        files: withPlan({ 'tlmigrate-state.json.lock': JSON.stringify({ pid: 4242, host: 'build-7', startedAt: '2026-01-01T00:00:00.000Z', command: 'apply plan.json' }) }),
      }));
    it('an empty lock file: never taken for a dead one', () =>
      refused(apply(), 2, /lock file tlmigrate-state\.json\.lock is not a complete tlmigrate lock \(empty or edited\): make sure no tlmigrate uses tlmigrate-state\.json, then remove it: rm tlmigrate-state\.json\.lock$/, {
        files: withPlan({ 'tlmigrate-state.json.lock': '' }),
      }));
    it('a plan passed where a state is expected (status)', () => refused(['status', '--state', 'plan.json'], 2, /--state plan\.json is a plan file, not a state file: pass the state file apply writes \(default tlmigrate-state\.json\), or leave --state out/, { files: withPlan() }));
    it('a plan passed where a state is expected (logs, plan, apply, verify, dedupe)', async () => {
      const message = /--state p\.json is a plan file, not a state file/;
      await refused(['logs', '--state', 'p.json'], 2, message, { files: { 'p.json': { copy: planFile } } });
      await refused(plan(['--state', 'p.json']), 2, message, { files: { 'p.json': { copy: planFile } } });
      await refused(apply(['--state', 'p.json']), 2, message, { files: withPlan({ 'p.json': { copy: planFile } }) });
      await refused(['verify', '--source', `s3://${w.bucket}`, '--index', w.indexId, '--state', 'p.json'], 2, message, { files: { 'p.json': { copy: planFile } } });
      await refused(['dedupe', '--index', w.indexId, '--state', 'p.json'], 2, message, { files: { 'p.json': { copy: planFile } } });
    });
    it('a state passed where a plan is expected (apply state.json)', () =>
      refused(['apply', 'state.json'], 2, /state\.json is a state file, not a plan: pass the plan file tlmigrate plan wrote \(e\.g\. tlmigrate apply plan\.json --state state\.json\)/, {
        files: { 'state.json': JSON.stringify({ version: 1, tool: 'tlmigrate 0.1.0', source: { uri: `s3://${w.bucket}`, bucket: w.bucket, prefix: '' }, indexId: w.indexId, createdAt: '', updatedAt: '', items: {}, runs: [] }) },
      }));
    it('missing, for status', () => refused(['status'], 2, /state file tlmigrate-state\.json not found: run tlmigrate apply first, or pass --state/));
    it.skipIf(!canMount())('in a read-only folder', async () => {
      const ro = join(w.dir, `ro-${++caseNo}`);
      mkdirSync(ro);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,ro', 'tmpfs', ro]);
      try {
        await refused(apply(['--state', join(ro, 'state.json')]), 2, /cannot create .*state\.json\.lock \(EROFS\): run from a writable folder or pass --state PATH/, { files: withPlan() });
        await refused(plan(['--out', join(ro, 'plan.json')]), 2, /cannot write plan file .*plan\.json \(EROFS\): choose a writable --out path/);
      } finally {
        execFileSync('umount', [ro]);
      }
    });
  });

  describe('keys and encodings', () => {
    it('a newline in a path stays escaped on the one line', () => refused(plan(['--out', '/nonexistent/new\nline/plan.json']), 2, /cannot write plan file \/nonexistent\/new\\nline\/plan\.json \(ENOENT\)/));
    it('an inventory report with a key that is not UTF-8', async () => {
      const csv = gzipSync(`"${w.bucket}","x/bad%FF%FEname.mp4","10","2026-01-01T00:00:00.000Z","abc","STANDARD"\n`);
      await w.s3.send(new PutObjectCommand({ Bucket: w.bucket, Key: 'inv/data/part-0.csv.gz', Body: csv }));
      const manifest = { sourceBucket: w.bucket, fileFormat: 'CSV', fileSchema: 'Bucket, Key, Size, LastModifiedDate, ETag, StorageClass', files: [{ key: 'inv/data/part-0.csv.gz' }] };
      await w.s3.send(new PutObjectCommand({ Bucket: w.bucket, Key: 'inv/manifest.json', Body: JSON.stringify(manifest) }));
      await refused(plan(['--inventory', `s3://${w.bucket}/inv/manifest.json`]), 2, /inventory file inv\/data\/part-0\.csv\.gz line 1: key 'x\/bad%FF%FEname\.mp4' is not URL-encoded UTF-8: the report is damaged; use the next day's report or plan without --inventory/);
    });
  });
});

describe('bad input that is not refused: item failures, full disks, skewed clocks', () => {
  it('keys with a newline or a tab plan, apply and list safely; a deleted and an overwritten object fail the item (source_missing, source_changed, exit 1, re-plan), also on resume', async () => {
    const w = await makeWorld('odd-keys');
    try {
      const keys = ['odd/new\nline.mp4', 'odd/tab\there.mp4', 'odd/gone.mp4', 'odd/changed.mp4', 'odd/plain.mp4'];
      await putObjects(w.s3, w.bucket, await Promise.all(keys.map(async (key, i) => ({ key, body: await uniqueValidVideo(600 + i) }))));
      const planned = await runCli(['plan', '--source', `s3://${w.bucket}`, '--index', w.indexId], w.env, { cwd: w.dir });
      expect(planned.code, planned.stderr).toBe(0);
      expect(planned.stdout).toMatch(/^Plan: 5 to upload/);
      await w.s3.send(new DeleteObjectCommand({ Bucket: w.bucket, Key: 'odd/gone.mp4' }));
      await w.s3.send(new PutObjectCommand({ Bucket: w.bucket, Key: 'odd/changed.mp4', Body: await uniqueValidVideo(699) }));
      await w.s3.send(new DeleteObjectCommand({ Bucket: w.bucket, Key: 'odd/new\nline.mp4' }));

      const applied = await runCli(['apply', 'plan.json', '--wait', '--poll-interval', '0.2'], w.env, { cwd: w.dir });
      expect(applied.stderr).toBe('');
      expect(applied.code).toBe(1);
      expect(applied.stdout.trim().split('\n')).toEqual([
        expect.stringMatching(/^Applied: 2 submitted .*3 failed/),
        'See failures: tlmigrate logs',
        '3 source objects changed or vanished since the plan: re-plan to pick them up (tlmigrate plan with the same --source and --index)',
      ]);
      expect(Object.fromEntries(w.sim.counts().tasksBySourcePath)).toEqual({ [`/${w.bucket}/odd/tab\there.mp4`]: 1, [`/${w.bucket}/odd/plain.mp4`]: 1 });
      const state = await loadState(join(w.dir, 'tlmigrate-state.json'));
      const item = (key: string) => state?.items[`s3://${w.bucket}/${key}`];
      expect(item('odd/gone.mp4')).toMatchObject({ status: 'failed', lastError: { code: 'source_missing', message: expect.stringMatching(/no longer exists: re-plan$/) } });
      expect(item('odd/changed.mp4')).toMatchObject({ status: 'failed', lastError: { code: 'source_changed', message: expect.stringMatching(/changed since the plan \(ETag \w+ -> \w+\): re-plan$/) } });
      expect(item('odd/new\nline.mp4')).toMatchObject({ status: 'failed', lastError: { code: 'source_missing' } });
      expect(item('odd/tab\there.mp4')).toMatchObject({ status: 'ready' });

      // The same plan resumed: nothing new, and still exit 1 (the exit code is the plan's, not the run's).
      const resumed = await runCli(['apply', 'plan.json'], w.env, { cwd: w.dir });
      expect({ code: resumed.code, stderr: resumed.stderr }).toEqual({ code: 1, stderr: '' });
      expect(resumed.stdout).toMatch(/^Applied: 0 submitted .*0 failed on the platform \(and 3 in earlier runs\)/);
      expect(resumed.stdout).toMatch(/^3 source objects changed or vanished since the plan: re-plan/m);
      expect(w.sim.counts().tasksCreated).toBe(2);

      // status and logs: one line per failure, the newline escaped.
      for (const command of ['status', 'logs']) {
        const out = await runCli([command], w.env, { cwd: w.dir });
        expect(out.code).toBe(0);
        const failures = out.stdout.split('\n').filter((l) => l.includes('failed on the platform: '));
        expect(failures).toHaveLength(3);
        expect(failures.find((l) => l.includes('new\\nline.mp4'))).toMatch(/^ {2}failed on the platform: odd\/new\\nline\.mp4: source_missing: s3:\/\/.*\/odd\/new\\nline\.mp4 no longer exists: re-plan$/);
      }
      // A re-plan picks the changed object up and forgets the deleted ones.
      const replanned = await runCli(['plan', '--source', `s3://${w.bucket}`, '--index', w.indexId, '--out', 'plan2.json', '--json'], w.env, { cwd: w.dir });
      expect(JSON.parse(replanned.stdout).counts).toEqual({ upload: 1, skip: 2, fail: 0 });
    } finally {
      await w.close();
    }
  });

  it.skipIf(!canMount())('disk full while checkpointing: one line naming the fix, the last checkpoint intact, and a resume once there is room loses nothing', async () => {
    const w = await makeWorld('disk-full', { fetchVideo: false });
    const disk = join(w.dir, 'disk');
    mkdirSync(disk);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=12k', 'tmpfs', disk]);
    try {
      const keys = Array.from({ length: 40 }, (_, i) => `many/clip ${String(i).padStart(2, '0')} with a long enough name to fill pages.mp4`);
      await putObjects(w.s3, w.bucket, keys.map((key, i) => ({ key, body: `not really a video, number ${i}` })));
      const state = join(disk, 'state.json');
      const planned = await runCli(['plan', '--source', `s3://${w.bucket}`, '--index', w.indexId, '--out', 'plan.json', '--state', state], w.env, { cwd: w.dir });
      expect(planned.code, planned.stderr).toBe(0);

      const full = await runCli(['apply', 'plan.json', '--state', state], w.env, { cwd: w.dir });
      expectOneLine(full, 2, /cannot write state file .*state\.json \(ENOSPC\): free disk space and resume \(the last checkpoint is intact\)/);
      const checkpoint = await loadState(state);
      expect(checkpoint?.version).toBe(1);
      const statusOf = Object.values(checkpoint?.items ?? {}).map((i) => i.status);
      expect(statusOf.filter((s) => s !== 'planned')).toEqual([]);

      execFileSync('mount', ['-o', 'remount,size=1m', disk]);
      const resumed = await runCli(['apply', 'plan.json', '--state', state, '--json'], w.env, { cwd: w.dir });
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(JSON.parse(resumed.stdout)).toMatchObject({ submitted: 40, failed: 0, pending: 0 });
      expect(Object.fromEntries(w.sim.counts().tasksBySourcePath)).toEqual(Object.fromEntries(keys.map((k) => [`/${w.bucket}/${k}`, 1])));
      expect(statSync(state).mode & 0o777).toBe(0o600);
    } finally {
      execFileSync('umount', [disk]);
      await w.close();
    }
  });

  it.each([
    ['4 minutes behind', -4 * 60_000],
    ['30 minutes ahead', 30 * 60_000],
  ])('clock skew, the API %s: a lost answer is still found by reconciliation, one task', async (_name, skewMs) => {
    const w = await makeWorld('skew', { clock: { offsetMs: skewMs }, faults: { postAcceptThenFail: { nth: [1], mode: 'drop' } } });
    try {
      await putObjects(w.s3, w.bucket, [{ key: 'skew/one.mp4', body: await uniqueValidVideo(701) }]);
      expect((await runCli(['plan', '--source', `s3://${w.bucket}`, '--index', w.indexId], w.env, { cwd: w.dir })).code).toBe(0);
      const applied = await runCli(['apply', 'plan.json', '--json', '--reconcile-lag', '0.2'], w.env, { cwd: w.dir });
      expect(applied.code, applied.stderr).toBe(0);
      expect(JSON.parse(applied.stdout)).toMatchObject({ submitted: 1, reconciled: 1 });
      expect(w.sim.counts().connectionsLost).toBe(1);
      expect(Object.fromEntries(w.sim.counts().tasksBySourcePath)).toEqual({ [`/${w.bucket}/skew/one.mp4`]: 1 });
    } finally {
      await w.close();
    }
  });

  it('a plan older than the one last applied to the state is stale', async () => {
    const w = await makeWorld('stale');
    try {
      await putObjects(w.s3, w.bucket, [{ key: 's/one.mp4', body: await uniqueValidVideo(801) }]);
      expect((await runCli(['plan', '--source', `s3://${w.bucket}`, '--index', w.indexId, '--out', 'old.json'], w.env, { cwd: w.dir })).code).toBe(0);
      expect((await runCli(['plan', '--source', `s3://${w.bucket}`, '--index', w.indexId, '--out', 'new.json'], w.env, { cwd: w.dir })).code).toBe(0);
      expect((await runCli(['apply', 'new.json'], w.env, { cwd: w.dir })).code).toBe(0);
      // The refusal comes once the state is locked and read: its checkpoint may be rewritten (updatedAt), its content not.
      const content = async () => {
        const state = await loadState(join(w.dir, 'tlmigrate-state.json'));
        return { ...state, updatedAt: undefined };
      };
      const before = await content();
      expect(before.runs).toHaveLength(1);
      const stale = await runCli(['apply', 'old.json'], w.env, { cwd: w.dir });
      expectOneLine(stale, 2, /plan old\.json \(created .*\) is older than the plan last applied to tlmigrate-state\.json \(created .*\): re-run tlmigrate plan/);
      expect(await content()).toEqual(before);
      expect(w.sim.counts().tasksCreated).toBe(1);
      expect(existsSync(join(w.dir, 'tlmigrate-state.json.lock'))).toBe(false);
    } finally {
      await w.close();
    }
  });
});
