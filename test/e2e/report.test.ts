import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadState, type StateFile } from '../../src/state/index.js';
import { ensureChromium, renderPage } from '../helpers/chromium.js';
import { runCli } from '../helpers/cli.js';
import { parseCsv } from '../helpers/csv.js';
import { putObjects } from '../helpers/s3.js';
import { uniqueValidVideo, videoFixture } from '../helpers/videos.js';
import { makeWorld, type World } from '../helpers/world.js';

interface PlanFileItem {
  key: string;
  action: string;
  reason?: string;
}

/** Screenshots stay here for a person to look at (.tmp is git-ignored). */
const SHOTS = join(process.cwd(), '.tmp', 'report-e2e');

const AWKWARD = 'v/comma, "quoted" café ☕ 日本.mp4';
const NEWLINE = 'v/two\nlines.mp4';

function countBy<T>(items: T[], key: (item: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) out[key(item)] = (out[key(item)] ?? 0) + 1;
  return out;
}

describe('report, verify and dedupe against Ceph and the simulator', () => {
  let w: World;
  let planFile: string;
  let statePath: string;
  const sizes = new Map<string, number>();

  beforeAll(async () => {
    w = await makeWorld('report');
    planFile = join(w.dir, 'plan.json');
    statePath = join(w.dir, 'tlmigrate-state.json');
    const clip1 = await uniqueValidVideo(3001);
    const objects = [
      { key: 'v/clip 001.mp4', body: clip1 },
      { key: 'v/clip 002.mp4', body: await uniqueValidVideo(3002) },
      { key: AWKWARD, body: await uniqueValidVideo(3003) },
      { key: NEWLINE, body: await uniqueValidVideo(3004) },
      { key: 'bad/broken.mp4', body: await videoFixture('random_bytes') },
      { key: 'bad/empty.mp4', body: '' },
      { key: 'v/zz copy of clip 001.mp4', body: clip1 },
      { key: 'legacy/old one.mp4', body: await uniqueValidVideo(3005) },
      { key: 'side/meta.json', body: '{}' },
    ];
    for (const p of await putObjects(w.s3, w.bucket, objects)) sizes.set(p.key, p.size);
    w.sim.seedVideo(w.indexId, { filename: 'old one.mp4', size: sizes.get('legacy/old one.mp4') ?? 0, createdAt: '2025-01-01T00:00:00Z' });
  });
  afterAll(() => w?.close());

  it('the plan report matches the plan file exactly: totals, per-reason counts, every key in the CSV once', async () => {
    const planned = await runCli(['plan', '--source', `s3://${w.bucket}`, '--index', w.indexId, '--out', planFile], w.env, { cwd: w.dir });
    expect(planned.code, planned.stderr).toBe(0);
    const plan = JSON.parse(readFileSync(planFile, 'utf8')) as { items: PlanFileItem[] };
    expect(plan.items.map((i) => i.key).sort()).toContain(NEWLINE);

    const json = await runCli(['report', planFile, '--format', 'json', '--max-rpm', '60'], w.env, { cwd: w.dir });
    expect(json.code, json.stderr).toBe(0);
    const r = JSON.parse(json.stdout);
    const counts = countBy(plan.items, (i) => i.action);
    expect(r.kind).toBe('plan');
    expect(r.totals).toMatchObject({ objects: plan.items.length, upload: counts.upload, skip: counts.skip, fail: counts.fail });
    expect(r.totals).toMatchObject({ upload: 5, skip: 3, fail: 1 });
    const failKeys = Object.fromEntries((r.failures as Array<{ name: string; items: Array<{ key: string }> }>).map((g) => [g.name, g.items.map((i) => i.key)]));
    expect(failKeys).toEqual({ video_file_broken: ['bad/empty.mp4'] });
    expect(r.indexed).toEqual({ count: 1, by: { filename_size: 1 } });
    expect(r.duplicates.items).toEqual([{ key: 'v/zz copy of clip 001.mp4', duplicateOf: 'v/clip 001.mp4' }]);
    expect(r.excluded.count).toBe(1);
    expect(r.estimate).toEqual({ maxRpm: 60, requests: 5, seconds: 5 });

    const csvFile = join(w.dir, 'plan.csv');
    const csv = await runCli(['report', planFile, '--out', csvFile], w.env, { cwd: w.dir });
    expect(csv.code, csv.stderr).toBe(0);
    expect(csv.stdout).toBe(`Wrote the plan report (csv) to ${csvFile}\n`);
    const [header, ...rows] = parseCsv(readFileSync(csvFile, 'utf8'));
    expect(header).toEqual(['bucket', 'key', 'size', 'action', 'reason', 'task_id', 'video_id', 'status', 'error_code', 'error_message']);
    expect(rows.map((row) => row[1]).sort()).toEqual(plan.items.map((i) => i.key).sort());
    expect(rows.map((row) => row[1])).toEqual(expect.arrayContaining([NEWLINE, AWKWARD]));
    for (const row of rows) {
      const item = plan.items.find((i) => i.key === row[1]);
      expect([row[0], row[3], row[4]]).toEqual([w.bucket, item?.action, item?.reason ?? '']);
    }

    const text = await runCli(['report', planFile], w.env, { cwd: w.dir });
    expect(text.stdout).toMatch(/to upload\s+5/);
  });

  it('the run report matches the state exactly after a run with failures', async () => {
    const applied = await runCli(['apply', planFile, '--wait', '--poll-interval', '0.2'], w.env, { cwd: w.dir });
    expect(applied.code, applied.stderr).toBe(1);
    const state = (await loadState(statePath)) as StateFile;
    const items = Object.values(state.items);

    const json = await runCli(['report', statePath, '--format', 'json'], w.env, { cwd: w.dir });
    expect(json.code, json.stderr).toBe(0);
    const r = JSON.parse(json.stdout);
    expect(r.kind).toBe('run');
    expect(r.totals.objects).toBe(items.length);
    expect(r.totals.byStatus).toEqual(countBy(items, (i) => i.status));
    expect(r.totals.byStatus).toMatchObject({ ready: 5, failed: 2 });
    const failures = Object.fromEntries((r.failures as Array<{ name: string; items: Array<{ key: string }> }>).map((g) => [g.name, g.items.map((i) => i.key).sort()]));
    const expected: Record<string, string[]> = {};
    for (const i of items.filter((x) => x.status === 'failed')) (expected[i.lastError?.code ?? 'failed'] ??= []).push(i.key);
    expect(failures).toEqual(Object.fromEntries(Object.entries(expected).map(([k, v]) => [k, v.sort()])));
    expect(failures).toEqual({ indexing_failed: ['bad/broken.mp4'], video_file_broken: ['bad/empty.mp4'] });
    expect(r.counters.submitted).toBe(state.runs.reduce((n, run) => n + run.counters.submitted, 0));
    expect(r.throughput.points.at(-1).cumulative).toBe(items.filter((i) => i.submittedAt).length);
    expect(r.next.map((s: { step: string }) => s.step)).toEqual(['retry_failed', 'replan', 'verify']);

    const csvFile = join(w.dir, 'run.csv');
    expect((await runCli(['report', statePath, '--format', 'csv', '--out', csvFile], w.env)).code).toBe(0);
    const rows = parseCsv(readFileSync(csvFile, 'utf8')).slice(1);
    expect(rows.map((row) => row[1]).sort()).toEqual(items.map((i) => i.key).sort());
    for (const row of rows) {
      const item = items.find((i) => i.key === row[1]);
      expect({ status: row[7], task: row[5], video: row[6], code: row[8] }).toEqual({ status: item?.status, task: item?.taskId ?? '', video: item?.videoId ?? '', code: item?.lastError?.code ?? '' });
    }
    expect(rows.find((row) => row[1] === AWKWARD)?.[7]).toBe('ready');

    const md = await runCli(['report', statePath, '--format', 'md'], w.env);
    expect(md.stdout).toContain('| ready | 5 |');
    const written = [json.stdout, readFileSync(csvFile, 'utf8'), md.stdout].join('\n');
    for (const secret of [w.sim.apiKey, w.s3info.secretAccessKey, 'X-Amz-Signature']) expect(written).not.toContain(secret);
  });

  it('the HTML reports render in headless Chromium with the right totals, and a screenshot is made', async (ctx) => {
    const unavailable = await ensureChromium();
    if (unavailable) {
      console.warn(`[report.test] skipping the Chromium rendering test: ${unavailable}`);
      ctx.skip(unavailable);
    }
    mkdirSync(SHOTS, { recursive: true });
    const state = (await loadState(statePath)) as StateFile;
    const byStatus = countBy(Object.values(state.items), (i) => i.status);
    for (const [name, input, totals] of [
      ['run', statePath, { objects: Object.keys(state.items).length, ...byStatus }],
      ['plan', planFile, { objects: 9, upload: 5, fail: 1, indexed: 1, duplicate: 1, excluded: 1 }],
    ] as const) {
      const page = join(w.dir, `${name}.html`);
      const made = await runCli(['report', input, '--out', page, '--max-rpm', '30'], w.env);
      expect(made.code, made.stderr).toBe(0);
      const screenshot = join(w.dir, `${name}.png`);
      const { dom } = await renderPage(page, screenshot);
      const shown = Object.fromEntries([...dom.matchAll(/<b data-total="([^"]+)">([\d,.]+)<\/b>/g)].map((m) => [m[1], Number(m[2]?.replace(/,/g, ''))]));
      expect(shown).toMatchObject(totals);
      expect(dom).toContain('<svg class="chart"');
      if (name === 'run') expect(dom).toContain('<polyline');
      expect(existsSync(screenshot)).toBe(true);
      expect(statSync(screenshot).size).toBeGreaterThan(10_000);
      expect(readFileSync(screenshot).subarray(1, 4).toString()).toBe('PNG');
      copyFileSync(screenshot, join(SHOTS, `${name}.png`));
      copyFileSync(page, join(SHOTS, `${name}.html`));
    }
  }, 900_000);

  it('verify: exit 0 on a clean prefix; finds failed objects, with or without the state file', async () => {
    const clean = await runCli(['verify', '--source', `s3://${w.bucket}/v/`, '--index', w.indexId], w.env, { cwd: w.dir });
    expect(clean.code, clean.stdout + clean.stderr).toBe(0);
    expect(clean.stdout).toMatch(/5 objects expected \(0 excluded\), 4 indexed once, 1 covered by a duplicate key, 0 missing, 0 in progress, 0 failed, 0 duplicated; 1 videos match no object/);
    expect(clean.stdout).toContain('Verified: every object is in the index exactly once.');

    const whole = await runCli(['verify', '--source', `s3://${w.bucket}`, '--index', w.indexId, '--json'], w.env, { cwd: w.dir });
    expect(whole.code).toBe(1);
    const r = JSON.parse(whole.stdout);
    expect(r).toMatchObject({ ok: false, state: 'tlmigrate-state.json', counts: { objects: 8, excluded: 1, indexed: 5, coveredByDuplicate: 1, missing: 0, inProgress: 0, failed: 2, duplicated: 0, unmatchedVideos: 0 } });
    expect(r.failed.map((f: { key: string; code: string }) => [f.key, f.code]).sort()).toEqual([
      ['bad/broken.mp4', 'indexing_failed'],
      ['bad/empty.mp4', 'video_file_broken'],
    ]);
    expect(r.coveredByDuplicate).toEqual([{ key: 'v/zz copy of clip 001.mp4', duplicateOf: 'v/clip 001.mp4' }]);
    // GET video only for videos tlmigrate made whose file name is an object's: the 4 uploads, not the legacy one.
    expect(r.cost).toEqual({ videos: 5, tasks: 1, metadataFetches: 4 });

    // Without the state file (another folder): the failed task is found by its file name.
    const stateless = await runCli(['verify', '--source', `s3://${w.bucket}/bad/`, '--index', w.indexId, '--json'], w.env, { cwd: join(w.dir, '..') });
    expect(JSON.parse(stateless.stdout)).toMatchObject({ state: null, counts: { failed: 2 } });
  });

  it('verify finds a deleted video and a duplicated one; dedupe shows, then deletes, the extra copies', async () => {
    const videos = w.sim.videos(w.indexId);
    const byName = (name: string) => videos.filter((v) => v.meta.filename === name);
    const deleted = byName('clip 001.mp4')[0];
    const original = byName('clip 002.mp4')[0];
    expect(deleted && original).toBeTruthy();
    const del = await fetch(`${w.sim.url}/indexes/${w.indexId}/videos/${deleted?.id}`, { method: 'DELETE', headers: { 'x-api-key': w.sim.apiKey } });
    expect(del.status).toBe(204);
    const copy = w.sim.seedVideo(w.indexId, { filename: 'clip 002.mp4', size: original?.meta.size ?? 0, userMetadata: { ...original?.userMetadata } });
    const legacyCopy = w.sim.seedVideo(w.indexId, { filename: 'old one.mp4', size: sizes.get('legacy/old one.mp4') ?? 0, createdAt: '2025-02-01T00:00:00Z' });

    const v = await runCli(['verify', '--source', `s3://${w.bucket}`, '--index', w.indexId, '--json'], w.env, { cwd: w.dir });
    expect(v.code).toBe(1);
    const r = JSON.parse(v.stdout);
    // The key with the same content was uploaded once, through clip 001: it is gone with it.
    expect(r.missing.map((m: { key: string }) => m.key)).toEqual(['v/clip 001.mp4', 'v/zz copy of clip 001.mp4']);
    expect(r.duplicated.map((d: { key: string; videos: Array<{ videoId: string }> }) => [d.key, d.videos.map((x) => x.videoId)]).sort()).toEqual([
      ['legacy/old one.mp4', [byName('old one.mp4')[0]?.id, legacyCopy.videoId]],
      ['v/clip 002.mp4', [original?.id, copy.videoId]],
    ]);
    const text = await runCli(['verify', '--source', `s3://${w.bucket}`, '--index', w.indexId], w.env, { cwd: w.dir });
    expect(text.stdout).toMatch(/Duplicated in the index \(2\):/);
    expect(text.stdout).toContain(`tlmigrate dedupe --index ${w.indexId}`);

    const dry = await runCli(['dedupe', '--index', w.indexId, '--json'], w.env, { cwd: w.dir });
    expect(dry.code, dry.stderr).toBe(0);
    const plan = JSON.parse(dry.stdout);
    // The legacy copies share only a name and a size: reported, never deleted.
    expect(plan).toMatchObject({ dryRun: true, counts: { groups: 2, copies: 1, reportedOnly: 1, videosDeleted: 0 } });
    expect(plan.groups.map((g: { by: string; remove: Array<{ videoId: string }> }) => [g.by, g.remove.map((c) => c.videoId)]).sort()).toEqual([
      ['filename_size', [legacyCopy.videoId]],
      ['fingerprint', [copy.videoId]],
    ]);
    expect(w.sim.videos(w.indexId)).toHaveLength(videos.length + 1);

    const yes = await runCli(['dedupe', '--index', w.indexId, '--yes'], w.env, { cwd: w.dir });
    expect(yes.code, yes.stdout + yes.stderr).toBe(0);
    expect(yes.stdout).toContain('1 group shares only a file name and size: reported, never deleted');
    expect(yes.stdout).toContain('Deleted 1 videos and 1 tasks. Recorded in the history of tlmigrate-state.json.');
    expect(byNameNow(w, 'clip 002.mp4')).toEqual([original?.id]);
    expect(byNameNow(w, 'old one.mp4').sort()).toEqual([byName('old one.mp4')[0]?.id, legacyCopy.videoId].sort());
    expect(w.sim.task(copy.taskId)).toBeUndefined();
    expect(w.sim.task(legacyCopy.taskId)).toBeDefined();
    const history = (await loadState(statePath))?.history ?? [];
    expect(history.map((h) => [h.action, h.videoId, h.taskId])).toEqual([
      ['delete_video', copy.videoId, copy.taskId],
      ['delete_task', copy.videoId, copy.taskId],
    ]);

    const after = JSON.parse((await runCli(['verify', '--source', `s3://${w.bucket}`, '--index', w.indexId, '--json'], w.env, { cwd: w.dir })).stdout);
    expect(after.counts).toMatchObject({ duplicated: 1, missing: 2 });
    const again = await runCli(['dedupe', '--index', w.indexId], w.env, { cwd: w.dir });
    expect(again.stdout).toMatch(/0 groups of copies of the same object, 0 copies to delete \(dry run: nothing deleted\); 1 group shares only a file name and size/);
  });

  it('refuses bad input with one line and exit 2', async () => {
    writeFileSync(join(w.dir, 'elsewhere.json'), '{"hello": "world"}\n');
    const cases: Array<[string[], RegExp]> = [
      [['verify', '--source', 'https://x/y', '--index', w.indexId], /is not an S3 URI/],
      [['verify', '--source', `s3://${w.bucket}`, '--index', 'aaaaaaaaaaaaaaaaaaaaaaaa'], /index aaaaaaaaaaaaaaaaaaaaaaaa does not exist/],
      [['verify', '--source', 's3://no-such-bucket-tlm', '--index', w.indexId], /bucket 'no-such-bucket-tlm' does not exist/],
      [['verify', '--source', `s3://${w.bucket}`, '--index', w.indexId, '--state', join(w.dir, 'nope.json')], /nope.json not found/],
      [['dedupe', '--index', w.indexId, '--state', join(w.dir, 'nope.json')], /nope.json not found/],
      [['report', join(w.dir, 'nope.json')], /nope.json not found: pass a plan file/],
      [['report', join(w.dir, 'elsewhere.json')], /is neither a tlmigrate plan nor a state file/],
      [['report', planFile, '--max-rpm', '0'], /--max-rpm "0" is out of range: use a number above 0/],
      [['report', planFile, '--out', planFile], /is the file being reported on: choose another name/],
      [['report', planFile, '--out', join(w.dir, 'no', 'such', 'dir.html')], /cannot write report .* \(ENOENT\)/],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(args, w.env, { cwd: w.dir });
      expect({ args, code: result.code }).toEqual({ args, code: 2 });
      expect(result.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(result.stderr).toMatch(message);
    }
  });
});

function byNameNow(w: World, filename: string): string[] {
  return w.sim
    .videos(w.indexId)
    .filter((v) => v.meta.filename === filename)
    .map((v) => v.id);
}
