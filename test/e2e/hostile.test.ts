import { spawn, spawnSync } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadState } from '../../src/state/index.js';
import { CLI, collect, runCli, startCli, type CliResult } from '../helpers/cli.js';
import { putObjects } from '../helpers/s3.js';
import { startS3FaultProxy, type S3FaultProxy } from '../helpers/s3-fault-proxy.js';
import { uniqueValidVideo } from '../helpers/videos.js';
import { makeWorld, type World } from '../helpers/world.js';

/**
 * The attacks of issue 12, through the built CLI: a redirecting API, symbolic links where
 * tlmigrate's files go, a state folder it may not write, an S3 that accepts and never answers,
 * stalls in the middle of a plan or an apply, and Ctrl-C while they last.
 */

/** One `tlmigrate:` line on stderr (after any Ctrl-C notice), nothing on stdout. */
function expectOneLine(result: CliResult, code: number, message: RegExp): void {
  const lines = result.stderr.split('\n').filter((l) => l !== '' && !/^tlmigrate: SIG\w+: /.test(l));
  expect({ code: result.code, lines }).toEqual({ code, lines: [expect.stringMatching(message)] });
  expect(result.stdout).toBe('');
}

/** Files tlmigrate left that it should not have: temp files, locks, takeover tokens. */
function leftovers(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.tmp') || f.endsWith('.lock') || f.includes('.takeover-'));
}

async function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function canChattr(): boolean {
  if (process.getuid?.() !== 0) return false;
  const probe = mkdtempSync(join('/tmp', 'tlm-chattr-probe-'));
  try {
    execFileSync('chattr', ['+i', probe], { stdio: 'pipe' });
    execFileSync('chattr', ['-i', probe], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

describe.concurrent('hostile and broken surroundings', () => {
  let w: World;
  let proxy: S3FaultProxy;
  let planFile: string;
  const servers: Array<Server | ReturnType<typeof createTcpServer>> = [];
  const sockets = new Set<Socket>();
  let caseNo = 0;
  const caseDir = (files: Record<string, string> = {}): string => {
    const dir = join(w.dir, `case-${++caseNo}`);
    mkdirSync(dir);
    copyFileSync(planFile, join(dir, 'plan.json'));
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
    return dir;
  };
  const plan = (extra: string[] = []) => ['plan', '--source', `s3://${w.bucket}`, '--index', w.indexId, ...extra];

  beforeAll(async () => {
    w = await makeWorld('hostile');
    await putObjects(w.s3, w.bucket, [
      { key: 'h/one.mp4', body: await uniqueValidVideo(1201) },
      { key: 'h/two.mp4', body: await uniqueValidVideo(1202) },
    ]);
    proxy = await startS3FaultProxy(w.s3info.endpoint);
    planFile = join(w.dir, 'plan.json');
    const planned = await runCli(plan(['--out', planFile, '--state', join(w.dir, 'none.json')]), w.env);
    expect(planned.code, planned.stderr).toBe(0);
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    await proxy?.close();
    await w?.close();
  });

  it('an API that redirects to another origin: plan and apply stop with one line, and no request reaches that origin', async () => {
    const captured: Array<string | undefined> = [];
    const capture = createHttpServer((req, res) => {
      captured.push(req.headers['x-api-key'] as string | undefined);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"_id":"x","index_name":"x"}');
    });
    const capturePort = await listen(capture);
    const redirector = createHttpServer((req, res) => res.writeHead(301, { location: `http://localhost:${capturePort}${req.url}` }).end());
    const redirectorPort = await listen(redirector);
    servers.push(capture, redirector);
    const apiUrl = `http://127.0.0.1:${redirectorPort}/v1.3`;
    const message = new RegExp(
      `^tlmigrate: the Twelve Labs API at http://127\\.0\\.0\\.1:${redirectorPort}/v1\\.3 answered 301, a redirect to http://localhost:${capturePort} \\(another origin\\); tlmigrate follows no redirect, so the API key was not sent there: set --api-url / TWELVELABS_BASE_URL to the API's own URL$`,
    );
    for (const args of [plan(['--api-url', apiUrl]), ['apply', 'plan.json', '--api-url', apiUrl]]) {
      const dir = caseDir();
      expectOneLine(await runCli(args, w.env, { cwd: dir }), 2, message);
      expect(readdirSync(dir)).toEqual(['plan.json']);
    }
    expect(captured).toEqual([]);
  });

  describe('a symbolic link where a file of tlmigrate goes is refused, and its target left intact', () => {
    it.each(['tlmigrate-state.json.journal', 'tlmigrate-state.json', 'tlmigrate-state.json.lock'])('apply with %s a link', async (name) => {
      const dir = caseDir({ 'precious.txt': 'keep me, byte for byte\n' });
      symlinkSync(join(dir, 'precious.txt'), join(dir, name));
      const result = await runCli(['apply', 'plan.json'], w.env, { cwd: dir });
      const what = name.endsWith('.journal') ? 'journal' : name.endsWith('.lock') ? 'lock file' : 'state file';
      expectOneLine(result, 2, new RegExp(`^tlmigrate: ${what} ${name.replace(/\./g, '\\.')} is a symbolic link: tlmigrate never writes through one \\(it could point at any file\\); remove the link \\(rm ${name.replace(/\./g, '\\.')}\\) or pass another path$`));
      expect(readFileSync(join(dir, 'precious.txt'), 'utf8')).toBe('keep me, byte for byte\n');
      expect(readdirSync(dir).sort()).toEqual(['plan.json', 'precious.txt', name].sort());
      expect(w.sim.tasks(w.indexId)).toEqual([]);
    });

    it('plan --out a link', async () => {
      const dir = caseDir({ 'precious.txt': 'keep me\n' });
      symlinkSync(join(dir, 'precious.txt'), join(dir, 'new-plan.json'));
      expectOneLine(await runCli(plan(['--out', 'new-plan.json']), w.env, { cwd: dir }), 2, /^tlmigrate: plan file new-plan\.json is a symbolic link: .*\(rm new-plan\.json\)/);
      expect(readFileSync(join(dir, 'precious.txt'), 'utf8')).toBe('keep me\n');
      expect(leftovers(dir)).toEqual([]);
    });

    it('--log-file a link', async () => {
      const dir = caseDir({ 'precious.txt': 'keep me\n' });
      symlinkSync(join(dir, 'precious.txt'), join(dir, 'run.log'));
      expectOneLine(await runCli(['status', '--log-file', 'run.log'], w.env, { cwd: dir }), 2, /^tlmigrate: log file run\.log is a symbolic link: /);
      expect(readFileSync(join(dir, 'precious.txt'), 'utf8')).toBe('keep me\n');
    });
  });

  it.skipIf(!canChattr())('a state folder tlmigrate may not write (EPERM, chattr +i): one line, exit 2, no stack', async () => {
    const dir = caseDir();
    const locked = join(dir, 'immutable');
    mkdirSync(locked);
    execFileSync('chattr', ['+i', locked]);
    try {
      expectOneLine(await runCli(['apply', 'plan.json', '--state', join(locked, 'state.json')], w.env, { cwd: dir }), 2, /^tlmigrate: cannot create .*immutable\/state\.json\.lock \(EPERM\): run from a writable folder or pass --state PATH$/);
      expectOneLine(await runCli(plan(['--out', join(locked, 'plan.json')]), w.env, { cwd: dir }), 2, /^tlmigrate: cannot write plan file .*immutable\/plan\.json \(EPERM\): choose a writable --out path$/);
    } finally {
      execFileSync('chattr', ['-i', locked]);
    }
    expect(readdirSync(locked)).toEqual([]);
  });

  it.skipIf(!nobodyCanRunTheCli())('a state folder of another user (EACCES, run as nobody): one line, exit 2, no stack', async () => {
    const dir = mkdtempSync(join('/tmp', 'tlm-eacces-'));
    chmodSync(dir, 0o755);
    copyFileSync(planFile, join(dir, 'plan.json'));
    chmodSync(join(dir, 'plan.json'), 0o644);
    try {
      const child = spawn(process.execPath, [CLI, 'apply', 'plan.json'], { cwd: dir, uid: 65534, gid: 65534, env: { ...w.env, PATH: process.env.PATH, HOME: '/tmp' }, stdio: ['ignore', 'pipe', 'pipe'] });
      expectOneLine(await collect(child, 120_000), 2, /^tlmigrate: cannot create tlmigrate-state\.json\.lock \(EACCES\): run from a writable folder or pass --state PATH$/);
      expect(readdirSync(dir)).toEqual(['plan.json']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an S3 that accepts and never answers: plan stops with one line naming --s3-request-timeout', async () => {
    const silent = createTcpServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    const port = await listen(silent);
    servers.push(silent);
    const dir = caseDir();
    const result = await runCli(plan(['--s3-endpoint', `http://127.0.0.1:${port}`, '--s3-request-timeout', '0.3', '--out', 'new-plan.json']), w.env, { cwd: dir });
    expectOneLine(result, 2, new RegExp(`^tlmigrate: S3 did not answer within 0\\.3 s for bucket '${w.bucket}' \\(5 attempts\\): check --s3-endpoint / AWS_ENDPOINT_URL_S3 and the network, or raise --s3-request-timeout$`));
    expect(readdirSync(dir)).toEqual(['plan.json']);
  });

  it('S3 stalling mid-plan (the probe reads): one line naming the flag, and no temp file left', async () => {
    const stalled = await startS3FaultProxy(w.s3info.endpoint);
    try {
      stalled.setRules([{ kinds: ['presigned-get'], action: 'stall', rate: 1 }]);
      const dir = caseDir();
      const result = await runCli(plan(['--probe', '--s3-endpoint', stalled.endpoint, '--s3-request-timeout', '0.5', '--out', 'new-plan.json']), w.env, { cwd: dir });
      expectOneLine(result, 2, /^tlmigrate: S3 did not answer within 0\.5 s for a read of h\/(one|two)\.mp4 \(ffprobe\): .*raise --s3-request-timeout$/);
      expect(stalled.injected.stall).toBeGreaterThan(0);
      expect(readdirSync(dir)).toEqual(['plan.json']);
    } finally {
      await stalled.close();
    }
  });

  it('Ctrl-C while a plan waits on a stalled S3: exit 130 at once, no plan and no temp file', async () => {
    const stalled = await startS3FaultProxy(w.s3info.endpoint);
    try {
      stalled.setRules([{ kinds: ['presigned-get'], action: 'stall', rate: 1 }]);
      const dir = caseDir();
      const child = startCli(plan(['--probe', '--s3-endpoint', stalled.endpoint, '--s3-request-timeout', '600', '--out', 'new-plan.json']), w.env, { cwd: dir });
      const done = collect(child, 120_000);
      await vi.waitUntil(() => stalled.injected.stall > 0, { timeout: 60_000, interval: 50 });
      child.kill('SIGINT');
      expectOneLine(await done, 130, /^tlmigrate: interrupted \(SIGINT\): no plan was written; run the same command again$/);
      expect(readdirSync(dir)).toEqual(['plan.json']);
    } finally {
      await stalled.close();
    }
  });

  it('Ctrl-C while apply waits on a stalled HEAD: exit 130, nothing submitted, the state checkpointed; the resume submits each object once', async () => {
    const dir = caseDir();
    const env = { ...w.env, AWS_ENDPOINT_URL_S3: proxy.endpoint };
    expect((await runCli(plan(['--out', 'own-plan.json']), env, { cwd: dir })).code).toBe(0);
    const index = w.sim.createIndex({ name: 'hostile-stall' }).id;
    writeFileSync(join(dir, 'own-plan.json'), readFileSync(join(dir, 'own-plan.json'), 'utf8').replace(`"indexId":"${w.indexId}"`, `"indexId":"${index}"`));
    proxy.setRules([{ kinds: ['head'], action: 'stall', rate: 1 }]);
    const child = startCli(['apply', 'own-plan.json', '--state', 'stall-state.json'], env, { cwd: dir });
    const done = collect(child, 120_000);
    await vi.waitUntil(() => proxy.injected.stall > 0, { timeout: 60_000, interval: 50 });
    child.kill('SIGINT');
    const stopped = await done;
    expect(stopped.code, stopped.stderr).toBe(130);
    expect(stopped.stderr).toMatch(/^tlmigrate: interrupted/im);
    expect(stopped.stderr).not.toMatch(/\n\s+at /);
    proxy.setRules([]);
    const state = await loadState(join(dir, 'stall-state.json'));
    expect(Object.values(state?.items ?? {}).map((i) => i.status)).toEqual(['planned', 'planned']);
    expect(state?.runs.at(-1)?.outcome).toBe('interrupted');
    expect(leftovers(dir)).toEqual([]);
    expect(w.sim.tasks(index)).toEqual([]);

    const resumed = await runCli(['apply', 'own-plan.json', '--state', 'stall-state.json', '--json'], env, { cwd: dir });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ submitted: 2, failed: 0 });
    expect(w.sim.tasks(index)).toHaveLength(2);
    expect(existsSync(join(dir, 'stall-state.json.lock'))).toBe(false);
  });
});

/** Root, and a checkout `nobody` may read (a clone under a 0700 folder is not): else the case cannot be played. */
function nobodyCanRunTheCli(): boolean {
  if (process.getuid?.() !== 0) return false;
  const probe = spawnSync(process.execPath, ['-e', `require('node:fs').accessSync(${JSON.stringify(CLI)}, require('node:fs').constants.R_OK)`], { uid: 65534, gid: 65534, cwd: '/tmp', stdio: 'ignore' });
  return probe.status === 0;
}
