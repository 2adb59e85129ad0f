import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadState } from '../../src/state/index.js';
import { CLI, collect, runCli, startCli } from '../helpers/cli.js';
import { putObjects } from '../helpers/s3.js';
import { uniqueValidVideo, videoFixture } from '../helpers/videos.js';
import { makeWorld, type World } from '../helpers/world.js';

/**
 * Issue 13, "numbers and words that disagree", "Ctrl-C" and "progress": what status, logs, apply's
 * summary, the run report and the exit code say about the same state, in the same words.
 */
describe('numbers and words that agree', () => {
  let w: World | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });
  const cli = (args: string[]) => runCli(args, w!.env, { cwd: w!.dir });
  const state = async () => (await loadState(join(w!.dir, 'tlmigrate-state.json')))!;

  it('failed in preflight vs failed on the platform: status, logs, Applied (after --wait on a resume) and the exit code agree; a no-op apply adds no run', async () => {
    w = await makeWorld('words');
    await putObjects(w.s3, w.bucket, [
      { key: 'w/a.mp4', body: await uniqueValidVideo(1301) },
      { key: 'w/b.mp4', body: await uniqueValidVideo(1302) },
      { key: 'w/broken 1.mp4', body: await videoFixture('random_bytes') },
      { key: 'w/broken 2.mp4', body: Buffer.concat([await videoFixture('random_bytes'), Buffer.from('2')]) },
      { key: 'w/note 1.txt', body: 'one' },
      { key: 'w/note 2.txt', body: 'two' },
    ]);
    expect((await cli(['plan', '--source', `s3://${w.bucket}/w/`, '--index', w.indexId, '--all-files'])).code).toBe(0);

    // Submitted, not followed: nothing has failed on the platform yet; the sidecars failed in preflight.
    const first = await cli(['apply', 'plan.json']);
    expect({ code: first.code, stderr: first.stderr }).toEqual({ code: 0, stderr: '' });
    expect(first.stdout.split('\n')[0]).toMatch(/^Applied: 4 submitted \(0 found by reconciliation\), 0 failed on the platform, 2 failed in preflight \(not sent: the plan found them unfit\), 0 not submitted,/);
    for (const task of w.sim.tasks(w.indexId)) await w.sim.waitForTask(task.id);

    // The resume with --wait sees the two broken videos fail: its summary counts them, and exits 1 for them.
    const resumed = await cli(['apply', 'plan.json', '--wait', '--poll-interval', '0.2']);
    expect({ code: resumed.code, stderr: resumed.stderr }).toEqual({ code: 1, stderr: '' });
    expect(resumed.stdout.split('\n')[0]).toMatch(/^Applied: 0 submitted \(0 found by reconciliation\), 2 failed on the platform, 2 failed in preflight \(not sent: the plan found them unfit\), 0 not submitted,/);
    const json = await cli(['apply', 'plan.json', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ exitCode: 1, failed: 0, failedOnPlatform: 0, failedEarlier: 2, failedInPreflight: 2 });

    const status = await cli(['status']);
    expect(status.stdout).toMatch(/^ {2}failed +4 {3}\(2 in preflight: never sent; 2 on the platform\)$/m);
    expect(status.stdout.split('\n').filter((l) => /^ {2}failed (in preflight|on the platform): /.test(l)).map((l) => l.split(': ').slice(0, 2).join(': ')).sort()).toEqual([
      '  failed in preflight: w/note 1.txt',
      '  failed in preflight: w/note 2.txt',
      '  failed on the platform: w/broken 1.mp4',
      '  failed on the platform: w/broken 2.mp4',
    ]);
    const statusJson = JSON.parse((await cli(['status', '--json'])).stdout);
    expect(statusJson.failed.map((f: { filename: string; stage: string }) => `${f.stage} ${f.filename}`).sort()).toEqual(['platform w/broken 1.mp4', 'platform w/broken 2.mp4', 'preflight w/note 1.txt', 'preflight w/note 2.txt']);

    // logs: the first run's tasks failed on the platform; the preflight failures belong to no run. The
    // --json apply above found nothing to do, and neither does this one: no empty entries.
    const noop = await cli(['apply', 'plan.json']);
    expect(noop.code).toBe(1);
    expect(noop.stdout).toMatch(/^Applied: 0 submitted .*, 0 failed on the platform \(and 2 in earlier runs\), 2 failed in preflight/);
    const logs = await cli(['logs']);
    const runLines = logs.stdout.split('\n').filter((l) => l.startsWith('run '));
    expect(runLines).toHaveLength(2);
    expect(runLines[0]).toMatch(/, failed on the platform 2$/);
    expect(runLines[1]).toMatch(/, failed on the platform 0$/);
    expect(logs.stdout).toMatch(/^failed in preflight \(never sent: the plan found them unfit\): 2$/m);
    const logsJson = JSON.parse((await cli(['logs', '--json'])).stdout);
    expect(logsJson.data).toHaveLength(2);
    expect(logsJson.failed_in_preflight.map((f: { filename: string }) => f.filename).sort()).toEqual(['w/note 1.txt', 'w/note 2.txt']);

    // The run report: the skip line adds up, and the retry advice says what it means.
    const report = await cli(['report', 'tlmigrate-state.json']);
    expect(report.stdout).not.toMatch(/may not meet|skipped by the plan|\b1 (duplicates|groups|copies)\b/);
    expect(report.stdout).toMatch(/failed, but not because of the file itself \(the platform's indexing failed, or it refused the request\): a new attempt may succeed, so resubmit them/);
  });

  it('a run killed with kill -9 is closed as interrupted, with the counts its items show, by the next run that takes the lock', async () => {
    w = await makeWorld('killed-run');
    await putObjects(w.s3, w.bucket, await Promise.all(Array.from({ length: 6 }, async (_, i) => ({ key: `k/clip ${i}.mp4`, body: await uniqueValidVideo(1310 + i) }))));
    expect((await cli(['plan', '--source', `s3://${w.bucket}/k/`, '--index', w.indexId])).code).toBe(0);
    w.sim.faults.set({ latency: { ms: 400, routes: ['POST /tasks'] } });
    const child = startCli(['apply', 'plan.json', '--concurrency', '1'], w.env, { cwd: w.dir });
    const done = collect(child, 120_000);
    const withTask = async () => Object.values((await loadState(join(w!.dir, 'tlmigrate-state.json')).catch(() => undefined))?.items ?? {}).filter((i) => i.taskId).length;
    await vi.waitUntil(async () => (await withTask()) >= 2, { timeout: 60_000, interval: 50 });
    child.kill('SIGKILL');
    await done;

    const killed = await state();
    const runId = killed.runs[0]!.runId;
    expect(killed.runs[0]!.endedAt).toBeNull();
    const submitted = Object.values(killed.items).filter((i) => i.runId === runId && i.taskId).length;
    expect(submitted).toBeGreaterThanOrEqual(2);
    expect((await cli(['logs'])).stdout).toMatch(/^run \S+ -> not ended \(stopped without closing: the next apply records it as interrupted\): /);

    w.sim.faults.reset();
    const resumed = await cli(['apply', 'plan.json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const closed = (await state()).runs.find((r) => r.runId === runId)!;
    expect(closed).toMatchObject({ outcome: 'interrupted', endedAt: expect.any(String), counters: { submitted } });
    const logs = await cli(['logs']);
    expect(logs.stdout).not.toMatch(/running|not ended/);
    const report = await cli(['report', 'tlmigrate-state.json']);
    expect(report.stdout).toMatch(new RegExp(`-> \\S+ {2}apply interrupted {2}submitted ${submitted}, `));
  });

  it('Ctrl-C while requests wait for the rate limiter: none of them is sent, their items rest, and "Interrupted" is said once; the progress line says it waits', async () => {
    w = await makeWorld('ctrl-c-rate');
    await putObjects(w.s3, w.bucket, await Promise.all(Array.from({ length: 4 }, async (_, i) => ({ key: `r/clip ${i}.mp4`, body: await uniqueValidVideo(1320 + i) }))));
    expect((await cli(['plan', '--source', `s3://${w.bucket}/r/`, '--index', w.indexId])).code).toBe(0);
    // One task per 10 minutes, announced in X-Ratelimit-* headers: after the first POST every other one waits at the pacer.
    w.sim.faults.set({ rateLimit: { limit: 1, windowMs: 600_000, routes: ['POST /tasks'] } });
    const tty = inTerminal(['apply', 'plan.json', '--concurrency', '2'], w.env, w.dir);
    const posts = () => w!.sim.counts().byRoute['POST /tasks'] ?? 0;
    const waiting = async () => Object.values((await loadState(join(w!.dir, 'tlmigrate-state.json')).catch(() => undefined))?.items ?? {}).filter((i) => i.status === 'intent').length;
    // One task created, and two items with an intent recorded whose POSTs wait their turn (the second
    // POST may have gone out beside the first and met a 429: it waits again all the same).
    await vi.waitUntil(async () => w!.sim.counts().tasksCreated === 1 && (await waiting()) === 2 && tty.output().includes('2 requests waiting for the rate limit'), { timeout: 60_000, interval: 50 });
    const sentBefore = posts();
    const pid = (JSON.parse(readFileSync(join(w.dir, 'tlmigrate-state.json.lock'), 'utf8')) as { pid: number }).pid;
    process.kill(pid, 'SIGINT');
    const code = await tty.exited;

    expect(code, tty.output()).toBe(130);
    expect(posts()).toBe(sentBefore);
    expect(w.sim.counts().tasksCreated).toBe(1);
    const after = await state();
    expect(Object.values(after.items).map((i) => i.status).sort()).toEqual(['planned', 'planned', 'planned', 'submitted']);
    expect(after.runs.at(-1)?.outcome).toBe('interrupted');
    expect(tty.output().match(/Interrupted/g)).toHaveLength(1);
    expect(tty.output()).toMatch(/apply: 1\/4 submitted, 0 failed, .*, 2 requests waiting for the rate limit/);
  });

  it('plan --probe shows its progress on a terminal, the whole line when the terminal reports no width', async () => {
    w = await makeWorld('probe-progress');
    await putObjects(w.s3, w.bucket, [{ key: 'p/a.mp4', body: await uniqueValidVideo(1330) }]);
    const tty = inTerminal(['plan', '--source', `s3://${w.bucket}/p/`, '--index', w.indexId, '--probe'], w.env, w.dir);
    expect(await tty.exited, tty.output()).toBe(0);
    expect(tty.output()).toMatch(/probe: 1 video read for duration and resolution \(1 object listed\)/);
  });
});

/** Runs the CLI on a pseudo-terminal (util-linux `script`), so it shows what a user at a terminal sees. */
function inTerminal(args: string[], env: Record<string, string>, cwd: string): { output(): string; exited: Promise<number | null> } {
  const command = [process.execPath, CLI, ...args].map((word) => `'${word.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  return { output: () => output, exited: new Promise((resolve) => child.on('close', (code) => resolve(code))) };
}

