import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { collect, runCli, startCli } from '../helpers/cli.js';
import { putObjects } from '../helpers/s3.js';
import { uniqueValidVideo } from '../helpers/videos.js';
import { makeWorld, type World } from '../helpers/world.js';

/** Seeds `n` small videos, distinct across prefixes too (equal bytes under two keys are one content: a duplicate), and returns their keys. */
async function seedVideos(w: World, n: number, prefix = 'v'): Promise<string[]> {
  const objects = [];
  const base = 1000 * (prefix.charCodeAt(0) - 95);
  for (let i = 0; i < n; i++) objects.push({ key: `${prefix}/clip ${String(i).padStart(3, '0')}.mp4`, body: await uniqueValidVideo(base + i) });
  await putObjects(w.s3, w.bucket, objects, 32);
  return objects.map((o) => o.key);
}

/** Every key got exactly one task, and no other task exists. */
function expectExactlyOnce(w: World, keys: string[]): void {
  const bySource = w.sim.counts().tasksBySourcePath;
  const wanted = new Map(keys.map((k) => [`/${w.bucket}/${k}`, 1]));
  expect(Object.fromEntries(bySource)).toEqual(Object.fromEntries(wanted));
}

async function plan(w: World, extra: string[] = []): Promise<string> {
  const out = join(w.dir, 'plan.json');
  const result = await runCli(['plan', '--source', `s3://${w.bucket}`, '--index', w.indexId, '--out', out, ...extra], w.env, { cwd: w.dir });
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return out;
}

function readState(w: World): { version: number; items: Record<string, { status: string; taskId?: string }> } {
  return JSON.parse(readFileSync(join(w.dir, 'tlmigrate-state.json'), 'utf8'));
}

describe('tlmigrate apply against Ceph and the simulator', () => {
  let w: World | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it('migrates 200 videos with exactly one task each, then status and logs keep the old import shapes', async () => {
    w = await makeWorld('apply200');
    const keys = await seedVideos(w, 200);
    const planFile = await plan(w);
    const result = await runCli(['apply', planFile, '--concurrency', '8', '--metadata', 'project=e2e', '--metadata', 'year=2026', '--wait', '--poll-interval', '0.2', '--json'], w.env, { cwd: w.dir });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const out = JSON.parse(result.stdout);
    expect(out).toMatchObject({ submitted: 200, failed: 0, pending: 0, interrupted: false });
    expectExactlyOnce(w, keys);
    const task = w.sim.tasks(w.indexId).find((t) => t.sourcePath === `/${w!.bucket}/${keys[7]}`);
    expect(task?.userMetadata).toMatchObject({ project: 'e2e', year: 2026, tlm_source: `s3://${w.bucket}/${keys[7]}`, tlm_size: expect.any(Number), tlm_etag: expect.any(String), tlm_run: out.runId });
    expect(statSync(join(w.dir, 'tlmigrate-state.json')).mode & 0o777).toBe(0o600);

    const status = await runCli(['status', '--json'], w.env, { cwd: w.dir });
    expect(status.code).toBe(0);
    const s = JSON.parse(status.stdout);
    expect(Object.keys(s).sort()).toEqual(['failed', 'indexing', 'not_imported', 'pending', 'queued', 'ready', 'validating']);
    expect(s.ready).toHaveLength(200);
    expect(s.ready[0]).toEqual({ video_id: expect.stringMatching(/^[0-9a-f]{24}$/), filename: expect.any(String), created_at: expect.any(String) });
    expect(s.not_imported).toEqual([]);

    const logs = await runCli(['logs', '--json'], w.env, { cwd: w.dir });
    const l = JSON.parse(logs.stdout);
    expect(l.data).toHaveLength(1);
    expect(l.data[0]).toEqual({
      index_id: w.indexId,
      index_name: 'apply200',
      created_at: expect.any(String),
      ended_at: expect.any(String),
      video_status: { ready: 200, validating: 0, queued: 0, pending: 0, indexing: 0, failed: 0 },
      failed_files: [],
    });

    // No secret reaches any file or output: API key, AWS secret, presigned signatures.
    const written = [readFileSync(join(w.dir, 'tlmigrate-state.json'), 'utf8'), readFileSync(planFile, 'utf8'), result.stdout, status.stdout, logs.stdout].join('\n');
    for (const secret of [w.sim.apiKey, w.s3info.secretAccessKey, 'X-Amz-Signature', 'X-Amz-Credential']) expect(written).not.toContain(secret);

    // Applying the same plan again creates nothing new.
    const again = await runCli(['apply', planFile, '--json'], w.env, { cwd: w.dir });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout).submitted).toBe(0);
    expectExactlyOnce(w, keys);
  });

  it('keeps exactly one task per object with every fault switch on', async () => {
    w = await makeWorld('faults');
    const world = w;
    const keys = [...(await seedVideos(w, 20, 'a')), ...(await seedVideos(w, 20, 'b')), ...(await seedVideos(w, 20, 'c'))];
    const phase = async (prefix: string, faults: Parameters<typeof world.sim.faults.set>[0], timeout: string) => {
      const planFile = join(world.dir, `plan-${prefix}.json`);
      const planned = await runCli(['plan', '--source', `s3://${world.bucket}/${prefix}/`, '--index', world.indexId, '--out', planFile, '--state', join(world.dir, `state-${prefix}.json`)], world.env);
      expect(planned.code, planned.stderr).toBe(0);
      world.sim.faults.set(faults);
      const run = await runCli(['apply', planFile, '--state', join(world.dir, `state-${prefix}.json`), '--concurrency', '6', '--reconcile-lag', '0.5', '--request-timeout', timeout, '--json'], world.env);
      world.sim.faults.reset();
      // Whatever the faults left undone, a resume without them finishes, creating nothing twice.
      const resume = await runCli(['apply', planFile, '--state', join(world.dir, `state-${prefix}.json`), '--reconcile-lag', '0.5', '--json'], world.env);
      expect(resume.code, `${run.stderr}${resume.stderr}`).toBe(0);
      return JSON.parse(run.stdout || '{"reconciled":0}') as { reconciled: number };
    };
    const a = await phase('a', { seed: 7, latency: { ms: { min: 0, max: 30 } }, rateLimit: { limit: 8, windowMs: 1000, retryAfter: true, headers: true }, error5xx: { rate: 0.15 }, postAcceptThenFail: { rate: 0.2, mode: 'drop' }, taskVisibilityLagMs: 300 }, '5');
    // Phase a's limit covers every route (one shared bucket, with headers); b's only the creates' category, without headers.
    const b = await phase('b', { seed: 8, rateLimit: { limit: 5, windowMs: 1000, retryAfter: false, headers: false, routes: ['POST /tasks'] }, postAcceptThenFail: { rate: 0.2, mode: '500' } }, '5');
    const c = await phase('c', { seed: 9, postAcceptThenFail: { rate: 0.2, mode: 'reset' }, slowResponse: { ms: 1500, routes: ['POST /tasks'] } }, '1');
    const counts = w.sim.counts();
    const why = JSON.stringify({ ...counts, tasksBySourcePath: undefined });
    expect(counts.rateLimited, why).toBeGreaterThan(0);
    expect(counts.serverErrors, why).toBeGreaterThan(0);
    expect(counts.connectionsLost, why).toBeGreaterThan(0);
    // Lost answers were found again by reconciliation, not resubmitted.
    expect(a.reconciled + b.reconciled + c.reconciled, why).toBeGreaterThan(0);
    expectExactlyOnce(w, keys);
  }, 300_000);

  it('survives kill -9 at 10 random moments: resume ends with exactly one task per object', async () => {
    w = await makeWorld('kill9', { lifecycle: { validatingMs: 50, pendingMs: 50, queuedMs: 50, indexingMs: 50 } });
    const keys = await seedVideos(w, 120);
    const planFile = await plan(w);
    // Slow enough creates that no run can finish its work inside the kill window: every kill interrupts work.
    w.sim.faults.set({ latency: { ms: { min: 200, max: 300 }, routes: ['POST /tasks'] }, postAcceptThenFail: { rate: 0.05, mode: 'drop' } });
    const unsent = () => (existsSync(join(w!.dir, 'tlmigrate-state.json')) ? Object.values(readState(w!).items).filter((i) => !i.taskId).length : keys.length);
    let interrupted = 0;
    for (let i = 0; i < 10; i++) {
      const child = startCli(['apply', planFile, '--concurrency', '4', '--reconcile-lag', '0.3'], w.env, { cwd: w.dir });
      const done = collect(child, 60_000);
      // Kill at a random instant of the run proper (after it locked and created the state), not of Node's start-up.
      const holder = () => {
        try {
          return (JSON.parse(readFileSync(join(w!.dir, 'tlmigrate-state.json.lock'), 'utf8')) as { pid: number }).pid;
        } catch {
          return undefined;
        }
      };
      for (let waited = 0; holder() !== child.pid && child.exitCode === null && waited < 20_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 100 + Math.floor(Math.random() * 700)));
      const killed = child.exitCode === null && child.kill('SIGKILL');
      await done;
      // Whatever instant it died at, the state file parses; a kill counts only if work was left undone.
      if (existsSync(join(w.dir, 'tlmigrate-state.json'))) expect(readState(w).version).toBe(1);
      if (killed && unsent() > 0) interrupted += 1;
    }
    expect(interrupted).toBe(10);
    w.sim.faults.reset();
    const final = await runCli(['apply', planFile, '--reconcile-lag', '0.3', '--json'], w.env, { cwd: w.dir });
    expect(final.code, final.stderr).toBe(0);
    expectExactlyOnce(w, keys);
    const state = readState(w);
    expect(Object.keys(state.items)).toHaveLength(120);
    expect(Object.values(state.items).filter((i) => !i.taskId)).toEqual([]);
  }, 300_000);

  it('status --refresh follows tasks submitted without --wait', async () => {
    w = await makeWorld('refresh', { lifecycle: { validatingMs: 300, pendingMs: 100, queuedMs: 100, indexingMs: 100 } });
    const keys = await seedVideos(w, 5);
    const planFile = await plan(w);
    const applied = await runCli(['apply', planFile], w.env, { cwd: w.dir });
    expect(applied.code).toBe(0);
    const before = JSON.parse((await runCli(['status', '--json'], w.env, { cwd: w.dir })).stdout);
    expect(before.validating).toHaveLength(5);
    for (const task of w.sim.tasks(w.indexId)) await w.sim.waitForTask(task.id);
    const after = JSON.parse((await runCli(['status', '--refresh', '--json'], w.env, { cwd: w.dir })).stdout);
    expect(after.ready.map((r: { filename: string }) => r.filename).sort()).toEqual(keys);
    expect(after.validating).toEqual([]);
  });

  it('refuses a second concurrent apply on the same state file, naming the holder', async () => {
    w = await makeWorld('lock');
    await seedVideos(w, 30);
    const planFile = await plan(w);
    w.sim.faults.set({ latency: { ms: 200, routes: ['POST /tasks'] } });
    const child = startCli(['apply', planFile, '--concurrency', '1'], w.env, { cwd: w.dir });
    const done = collect(child, 60_000);
    await new Promise((r) => setTimeout(r, 1500));
    const second = await runCli(['apply', planFile], w.env, { cwd: w.dir });
    expect(second.code).toBe(2);
    expect(second.stderr.trim().split('\n')).toHaveLength(1);
    expect(second.stderr).toMatch(new RegExp(`in use by pid ${child.pid} on .* started 20`));
    child.kill('SIGINT');
    const first = await done;
    expect(first.code).toBe(130);
    expect(first.stderr).toMatch(/Resume with: tlmigrate apply/);
  });
});
