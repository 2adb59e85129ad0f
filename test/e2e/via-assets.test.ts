import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { collect, runCli, startCli } from '../helpers/cli.js';
import { putObjects } from '../helpers/s3.js';
import { uniqueValidVideo } from '../helpers/videos.js';
import { makeWorld, type World } from '../helpers/world.js';

const ASSET_ROUTES = ['POST /assets', 'POST /indexes/{index_id}/indexed-assets'] as const;

async function seed(w: World, n: number, prefix: string): Promise<string[]> {
  const objects = [];
  // Distinct across prefixes too: equal bytes under two keys are one content (a duplicate).
  const base = 3000 + 100 * (prefix.charCodeAt(0) - 96);
  for (let i = 0; i < n; i++) objects.push({ key: `${prefix}/asset ${String(i).padStart(3, '0')}.mp4`, body: await uniqueValidVideo(base + i) });
  await putObjects(w.s3, w.bucket, objects, 32);
  return objects.map((o) => o.key);
}

/** One asset per object, each indexed exactly once in the index, no POST /tasks at all. */
function expectOneAssetAndOneIndexedAsset(w: World, keys: string[]): void {
  const counts = w.sim.counts();
  expect(Object.fromEntries(counts.assetsBySourcePath)).toEqual(Object.fromEntries(keys.map((k) => [`/${w.bucket}/${k}`, 1])));
  const indexed = w.sim.indexedAssets(w.indexId);
  expect(indexed).toHaveLength(keys.length);
  expect(new Set(indexed.map((i) => i.assetId)).size).toBe(keys.length);
  expect(counts.tasksCreated).toBe(0);
  expect(w.sim.duplicates().size).toBe(0);
}

async function plan(w: World, prefix: string, state: string): Promise<string> {
  const out = join(w.dir, `plan-${prefix}.json`);
  const result = await runCli(['plan', '--via', 'assets', '--source', `s3://${w.bucket}/${prefix}/`, '--index', w.indexId, '--out', out, '--state', state], w.env);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return out;
}

describe('apply --via assets against Ceph and the simulator', () => {
  let w: World | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it('migrates with exactly one asset and one indexed asset per object; status keeps the import shape', async () => {
    w = await makeWorld('assets');
    const keys = await seed(w, 40, 'a');
    const state = join(w.dir, 'state.json');
    const planFile = await plan(w, 'a', state);
    const result = await runCli(['apply', planFile, '--state', state, '--concurrency', '6', '--wait', '--poll-interval', '0.2', '--json'], w.env);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ submitted: 40, failed: 0, pending: 0 });
    expectOneAssetAndOneIndexedAsset(w, keys);
    const status = JSON.parse((await runCli(['status', '--json', '--state', state], w.env)).stdout);
    expect(status.ready).toHaveLength(40);
    const ids = new Set(w.sim.indexedAssets(w.indexId).map((i) => i.id));
    for (const entry of status.ready) expect(ids.has(entry.video_id)).toBe(true);
    // A re-plan via assets sees everything as indexed.
    const replan = await runCli(['plan', '--via', 'assets', '--source', `s3://${w.bucket}/a/`, '--index', w.indexId, '--out', join(w.dir, 'again.json'), '--state', join(w.dir, 'none.json'), '--json'], w.env);
    expect(JSON.parse(replan.stdout).counts).toEqual({ upload: 0, skip: 40, fail: 0 });
    // The first plan applied again with a fresh state: the index holds every object, nothing is created.
    const fresh = await runCli(['apply', planFile, '--state', join(w.dir, 'fresh.json'), '--json'], w.env);
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(JSON.parse(fresh.stdout)).toMatchObject({ submitted: 0, foundInIndex: 40 });
    expectOneAssetAndOneIndexedAsset(w, keys);
    // A plan made for one path is refused on the other.
    const mismatch = await runCli(['apply', planFile, '--state', state, '--via', 'tasks'], w.env);
    expect(mismatch.code).toBe(2);
    expect(mismatch.stderr).toMatch(/was made for --via assets, not --via tasks: re-plan/);
  });

  it('keeps one asset and one indexed asset per object with every fault switch on', async () => {
    w = await makeWorld('assets-chaos', { lifecycle: { assetProcessingMs: 100, pendingMs: 50, queuedMs: 50, indexingMs: 50 } });
    const world = w;
    const faultKeys = await seed(w, 30, 'f');
    const state = join(w.dir, 'state-f.json');
    const planFile = await plan(w, 'f', state);
    const phases = [
      { seed: 11, latency: { ms: { min: 0, max: 20 } }, error5xx: { rate: 0.1 }, postAcceptThenFail: { rate: 0.2, mode: 'drop' as const, routes: ASSET_ROUTES }, taskVisibilityLagMs: 300 },
      { seed: 12, rateLimit: { limit: 6, windowMs: 1000, retryAfter: false, headers: false }, postAcceptThenFail: { rate: 0.2, mode: '500' as const, routes: ASSET_ROUTES } },
      { seed: 13, postAcceptThenFail: { rate: 0.2, mode: 'reset' as const, routes: ASSET_ROUTES }, slowResponse: { ms: 1500, routes: ASSET_ROUTES } },
    ];
    for (const faults of phases) {
      world.sim.faults.set(faults);
      // A POST refused (5xx) is resent only after two empty searches and the 30 s minimum age, for each
      // of two steps: chains of those make the first phase take 35-95 s here, more on a loaded machine.
      await runCli(['apply', planFile, '--state', state, '--concurrency', '4', '--reconcile-lag', '0.5', '--request-timeout', '1'], world.env, { timeoutMs: 300_000 });
      world.sim.faults.reset();
    }
    const finish = await runCli(['apply', planFile, '--state', state, '--reconcile-lag', '0.5', '--json'], world.env);
    expect(finish.code, finish.stderr).toBe(0);
    const counts = w.sim.counts();
    expect(counts.connectionsLost + counts.serverErrors).toBeGreaterThan(0);
    expectOneAssetAndOneIndexedAsset(w, faultKeys);
  }, 600_000);

  it('keeps one asset and one indexed asset per object under kill -9 and resume', async () => {
    w = await makeWorld('assets-kill', { lifecycle: { assetProcessingMs: 100, pendingMs: 50, queuedMs: 50, indexingMs: 50 } });
    const world = w;
    const killKeys = await seed(w, 40, 'k');
    const killState = join(w.dir, 'state-k.json');
    const killPlan = await plan(w, 'k', killState);
    // Slow enough creates that no run can finish inside the kill window: every kill interrupts work.
    w.sim.faults.set({ latency: { ms: { min: 200, max: 300 }, routes: ASSET_ROUTES } });
    const unfinished = () =>
      existsSync(killState) ? Object.values((JSON.parse(readFileSync(killState, 'utf8')) as { items: Record<string, { indexedAssetId?: string }> }).items).filter((i) => !i.indexedAssetId).length : killKeys.length;
    let interrupted = 0;
    for (let i = 0; i < 8; i++) {
      const child = startCli(['apply', killPlan, '--state', killState, '--concurrency', '4', '--reconcile-lag', '0.3'], world.env);
      const done = collect(child, 60_000);
      const holder = () => {
        try {
          return (JSON.parse(readFileSync(`${killState}.lock`, 'utf8')) as { pid: number }).pid;
        } catch {
          return undefined;
        }
      };
      for (let waited = 0; holder() !== child.pid && child.exitCode === null && waited < 20_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 100 + Math.floor(Math.random() * 600)));
      const killed = child.exitCode === null && child.kill('SIGKILL');
      await done;
      if (existsSync(killState)) expect((JSON.parse(readFileSync(killState, 'utf8')) as { version: number }).version).toBe(1);
      if (killed && unfinished() > 0) interrupted += 1;
    }
    expect(interrupted).toBe(8);
    w.sim.faults.reset();
    const resumed = await runCli(['apply', killPlan, '--state', killState, '--reconcile-lag', '0.3', '--json'], w.env);
    expect(resumed.code, `${resumed.stdout}${resumed.stderr}`).toBe(0);
    expectOneAssetAndOneIndexedAsset(w, killKeys);
    const items = Object.values((JSON.parse(readFileSync(killState, 'utf8')) as { items: Record<string, { assetId?: string; indexedAssetId?: string }> }).items);
    expect(items.filter((i) => !i.assetId || !i.indexedAssetId)).toEqual([]);
  }, 300_000);
});
