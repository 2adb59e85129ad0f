import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { collect, runCli, startCli } from '../helpers/cli.js';
import { putObjects } from '../helpers/s3.js';
import { uniqueValidVideo } from '../helpers/videos.js';
import { makeWorld, type World } from '../helpers/world.js';
import { ROUTE_IDS } from '../sim/routes.js';

const GET_ROUTES = ROUTE_IDS.filter((r) => r.startsWith('GET '));

async function seedVideos(w: World, n: number): Promise<string[]> {
  const objects = [];
  for (let i = 0; i < n; i++) objects.push({ key: `u/clip ${String(i).padStart(3, '0')}.mp4`, body: await uniqueValidVideo(7000 + i) });
  await putObjects(w.s3, w.bucket, objects, 16);
  return objects.map((o) => o.key);
}

function expectExactlyOnce(w: World, keys: string[]): void {
  const bySource = w.sim.counts().tasksBySourcePath;
  expect(Object.fromEntries(bySource)).toEqual(Object.fromEntries(keys.map((k) => [`/${w.bucket}/${k}`, 1])));
}

async function plan(w: World, extra: string[] = []): Promise<string> {
  const out = join(w.dir, 'plan.json');
  const result = await runCli(['plan', '--source', `s3://${w.bucket}`, '--index', w.indexId, '--out', out, ...extra], w.env, { cwd: w.dir });
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return out;
}

function apply(w: World, planFile: string, extra: string[] = []) {
  return runCli(['apply', planFile, '--concurrency', '2', ...extra], w.env, { cwd: w.dir, timeoutMs: 180_000 });
}

/** The `apply finished` log line (JSON on stderr at --log-level info). */
function finishedLog(stderr: string): { pacer: { byCategory: Record<string, { sent: number; throttled: number; pausedMs: number }> }; videoMinutes: { learnedLimit?: number } } {
  const line = stderr.split('\n').find((l) => l.includes('"apply finished"'));
  expect(line).toBeDefined();
  return JSON.parse(line as string);
}

function postTimes(w: World): number[] {
  return w.sim.requests.filter((r) => r.route === 'POST /tasks' && r.status < 300).map((r) => r.at);
}

describe('unattended runs', () => {
  let w: World | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it('--wait-for-quota: a quota of 3 creates per 20 s window; one apply waits through the windows and sends each video once; logs shows the waits', async () => {
    w = await makeWorld('quotawait');
    const keys = await seedVideos(w, 7);
    const planFile = await plan(w);
    w.sim.faults.set({ dailyQuota: { limit: 3, windowMs: 20_000 } });
    const result = await apply(w, planFile, ['--wait-for-quota']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Applied: 7 submitted .*Waited for quota [2-9] times/);
    expect(result.stderr).toMatch(/waiting for quota until \d{4}-\d{2}-\d{2} \d{2}:\d{2} \(in \d+ s\)/);
    expectExactlyOnce(w, keys);
    // 7 creates at 3 per window (back to back from the first create): no window got more than 3, so three were used.
    const windows = new Map<number, number>();
    const first = Math.min(...postTimes(w));
    for (const at of postTimes(w)) windows.set(Math.floor((at - first) / 20_000), (windows.get(Math.floor((at - first) / 20_000)) ?? 0) + 1);
    expect(Math.max(...windows.values())).toBeLessThanOrEqual(3);
    expect(windows.size).toBeGreaterThanOrEqual(3);

    const state = JSON.parse(readFileSync(join(w.dir, 'tlmigrate-state.json'), 'utf8'));
    expect(state.runs[0].waits.length).toBeGreaterThanOrEqual(2);
    expect(state.runs[0].waits[0]).toMatchObject({ reason: 'usage_limit_exceeded', resetKnown: true });
    const logs = await runCli(['logs'], w.env, { cwd: w.dir });
    expect(logs.code).toBe(0);
    expect(logs.stdout.match(/waited for quota: \S+ -> \S+ \(usage_limit_exceeded\)/g)?.length).toBe(state.runs[0].waits.length);
    const report = await runCli(['report', 'tlmigrate-state.json'], w.env, { cwd: w.dir });
    expect(report.stdout).toMatch(/waited for quota .* \(usage_limit_exceeded\)/);
  });

  it('Ctrl-C during a quota wait (a reset hours away) ends the run cleanly with exit 130; the resume sends the rest once', async () => {
    w = await makeWorld('quotactrlc');
    const keys = await seedVideos(w, 5);
    const planFile = await plan(w);
    w.sim.faults.set({ dailyQuota: { limit: 2, resetAt: Date.now() + 3 * 3600_000 } });
    const child = startCli(['apply', planFile, '--concurrency', '2', '--wait-for-quota'], w.env, { cwd: w.dir });
    const done = collect(child, 120_000);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    await expect.poll(() => stderr, { timeout: 60_000, interval: 100 }).toMatch(/waiting for quota until \d{4}-\d{2}-\d{2} \d{2}:\d{2} \(in (3 h|2 h \d+ min)\)/);
    child.kill('SIGINT');
    const first = await done;
    expect(first.code).toBe(130);
    expect(first.stderr).toMatch(/Resume with: tlmigrate apply/);
    expect(w.sim.counts().tasksCreated).toBe(2);
    const state = JSON.parse(readFileSync(join(w.dir, 'tlmigrate-state.json'), 'utf8'));
    expect(state.runs[0]).toMatchObject({ outcome: 'interrupted', waits: [expect.objectContaining({ reason: 'usage_limit_exceeded', resetKnown: true })] });
    w.sim.faults.reset();
    const second = await apply(w, planFile);
    expect(second.code).toBe(0);
    expectExactlyOnce(w, keys);
  });

  it('a 429 on GETs only does not slow creates: each category is paced apart (requests by route)', async () => {
    w = await makeWorld('getthrottle');
    const keys = await seedVideos(w, 12);
    const planFile = await plan(w);
    w.sim.clearRequests();
    w.sim.faults.set({ rateLimit: { limit: 1, windowMs: 2_000, routes: GET_ROUTES } });
    const result = await apply(w, planFile, ['--concurrency', '4', '--log-level', 'info']);
    expect(result.code).toBe(0);
    expectExactlyOnce(w, keys);
    const byRoute = (route: string, status?: number) => w!.sim.requests.filter((r) => r.route === route && (status === undefined || r.status === status)).length;
    const get429 = GET_ROUTES.reduce((n, r) => n + byRoute(r, 429), 0);
    expect(get429).toBeGreaterThan(0);
    expect(byRoute('POST /tasks')).toBe(12);
    expect(byRoute('POST /tasks', 429)).toBe(0);
    const { pacer } = finishedLog(result.stderr);
    expect(pacer.byCategory['reads']?.throttled).toBeGreaterThan(0);
    // The creates' pacer never paused: the GETs' 429s were theirs alone.
    expect(pacer.byCategory['tasks']).toMatchObject({ sent: 12, throttled: 0, pausedMs: 0 });
  });

  it('a video-minute limit announced by the server is learned: creates wait for its reset instead of being refused', async () => {
    w = await makeWorld('minutes');
    const keys = await seedVideos(w, 7);
    const planFile = await plan(w, ['--probe']);
    // Each 5 s video is charged its own minutes; 0.26 min per 6 s window fits three.
    w.sim.faults.set({ videoMinutes: { limit: 0.26, windowMs: 6_000, minutesPerCreate: 5 / 60 } });
    const result = await apply(w, planFile, ['--concurrency', '1', '--log-level', 'info']);
    expect(result.code).toBe(0);
    expectExactlyOnce(w, keys);
    expect(w.sim.requests.filter((r) => r.route === 'POST /tasks' && r.status === 429)).toHaveLength(0);
    const windows = new Map<number, number>();
    for (const at of postTimes(w)) windows.set(Math.floor(at / 6_000), (windows.get(Math.floor(at / 6_000)) ?? 0) + 1);
    expect(Math.max(...windows.values())).toBeLessThanOrEqual(3);
    expect(finishedLog(result.stderr).videoMinutes.learnedLimit).toBe(0.26);
  });

  it('--max-items stops at its bound with exit 0 and a resume line; the resume completes each video once', async () => {
    w = await makeWorld('maxitems');
    const keys = await seedVideos(w, 7);
    const planFile = await plan(w);
    const first = await apply(w, planFile, ['--max-items', '3']);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^Budget reached \(--max-items\): stopped cleanly, 3 items started and 3 submitted this run; left for the next run: 4 items\. Resume with: tlmigrate apply /);
    expect(w.sim.counts().tasksCreated).toBe(3);
    const logs = await runCli(['logs'], w.env, { cwd: w.dir });
    expect(logs.stdout).toContain('stopped by budget max_items: 4 items left for the next run');
    const status = await runCli(['status'], w.env, { cwd: w.dir });
    expect(status.stdout).toMatch(/ETA (\d+ (s|min|h|d)( \d+ (s|min|h))?|-) for 4 items not created yet/);
    // A run done before its --max-run-time ends then, not at the bound.
    const second = await apply(w, planFile, ['--max-run-time', '2h']);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/^Applied: 4 submitted/);
    expectExactlyOnce(w, keys);
  });

  it('--max-video-hours needs durations (exit 2, one line), then stops at its bound with them; the resume completes', async () => {
    w = await makeWorld('maxhours');
    const keys = await seedVideos(w, 6);
    const bare = await plan(w);
    const refused = await apply(w, bare, ['--max-video-hours', '0.01']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^tlmigrate: --max-video-hours needs each video's duration, but plan .* has none for 6 uploads \(e\.g\. u\/clip 000\.mp4\): re-plan with tlmigrate plan --probe\n$/);
    expect(w.sim.counts().tasksCreated).toBe(0);
    const probed = await plan(w, ['--probe']);
    // 5 s videos: 16 s of budget holds three.
    const first = await apply(w, probed, ['--max-video-hours', String(16 / 3600)]);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^Budget reached \(--max-video-hours\): stopped cleanly, 3 items started \(0\.00 video h\)/);
    expect(w.sim.counts().tasksCreated).toBe(3);
    const second = await apply(w, probed);
    expect(second.code).toBe(0);
    expectExactlyOnce(w, keys);
  });

  it.each([
    ['--max-run-time', () => '3s'],
    ['--stop-at', () => new Date(Date.now() + 3_000).toISOString()],
  ])('%s stops new work at its bound (here during a quota wait) with exit 0; the resume completes', async (flag, value) => {
    w = await makeWorld(flag === '--stop-at' ? 'stopat' : 'runtime');
    const keys = await seedVideos(w, 5);
    const planFile = await plan(w);
    // No reset announced: the run would wait 15 minutes before looking again; the bound cuts the wait.
    w.sim.faults.set({ dailyQuota: { limit: 2, windowMs: 600_000, headers: false } });
    const first = await apply(w, planFile, ['--wait-for-quota', flag, value()]);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^Budget reached \(--stop-at \/ --max-run-time\): stopped cleanly, .*left for the next run: [3-5] items\. Resume with: /);
    expect(w.sim.counts().tasksCreated).toBeLessThanOrEqual(2);
    w.sim.faults.reset();
    const second = await apply(w, planFile);
    expect(second.code).toBe(0);
    expectExactlyOnce(w, keys);
  });
});
