import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { collect, runCli, startCli, type CliResult } from '../helpers/cli.js';
import { putObjects } from '../helpers/s3.js';
import { uniqueValidVideo } from '../helpers/videos.js';
import { makeWorld, type World } from '../helpers/world.js';
import { readings, type ApiReading, type ApiVariants, type FaultConfig } from '../sim/index.js';

/**
 * Reconciliation after a lost answer (src/executor/reconcile.ts) searches GET /tasks by the decoded
 * file name only; under the `url-filename=encoded` reading it finds nothing and the object is posted
 * again. Turn this on once it searches every form `filenameForms` gives.
 */
export const RECONCILE_SEARCHES_BOTH_FORMS = true;

const ASSET_ROUTES = ['POST /assets', 'POST /indexes/{index_id}/indexed-assets'] as const;
const GET_VIDEO = 'GET /indexes/{index_id}/videos/{video_id}';

export interface Row {
  name: string;
  readings: ApiReading[];
  via: 'tasks' | 'assets';
  /** A daily quota stops the first apply after this many creates; then it is lifted. */
  quotaAfter?: number;
  /** Posts whose answer is lost, and a kill -9: both end in a reconciliation search. */
  lostAnswers: boolean;
  /** Whether a plan with a fresh state must read the legacy video (the filter does not prove itself). */
  readsLegacy: boolean;
}

/**
 * The migration under each non-default reading of shared/twelvelabs-api.md's disputed points: the
 * same bucket (ordinary keys with spaces, `+` and non-ASCII; two different objects with one file
 * name and size; a video "imported before"), faults and a kill, or a quota stop; then a re-plan,
 * verify and dedupe that must all agree that every object is in the index exactly once.
 */
export const MATRIX: Row[] = [
  { name: 'metadata filter: json only', readings: ['metadata-filter=json'], via: 'tasks', lostAnswers: true, readsLegacy: true },
  { name: 'metadata filter: bare keys only (brackets read literally)', readings: ['metadata-filter=bare'], via: 'tasks', lostAnswers: true, readsLegacy: true },
  { name: 'metadata filter: ignored', readings: ['metadata-filter=ignored'], via: 'tasks', lostAnswers: true, readsLegacy: true },
  { name: 'metadata filter: brackets only (what tlmigrate sends)', readings: ['metadata-filter=brackets'], via: 'tasks', lostAnswers: true, readsLegacy: false },
  { name: 'indexed-asset updated_at: PUT only', readings: ['indexed-asset-updated-at=put-only'], via: 'assets', lostAnswers: true, readsLegacy: false },
  { name: 'URL file name: percent-encoded', readings: ['url-filename=encoded'], via: 'tasks', lostAnswers: RECONCILE_SEARCHES_BOTH_FORMS, readsLegacy: false },
  { name: 'quota refusal: 400', readings: ['quota-status=400'], via: 'tasks', quotaAfter: 4, lostAnswers: false, readsLegacy: false },
  { name: 'quota refusal: 402', readings: ['quota-status=402'], via: 'tasks', quotaAfter: 4, lostAnswers: false, readsLegacy: false },
  { name: 'quota refusal: 403', readings: ['quota-status=403'], via: 'tasks', quotaAfter: 4, lostAnswers: false, readsLegacy: false },
  { name: 'timestamps: strict', readings: ['timestamps=strict'], via: 'tasks', lostAnswers: true, readsLegacy: false },
  {
    name: 'every disputed point against us at once (assets path)',
    readings: ['metadata-filter=bare', 'indexed-asset-updated-at=put-only', 'url-filename=encoded', 'timestamps=strict', 'quota-status=403'],
    via: 'assets',
    quotaAfter: 6,
    lostAnswers: true,
    readsLegacy: true,
  },
];

interface Bucket {
  /** Keys the plan uploads. */
  uploads: string[];
  legacyKey: string;
  legacyVideoId: string;
}

/** A dozen objects: names that encode differently, two different `same.mp4` of one size, one imported before. */
async function seedBucket(w: World, variants: Partial<ApiVariants>): Promise<Bucket> {
  const names = ['clip 0.mp4', 'été 1.mp4', 'a+b 2.mp4', "it's (3).mp4", '日本 4.mp4', 'plain5.mp4', 'clip 6.mp4', 'x%20y 7.mp4', 'z 8.mp4'];
  const objects = await Promise.all(names.map(async (name, i) => ({ key: `m/d${i % 2}/${name}`, body: await uniqueValidVideo(7100 + i) })));
  // Same number of digits in the seed: the same size, other bytes.
  objects.push({ key: 'm/a/same.mp4', body: await uniqueValidVideo(7201) }, { key: 'm/b/same.mp4', body: await uniqueValidVideo(7202) });
  const legacyKey = 'm/legacy/old one.mp4';
  const put = await putObjects(w.s3, w.bucket, [...objects, { key: legacyKey, body: await uniqueValidVideo(7300) }]);
  // The old import named its video the way this server names videos fetched from a URL.
  const filename = variants.urlFilename === 'encoded' ? 'old%20one.mp4' : 'old one.mp4';
  const legacy = w.sim.seedVideo(w.indexId, { filename, size: put.find((p) => p.key === legacyKey)?.size ?? 0, createdAt: '2025-01-01T00:00:00Z' });
  return { uploads: objects.map((o) => o.key), legacyKey, legacyVideoId: legacy.videoId };
}

/** Exactly one task (or one asset and one indexed asset) per uploaded key, and nothing for any other key. */
function expectExactlyOnce(w: World, via: Row['via'], keys: string[]): void {
  const wanted = Object.fromEntries(keys.map((k) => [`/${w.bucket}/${k}`, 1]));
  const counts = w.sim.counts();
  if (via === 'tasks') {
    expect(Object.fromEntries(counts.tasksBySourcePath)).toEqual(wanted);
    return;
  }
  expect(Object.fromEntries(counts.assetsBySourcePath)).toEqual(wanted);
  expect(w.sim.indexedAssets(w.indexId).filter((i) => i.status === 'ready')).toHaveLength(keys.length);
  expect(w.sim.duplicates().size).toBe(0);
  expect(counts.tasksCreated).toBe(0);
}

function cli(w: World, args: string[]): Promise<CliResult> {
  return runCli(args, w.env, { cwd: w.dir });
}

function lastJson(result: CliResult): Record<string, unknown> {
  return JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
}

function stateItems(w: World): Record<string, { status: string; lastError?: { code: string } | null }> {
  return (JSON.parse(readFileSync(join(w.dir, 'tlmigrate-state.json'), 'utf8')) as { items: Record<string, { status: string; lastError?: { code: string } | null }> }).items;
}

/** Starts an apply and kills it (SIGKILL) at a random instant after it took its lock. */
async function killOneApply(w: World, planFile: string): Promise<void> {
  const child = startCli(['apply', planFile, '--concurrency', '3', '--reconcile-lag', '0.3'], w.env, { cwd: w.dir });
  const done = collect(child, 60_000);
  const lock = join(w.dir, 'tlmigrate-state.json.lock');
  const holder = () => {
    try {
      return (JSON.parse(readFileSync(lock, 'utf8')) as { pid: number }).pid;
    } catch {
      return undefined;
    }
  };
  for (let waited = 0; holder() !== child.pid && child.exitCode === null && waited < 20_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 400)));
  if (child.exitCode === null) child.kill('SIGKILL');
  await done;
}

/** A quota stop leaves the rest planned, never failed; lifted, a plain apply creates exactly the rest. */
async function quotaPhase(w: World, row: Row, planFile: string, bucket: Bucket): Promise<void> {
  const limit = row.quotaAfter ?? 0;
  w.sim.faults.set({ dailyQuota: { limit } });
  const stopped = await cli(w, ['apply', planFile, '--concurrency', '2']);
  expect(stopped.code, stopped.stderr).toBe(1);
  expect(stopped.stdout).toMatch(/^Quota or credit exhausted .*: stopped cleanly/);
  const created = row.via === 'tasks' ? w.sim.counts().tasksCreated : w.sim.counts().indexedAssetsCreated;
  expect(created).toBe(limit);
  const items = Object.values(stateItems(w));
  expect(items.filter((i) => i.status === 'failed')).toEqual([]);
  if (row.via === 'tasks') expect(items.filter((i) => i.status === 'planned')).toHaveLength(bucket.uploads.length - limit);
  w.sim.faults.reset();
  const rest = await cli(w, ['apply', planFile, '--wait', '--poll-interval', '0.2', '--json']);
  expect(rest.code, rest.stderr).toBe(0);
}

/** Lost answers and a kill -9 (when the row allows), 5xx and 429s, then a clean resume with --wait. */
async function faultPhase(w: World, row: Row, planFile: string): Promise<void> {
  const lose: FaultConfig = row.lostAnswers ? { postAcceptThenFail: { rate: 0.3, mode: '500', ...(row.via === 'assets' ? { routes: ASSET_ROUTES } : {}) } } : {};
  if (row.lostAnswers) {
    w.sim.faults.set({ latency: { ms: { min: 20, max: 60 } } });
    await killOneApply(w, planFile);
  }
  w.sim.faults.reset();
  w.sim.faults.set({ seed: 31, ...lose, error5xx: { rate: 0.1 }, rateLimit: { limit: 8, windowMs: 1000, retryAfter: true }, taskVisibilityLagMs: 150 });
  await cli(w, ['apply', planFile, '--concurrency', '3', '--reconcile-lag', '0.5', '--request-timeout', '5']);
  w.sim.faults.reset();
  const resumed = await cli(w, ['apply', planFile, '--reconcile-lag', '0.5', '--wait', '--poll-interval', '0.2', '--json']);
  expect(resumed.code, resumed.stderr).toBe(0);
  expect(lastJson(resumed).pending).toBe(0);
}

/**
 * The migration under the rows named (a subset of MATRIX, so the matrix spreads over files that
 * vitest runs side by side), and with `encodedLostAnswers` the percent-encoded file names under lost
 * and slow answers.
 */
export function describeReadings(title: string, rowNames: readonly string[], encodedLostAnswers = false): void {
  const rows = rowNames.map((name) => {
    const row = MATRIX.find((r) => r.name === name);
    if (row === undefined) throw new Error(`no matrix row named ${name}`);
    return row;
  });
  describe(title, () => {
    let w: World | undefined;
    afterEach(async () => {
      await w?.close();
      w = undefined;
    });

    it.each(rows.map((row) => [row.name, row] as const))('%s', async (_name, row) => {
      const variants = readings(...row.readings);
      w = await makeWorld(`readings-${row.readings.join('-')}`, { variants });
      const world = w;
      const bucket = await seedBucket(w, variants);
      const via = row.via === 'assets' ? ['--via', 'assets'] : [];
      const planFile = join(w.dir, 'plan.json');
      const planned = await cli(w, ['plan', '--source', `s3://${w.bucket}/m/`, '--index', w.indexId, '--out', planFile, '--json', ...via]);
      expect(planned.code, planned.stderr).toBe(0);
      expect(JSON.parse(planned.stdout)).toMatchObject({ counts: { upload: bucket.uploads.length, skip: 1, fail: 0 }, indexedBy: { filename_size: 1 } });

      if (row.quotaAfter !== undefined) await quotaPhase(w, row, planFile, bucket);
      if (row.quotaAfter === undefined || row.lostAnswers) await faultPhase(w, row, planFile);
      expectExactlyOnce(w, row.via, bucket.uploads);
      const items = stateItems(w);
      expect(bucket.uploads.filter((k) => items[`s3://${world.bucket}/${k}`]?.status !== 'ready')).toEqual([]);
      const videosBefore = w.sim.videos(w.indexId).map((v) => v.id).sort();

      // Re-plans that know nothing of the state: everything is indexed, by the fingerprints in the index.
      const fresh = ['--index', w.indexId, '--state', join(w.dir, 'none.json'), '--json', ...via];
      const strict = await cli(w, ['plan', '--source', `s3://${w.bucket}/m/`, '--out', join(w.dir, 'fp.json'), '--match', 'fingerprint', '--exclude', 'm/legacy/**', ...fresh]);
      expect(strict.code, strict.stderr).toBe(0);
      expect(JSON.parse(strict.stdout)).toMatchObject({ counts: { upload: 0, skip: bucket.uploads.length + 1, fail: 0 }, indexedBy: { fingerprint: bucket.uploads.length } });
      w.sim.clearRequests();
      const replan = await cli(w, ['plan', '--source', `s3://${w.bucket}/m/`, '--out', join(w.dir, 'again.json'), ...fresh]);
      expect(replan.code, replan.stderr).toBe(0);
      expect(JSON.parse(replan.stdout)).toMatchObject({ counts: { upload: 0, skip: bucket.uploads.length + 1, fail: 0 }, indexedBy: { fingerprint: bucket.uploads.length, filename_size: 1 } });
      const legacyReads = w.sim.requests.filter((r) => r.route === GET_VIDEO && r.path.endsWith(`/${bucket.legacyVideoId}`)).length;
      expect(legacyReads > 0, 'whether the plan had to read the legacy video (the marker filter did not prove itself)').toBe(row.readsLegacy);

      const verified = await cli(w, ['verify', '--source', `s3://${w.bucket}/m/`, '--index', w.indexId, '--json']);
      expect(verified.code, verified.stdout + verified.stderr).toBe(0);
      expect(JSON.parse(verified.stdout).counts).toMatchObject({ objects: bucket.uploads.length + 1, indexed: bucket.uploads.length + 1, missing: 0, duplicated: 0, unmatchedVideos: 0 });

      // Two different objects share `same.mp4` and a size: nothing to delete, whatever the filter does.
      const dedupe = await cli(w, ['dedupe', '--index', w.indexId, '--yes', '--json']);
      expect(dedupe.code, dedupe.stderr).toBe(0);
      expect(JSON.parse(dedupe.stdout).counts).toMatchObject({ groups: 0, copies: 0, videosDeleted: 0 });
      expect(w.sim.videos(w.indexId).map((v) => v.id).sort()).toEqual(videosBefore);
    });

    if (!encodedLostAnswers || !RECONCILE_SEARCHES_BOTH_FORMS) return;
    it('URL file name percent-encoded: answers lost (500) or too slow still give exactly one task per object; a re-plan wants 0', async () => {
      w = await makeWorld('readings-encoded-lost', { variants: readings('url-filename=encoded') });
      const keys = ['e/my clip 1.mp4', 'e/été 2.mp4', 'e/a+b 3.mp4', 'e/日本 語 4.mp4', "e/it's (5).mp4", 'e/plain6.mp4'];
      await putObjects(w.s3, w.bucket, await Promise.all(keys.map(async (key, i) => ({ key, body: await uniqueValidVideo(7400 + i) }))));
      const planFile = join(w.dir, 'plan.json');
      expect((await cli(w, ['plan', '--source', `s3://${w.bucket}/e/`, '--index', w.indexId, '--out', planFile])).code).toBe(0);
      w.sim.faults.set({ postAcceptThenFail: { nth: [1, 3], mode: '500' }, slowResponse: { ms: 1500, routes: ['POST /tasks'] } });
      await cli(w, ['apply', planFile, '--concurrency', '2', '--reconcile-lag', '0.5', '--request-timeout', '1']);
      w.sim.faults.reset();
      const resumed = await cli(w, ['apply', planFile, '--reconcile-lag', '0.5', '--wait', '--poll-interval', '0.2']);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(w.sim.tasks(w.indexId).map((t) => t.filename)).toContain('my%20clip%201.mp4');
      expectExactlyOnce(w, 'tasks', keys);
      const replan = await cli(w, ['plan', '--source', `s3://${w.bucket}/e/`, '--index', w.indexId, '--out', join(w.dir, 'again.json'), '--state', join(w.dir, 'none.json'), '--json']);
      expect(JSON.parse(replan.stdout).counts).toEqual({ upload: 0, skip: keys.length, fail: 0 });
    });
  });
}
