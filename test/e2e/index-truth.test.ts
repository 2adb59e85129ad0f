import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { canMount } from '../helpers/mount.js';
import { runCli } from '../helpers/cli.js';
import { putObjects } from '../helpers/s3.js';
import { uniqueValidVideo } from '../helpers/videos.js';
import { makeWorld, type World } from '../helpers/world.js';

/**
 * The index is the source of truth, the state file a cache of it (issue 10): a new, lost or other
 * state file never produces a second task, content is one content under any key, and a lost answer
 * is never resubmitted on a short guess.
 */

async function seed(w: World, keys: string[], base: number): Promise<string[]> {
  await putObjects(w.s3, w.bucket, await Promise.all(keys.map(async (key, i) => ({ key, body: await uniqueValidVideo(base + i) }))), 16);
  return keys;
}

const keysOf = (prefix: string, n: number, name = (i: number) => `clip ${String(i).padStart(2, '0')}.mp4`) => Array.from({ length: n }, (_, i) => `${prefix}/${name(i)}`);

/** Every key got exactly `times` tasks (default one). */
function expectTasks(w: World, keys: string[], times = 1): void {
  const bySource = Object.fromEntries(w.sim.counts().tasksBySourcePath);
  for (const key of keys) expect(bySource[`/${w.bucket}/${key}`], key).toBe(times);
}

async function plan(w: World, prefix: string, out: string, extra: string[] = []): Promise<{ upload: number; skip: number; fail: number }> {
  const result = await runCli(['plan', '--source', `s3://${w.bucket}/${prefix}/`, '--index', w.indexId, '--out', out, '--json', ...extra], w.env, { cwd: w.dir });
  expect(result.code, result.stderr).toBe(0);
  return (JSON.parse(result.stdout) as { counts: { upload: number; skip: number; fail: number } }).counts;
}

async function allTasksEnded(w: World): Promise<void> {
  for (const task of w.sim.tasks(w.indexId)) await w.sim.waitForTask(task.id, 30_000);
}

describe('the index decides, the state file remembers', () => {
  let w: World | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it('a plan applied again with a fresh state creates nothing and says what it found; a video deleted from the index is uploaded again', async () => {
    w = await makeWorld('truth');
    const keys = await seed(w, keysOf('t', 12), 11_000);
    const planFile = join(w.dir, 'plan.json');
    expect((await plan(w, 't', planFile)).upload).toBe(12);
    const first = await runCli(['apply', planFile, '--wait', '--poll-interval', '0.2', '--json'], w.env, { cwd: w.dir });
    expect(first.code, first.stderr).toBe(0);
    expectTasks(w, keys);

    // Another folder, another state file: the index already holds every object.
    const elsewhere = mkdtempSync(join(w.dir, 'elsewhere-'));
    const again = await runCli(['apply', planFile, '--json'], w.env, { cwd: elsewhere });
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ submitted: 0, foundInIndex: 12, pending: 0 });
    const words = await runCli(['apply', planFile, '--state', join(w.dir, 'third-state.json')], w.env, { cwd: w.dir });
    expect(words.code, words.stderr).toBe(0);
    expect(words.stdout).toMatch(/Applied: 0 submitted .* Index check: 12 already in the index \(found by their fingerprint, not sent again\)/);
    expectTasks(w, keys);

    // The index is the truth for the first state too: a video deleted since is uploaded again, only that one.
    const victim = keys[3] as string;
    const video = w.sim.videos(w.indexId).find((v) => v.userMetadata?.tlm_source === `s3://${w!.bucket}/${victim}`);
    expect(video).toBeDefined();
    const deleted = await fetch(`${w.sim.url}/indexes/${w.indexId}/videos/${video?.id}`, { method: 'DELETE', headers: { 'x-api-key': w.sim.apiKey } });
    expect(deleted.ok).toBe(true);
    const redo = await runCli(['apply', planFile, '--json'], w.env, { cwd: w.dir });
    expect(redo.code, redo.stderr).toBe(0);
    expect(JSON.parse(redo.stdout)).toMatchObject({ submitted: 1, gone: 1 });
    expectTasks(w, keys.filter((k) => k !== victim));
    expectTasks(w, [victim], 2);
  });

  it('source duplicates: re-plans with the state (twin indexing, then ready) and without it want 0 uploads', async () => {
    w = await makeWorld('twins', { lifecycle: { validatingMs: 6000, pendingMs: 300, queuedMs: 300, indexingMs: 300 } });
    const twin = await uniqueValidVideo(12_001);
    await putObjects(w.s3, w.bucket, [
      { key: 'dup/one.mp4', body: twin },
      { key: 'dup/two.mp4', body: twin },
      { key: 'dup/other.mp4', body: await uniqueValidVideo(12_002) },
    ]);
    const planFile = join(w.dir, 'plan.json');
    expect(await plan(w, 'dup', planFile)).toEqual({ upload: 2, skip: 1, fail: 0 });
    const applied = await runCli(['apply', planFile, '--json'], w.env, { cwd: w.dir });
    expect(applied.code, applied.stderr).toBe(0);
    expect(w.sim.tasks(w.indexId).every((t) => t.status !== 'ready')).toBe(true);
    expect((await plan(w, 'dup', join(w.dir, 'while-indexing.json'))).upload).toBe(0);
    await allTasksEnded(w);
    expect((await plan(w, 'dup', join(w.dir, 'when-ready.json'))).upload).toBe(0);
    const fresh = join(w.dir, 'no-such-state.json');
    expect((await plan(w, 'dup', join(w.dir, 'stateless.json'), ['--state', fresh])).upload).toBe(0);
    // And the stateless plan, applied with that fresh state, sends nothing either.
    const reapplied = await runCli(['apply', join(w.dir, 'stateless.json'), '--state', fresh, '--json'], w.env, { cwd: w.dir });
    expect(reapplied.code, reapplied.stderr).toBe(0);
    expect(JSON.parse(reapplied.stdout)).toMatchObject({ submitted: 0 });
    expect(w.sim.counts().tasksCreated).toBe(2);
  });

  it('a listing that lags 8 s and posts that create the task then answer 500: one task per object with default flags', async () => {
    w = await makeWorld('lag8');
    const keys = await seed(w, keysOf('lag', 12), 13_000);
    const planFile = join(w.dir, 'plan.json');
    await plan(w, 'lag', planFile);
    w.sim.faults.set({ taskVisibilityLagMs: 8000, postAcceptThenFail: { nth: [4, 8, 12], mode: '500' } });
    // Default flags: the test environment's shortest allowed --reconcile-min-age is taken away too.
    const env = { ...w.env, TLMIGRATE_RECONCILE_MIN_AGE: undefined };
    const applied = await runCli(['apply', planFile, '--json'], env, { cwd: w.dir, timeoutMs: 240_000 });
    expect(applied.code, applied.stderr).toBe(0);
    expect(JSON.parse(applied.stdout)).toMatchObject({ submitted: 12, reconciled: 3, pending: 0 });
    expect(w.sim.counts().serverErrors).toBe(3);
    expectTasks(w, keys);
  }, 300_000);

  it('two prefixes with their own state files into one index, same base names, faults on the second: each object its own task, verify passes', async () => {
    w = await makeWorld('cams');
    const name = (i: number) => `GOPR000${i}.MP4`;
    const cam1 = await seed(w, keysOf('cam1', 6, name), 14_000);
    const cam2 = await seed(w, keysOf('cam2', 6, name), 14_100);
    const plan1 = join(w.dir, 'plan1.json');
    const plan2 = join(w.dir, 'plan2.json');
    const state1 = join(w.dir, 'state1.json');
    const state2 = join(w.dir, 'state2.json');
    await plan(w, 'cam1', plan1, ['--state', state1]);
    expect((await runCli(['apply', plan1, '--state', state1], w.env, { cwd: w.dir })).code).toBe(0);
    // cam1's tasks are in flight under the same file names: that alone never skips cam2's objects.
    expect((await plan(w, 'cam2', plan2, ['--state', state2])).upload).toBe(6);
    w.sim.faults.set({ seed: 21, error5xx: { rate: 0.3, routes: ['POST /tasks'] }, postAcceptThenFail: { rate: 0.2, mode: '500' }, taskVisibilityLagMs: 500 });
    await runCli(['apply', plan2, '--state', state2, '--reconcile-lag', '0.5'], w.env, { cwd: w.dir });
    w.sim.faults.reset();
    const resumed = await runCli(['apply', plan2, '--state', state2, '--reconcile-lag', '0.5', '--json'], w.env, { cwd: w.dir });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(w.sim.counts().serverErrors).toBeGreaterThan(0);
    expectTasks(w, [...cam1, ...cam2]);
    await allTasksEnded(w);
    const verified = await runCli(['verify', '--source', `s3://${w.bucket}/`, '--index', w.indexId, '--json'], w.env, { cwd: w.dir });
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
  }, 300_000);
});


describe('a durable record is a complete record', () => {
  it.skipIf(!canMount())('the disk filling at random moments during apply, then a resume: exactly one task per object, 10 trials', async () => {
    const w = await makeWorld('disk-fills', { fetchVideo: false });
    const disk = join(w.dir, 'disk');
    mkdirSync(disk);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', disk]);
    try {
      const stopped: number[] = [];
      for (let trial = 0; trial < 10; trial++) {
        const prefix = `fill${trial}`;
        const keys = keysOf(prefix, 8);
        await putObjects(w.s3, w.bucket, keys.map((key, i) => ({ key, body: `bytes of ${prefix} number ${i}` })));
        const state = join(disk, `state-${trial}.json`);
        const planFile = join(w.dir, `plan-${trial}.json`);
        await plan(w, prefix, planFile, ['--state', state]);
        // Leave a random few KB free: the state runs out of room at a different step each trial.
        const filler = join(disk, 'filler');
        const free = Number(execFileSync('df', ['--output=avail', '-B1', disk]).toString().split('\n')[1]);
        writeFileSync(filler, Buffer.alloc(Math.max(0, free - (1024 + Math.floor(Math.random() * 7168)))));
        const full = await runCli(['apply', planFile, '--state', state, '--concurrency', '3'], w.env, { cwd: w.dir });
        if (full.code !== 0) {
          expect(full.code, full.stderr).toBe(2);
          expect(full.stderr).toMatch(/ENOSPC/);
          stopped.push(trial);
        }
        rmSync(filler);
        const resumed = await runCli(['apply', planFile, '--state', state, '--json'], w.env, { cwd: w.dir });
        expect(resumed.code, resumed.stderr).toBe(0);
        expectTasks(w, keys);
        rmSync(state, { force: true });
        rmSync(`${state}.journal`, { force: true });
      }
      // The disk did fill in most trials (a trial with room to spare still checks the resume).
      expect(stopped.length).toBeGreaterThan(0);
    } finally {
      execFileSync('umount', [disk]);
      await w.close();
    }
  }, 600_000);
});
