import { describe, expect, it } from 'vitest';
import type { PlanHeader, PlanItem, PlanSummary } from '../../src/planner/index.js';
import {
  CSV_HEADER,
  csvField,
  detectInputKind,
  formatFromFileName,
  planItemRow,
  renderCsv,
  renderSummary,
  stateItemRow,
  summarizePlan,
  summarizeRun,
  throughput,
  type ReportRow,
} from '../../src/report/index.js';
import type { ItemState, RunRecord, StateFile } from '../../src/state/index.js';
import { parseCsv } from '../helpers/csv.js';
import { BUCKET, asyncIterable, somePlanOptions } from './builders.js';

const AT = '2026-05-01T12:00:00.000Z';

function aPlanItem(overrides: Partial<PlanItem> & { key: string }): PlanItem {
  return { size: 1000, etag: `etag-${overrides.key}`, lastModified: AT, action: 'upload', ...overrides };
}

function aPlanHeader(overrides: Partial<PlanHeader> = {}): PlanHeader {
  return { version: 1, createdAt: AT, tool: 'tlmigrate test', source: { uri: `s3://${BUCKET}`, bucket: BUCKET, prefix: '' }, indexId: 'a'.repeat(24), indexName: 'idx', options: somePlanOptions(), ...overrides };
}

function summaryOf(items: PlanItem[]): PlanSummary {
  const counts = { upload: 0, skip: 0, fail: 0 };
  for (const i of items) counts[i.action] += 1;
  return { total: items.length, counts, bytes: { upload: items.filter((i) => i.action === 'upload').reduce((n, i) => n + i.size, 0), total: 0 }, reasons: {}, indexedBy: {}, collisions: 0, ignored: 2 };
}

function anItem(overrides: Partial<ItemState> & { key: string }): ItemState {
  return { size: 1000, etag: `etag-${overrides.key}`, status: 'ready', attempts: 1, updatedAt: AT, ...overrides };
}

function aRun(overrides: Partial<RunRecord> = {}): RunRecord {
  return { runId: 'run-1', command: 'apply', pid: 1, startedAt: AT, endedAt: '2026-05-01T12:10:00.000Z', outcome: 'failed_items', counters: { submitted: 3, failed: 1, reconciled: 1, retries: 2, throttled: 4 }, ...overrides };
}

function aState(items: ItemState[], runs: RunRecord[] = [aRun()]): StateFile {
  return {
    version: 1,
    tool: 'tlmigrate test',
    source: { uri: `s3://${BUCKET}/videos`, bucket: BUCKET, prefix: 'videos' },
    indexId: 'b'.repeat(24),
    indexName: 'idx',
    createdAt: AT,
    updatedAt: AT,
    items: Object.fromEntries(items.map((i) => [`s3://${BUCKET}/${i.key}`, i])),
    runs,
  };
}

const options = { maxKeys: 1000, generatedAt: AT };

async function text(chunks: AsyncIterable<string> | Iterable<string>): Promise<string> {
  let out = '';
  for await (const c of chunks) out += c;
  return out;
}

describe('CSV (RFC 4180)', () => {
  it.each([
    ['plain.mp4', 'plain.mp4'],
    ['a,b.mp4', '"a,b.mp4"'],
    ['say "hi".mp4', '"say ""hi"".mp4"'],
    ['line\nbreak.mp4', '"line\nbreak.mp4"'],
    ['cr\rreturn.mp4', '"cr\rreturn.mp4"'],
    ['café ☕ 日本.mp4', 'café ☕ 日本.mp4'],
    [' leading space', '" leading space"'],
    ['trailing space ', '"trailing space "'],
    ['', ''],
    ['"', '""""'],
    [12345, '12345'],
    // Cells a spreadsheet would run as a formula get a leading ' (and stay quoted where RFC 4180 needs it).
    ['=HYPERLINK("http://x","y").mp4', '"\'=HYPERLINK(""http://x"",""y"").mp4"'],
    ['+1.mp4', "'+1.mp4"],
    ['-cmd.mp4', "'-cmd.mp4"],
    ['@SUM(A1).mp4', "'@SUM(A1).mp4"],
    ['\t=1.mp4', "'\t=1.mp4"],
    ['\r=1.mp4', '"\'\r=1.mp4"'],
    ['a=b.mp4', 'a=b.mp4'],
    [-5, '-5'],
  ])('%j -> %s', (value, expected) => {
    expect(csvField(value)).toBe(expected);
  });

  it('round-trips every awkward key through a strict reader, one CRLF record per row', async () => {
    const keys = ['a,b.mp4', 'say "hi".mp4', 'multi\nline\r\nkey.mp4', 'café ☕ 日本.mp4', ' spaced .mp4', 'plain.mp4', 'emoji 🎬.mov'];
    const rows: ReportRow[] = keys.map((key, i) => ({ bucket: BUCKET, key, size: i, action: 'fail', reason: 'video_file_broken', taskId: '', videoId: '', status: 'failed', errorCode: 'video_file_broken', errorMessage: `bad, "really"\n${key}` }));
    const parsed = parseCsv(await text(renderCsv(asyncIterable(rows))));
    expect(parsed[0]).toEqual([...CSV_HEADER]);
    expect(parsed.slice(1).map((r) => r[1])).toEqual(keys);
    expect(parsed.slice(1).map((r) => r[9])).toEqual(rows.map((r) => r.errorMessage));
    expect(parsed.every((r) => r.length === CSV_HEADER.length)).toBe(true);
  });

  it('plan and state rows carry action, reason, ids, status and error', () => {
    expect(planItemRow(BUCKET, aPlanItem({ key: 'k', action: 'fail', reason: 'video_file_broken', detail: 'empty' }))).toMatchObject({ action: 'fail', reason: 'video_file_broken', errorCode: 'video_file_broken', errorMessage: 'empty', status: '' });
    expect(planItemRow(BUCKET, aPlanItem({ key: 'k', action: 'skip', reason: 'indexed', match: { by: 'fingerprint', videoId: 'v1' } }))).toMatchObject({ action: 'skip', videoId: 'v1', errorCode: '' });
    expect(stateItemRow(BUCKET, anItem({ key: 'k', status: 'failed', taskId: 't', lastError: { code: 'indexing_failed', message: 'no', at: AT } }))).toMatchObject({ action: 'upload', status: 'failed', taskId: 't', errorCode: 'indexing_failed' });
    expect(stateItemRow(BUCKET, anItem({ key: 'k', status: 'failed', reason: 'video_file_broken', attempts: 0 })).action).toBe('fail');
    expect(stateItemRow(BUCKET, anItem({ key: 'k', status: 'skipped', reason: 'duplicate' })).action).toBe('skip');
  });
});

describe('plan report', () => {
  const items: PlanItem[] = [
    aPlanItem({ key: 'a.mp4', size: 100, probe: { durationSeconds: 1800 } }),
    aPlanItem({ key: 'b.mp4', size: 200, probe: { durationSeconds: 5400 } }),
    aPlanItem({ key: 'c.mp4', size: 300, collision: ['d/c.mp4'] }),
    aPlanItem({ key: 'old.mp4', action: 'skip', reason: 'indexed', match: { by: 'filename_size', videoId: 'v' } }),
    aPlanItem({ key: 'fp.mp4', action: 'skip', reason: 'indexed', match: { by: 'fingerprint', videoId: 'w' } }),
    aPlanItem({ key: 'run.mp4', action: 'skip', reason: 'in_progress', match: { by: 'task', taskId: 't9' } }),
    aPlanItem({ key: 'copy.mp4', action: 'skip', reason: 'duplicate', match: { by: 'source_content', duplicateOf: 'a.mp4' } }),
    aPlanItem({ key: 'x.json', action: 'skip', reason: 'excluded', detail: 'extension json is not a video type' }),
    aPlanItem({ key: 'y.json', action: 'skip', reason: 'excluded', detail: 'extension json is not a video type' }),
    aPlanItem({ key: 'short.mp4', action: 'fail', reason: 'video_duration_too_short', detail: '2 s' }),
    aPlanItem({ key: 'e1.mp4', action: 'fail', reason: 'video_file_broken', detail: 'empty' }),
    aPlanItem({ key: 'e2.mp4', action: 'fail', reason: 'video_file_broken', detail: 'empty' }),
  ];

  it('counts every action and reason, with keys, video hours and the time to submit', async () => {
    const r = await summarizePlan(aPlanHeader({ options: somePlanOptions({ probe: true }) }), summaryOf(items), asyncIterable(items), { ...options, maxRpm: 30 });
    expect(r.totals).toEqual({ objects: 12, upload: 3, skip: 6, fail: 3, bytes: { upload: 600, total: 600 + 9 * 1000 }, ignored: 2 });
    expect(r.indexed).toEqual({ count: 2, by: { filename_size: 1, fingerprint: 1 } });
    expect(r.failures.map((g) => [g.name, g.count, g.items.map((i) => i.key)])).toEqual([
      ['video_file_broken', 2, ['e1.mp4', 'e2.mp4']],
      ['video_duration_too_short', 1, ['short.mp4']],
    ]);
    expect(r.duplicates.items).toEqual([{ key: 'copy.mp4', duplicateOf: 'a.mp4' }]);
    expect(r.collisions.items).toEqual([{ key: 'c.mp4', with: ['d/c.mp4'] }]);
    expect(r.inProgress.items).toEqual([{ key: 'run.mp4', taskId: 't9' }]);
    expect(r.excluded).toEqual({ count: 2, byDetail: [{ detail: 'extension json is not a video type', count: 2 }] });
    expect(r.video).toEqual({ uploadsProbed: 2, uploads: 3, seconds: 7200, hours: 2 });
    expect(r.estimate).toEqual({ maxRpm: 30, requests: 3, seconds: 6 });
    expect(r.summaryMismatch).toEqual([]);
  });

  it('caps key lists but keeps exact counts; flags a summary that disagrees with the items', async () => {
    const many = Array.from({ length: 25 }, (_, i) => aPlanItem({ key: `bad/${i}.mp4`, action: 'fail', reason: 'video_file_broken' }));
    const r = await summarizePlan(aPlanHeader(), { ...summaryOf(many), total: 24 }, asyncIterable(many), { ...options, maxKeys: 5 });
    expect(r.failures[0]).toMatchObject({ name: 'video_file_broken', count: 25, omitted: 20 });
    expect(r.failures[0]?.items).toHaveLength(5);
    expect(r.summaryMismatch).toEqual(["objects: the plan's summary says 24, its items count 25"]);
    expect(r.video).toBeUndefined();
    const page = await text(renderSummary(r, 'html'));
    expect(page).toContain('and 20 more');
  });

  it('renders every summary format with the same totals', async () => {
    const r = await summarizePlan(aPlanHeader(), summaryOf(items), asyncIterable(items), options);
    const json = JSON.parse(await text(renderSummary(r, 'json')));
    expect(json).toMatchObject({ reportVersion: 1, kind: 'plan', totals: { objects: 12, upload: 3 } });
    const plain = await text(renderSummary(r, 'text'));
    expect(plain).toMatch(/to upload\s+3/);
    expect(plain).toMatch(/will fail\s+3\s+2 video_file_broken, 1 video_duration_too_short/);
    expect(plain).toContain('pass --max-rpm N');
    const md = await text(renderSummary(r, 'md'));
    expect(md).toContain('| To upload | 3 |');
    const html = await text(renderSummary(r, 'html'));
    expect(html).toContain('<b data-total="upload">3</b>');
    expect(html).toContain('<b data-total="fail">3</b>');
  });
});

describe('HTML page', () => {
  it('is self-contained, phone-ready, and escapes keys', async () => {
    const items = [aPlanItem({ key: '<script>alert(1)</script>.mp4', action: 'fail', reason: 'video_file_broken', detail: '"quoted" & <b>bold</b>' })];
    const html = await text(renderSummary(await summarizePlan(aPlanHeader(), summaryOf(items), asyncIterable(items), options), 'html'));
    expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(html).not.toMatch(/<script|<link|<img|<iframe|@import|url\(/i);
    expect(html).not.toMatch(/(src|href)=/i);
    expect(html).toContain('&#60;script&#62;alert(1)&#60;/script&#62;.mp4');
    expect(html).toContain('<svg class="chart"');
  });
});

describe('markdown', () => {
  it('keeps a key with pipes and markup inside its table cell', async () => {
    const items = [aPlanItem({ key: 'a|b_*c*.mp4', action: 'fail', reason: 'video_file_broken', detail: 'x\ny' })];
    const md = await text(renderSummary(await summarizePlan(aPlanHeader(), summaryOf(items), asyncIterable(items), options), 'md'));
    expect(md).toContain('| a\\|b\\_\\*c\\*.mp4 | x y |');
  });
});

describe('run report', () => {
  const items = [
    anItem({ key: 'videos/ok1.mp4', status: 'ready', submittedAt: '2026-05-01T12:00:10.000Z', taskId: 't1', videoId: 'v1' }),
    anItem({ key: 'videos/ok2.mp4', status: 'ready', submittedAt: '2026-05-01T12:02:10.000Z', taskId: 't2', videoId: 'v2' }),
    anItem({ key: 'videos/idx.mp4', status: 'ready', reason: 'indexed', attempts: 0 }),
    anItem({ key: 'videos/dup.mp4', status: 'skipped', reason: 'duplicate', attempts: 0 }),
    anItem({ key: 'videos/broken.mp4', status: 'failed', taskId: 't3', submittedAt: '2026-05-01T12:04:10.000Z', lastError: { code: 'indexing_failed', message: 'the platform marked the task failed', at: AT } }),
    anItem({ key: 'videos/empty.mp4', status: 'failed', reason: 'video_file_broken', attempts: 0, lastError: { code: 'video_file_broken', message: 'empty', at: AT } }),
    anItem({ key: 'videos/wait.mp4', status: 'indexing', taskId: 't4', submittedAt: '2026-05-01T12:04:20.000Z' }),
    anItem({ key: 'videos/todo.mp4', status: 'planned', attempts: 0, lastError: { code: 'too_many_requests', message: 'slow down', at: AT } }),
  ];

  it('counts statuses and failures by code, sums run counters, and says what to do next', () => {
    const r = summarizeRun(aState(items, [aRun(), aRun({ runId: 'run-2', startedAt: '2026-05-01T13:00:00.000Z', endedAt: null, outcome: undefined })]), 'my state.json', options);
    expect(r.totals).toMatchObject({ objects: 8, byStatus: { ready: 3, skipped: 1, failed: 2, indexing: 1, planned: 1 }, byAction: { upload: 5, skip: 2, fail: 1 } });
    expect(r.skipped).toEqual({ indexed: 1, duplicate: 1 });
    expect(r.failures.map((g) => [g.name, g.items.map((i) => i.key)])).toEqual([
      ['indexing_failed', ['videos/broken.mp4']],
      ['video_file_broken', ['videos/empty.mp4']],
    ]);
    expect(r.unfinished.map((g) => [g.name, g.count])).toEqual([['too_many_requests', 1]]);
    expect(r.counters).toEqual({ submitted: 6, failed: 2, reconciled: 2, retries: 4, throttled: 8 });
    expect(r.startedAt).toBe(AT);
    expect(r.endedAt).toBeNull();
    expect(r.next.map((s) => [s.step, s.count])).toEqual([
      ['resume', 1],
      ['follow', 1],
      ['retry_failed', 1],
      ['replan', 1],
    ]);
    expect(r.next[0]?.command).toBe("tlmigrate apply PLAN.json --state 'my state.json'");
    expect(r.next[0]?.why).toMatch(/PLAN\.json: the plan file last applied, not found next to the state file/);
    expect(r.throughput.points.at(-1)?.cumulative).toBe(4);
  });

  it('names the plan in resume and --retry-failed commands when it is known', () => {
    const r = summarizeRun(aState(items, [aRun()]), 'my state.json', { ...options, planFile: "it's a plan.json" });
    expect(Object.fromEntries(r.next.map((s) => [s.step, s.command]))).toMatchObject({
      resume: "tlmigrate apply 'it'\\''s a plan.json' --state 'my state.json'",
      retry_failed: "tlmigrate apply 'it'\\''s a plan.json' --retry-failed --state 'my state.json'",
      follow: "tlmigrate status --refresh --state 'my state.json'",
    });
    expect(r.next.map((s) => s.why).join(' ')).not.toMatch(/PLAN\.json/);
  });

  it('suggests verify when nothing is left to do', () => {
    const r = summarizeRun(aState([anItem({ key: 'videos/a.mp4' })]), 'tlmigrate-state.json', options);
    expect(r.next).toEqual([expect.objectContaining({ step: 'verify', command: `tlmigrate verify --source s3://${BUCKET}/videos --index ${'b'.repeat(24)} --state tlmigrate-state.json` })]);
  });

  it('text: the skip reasons add up to what each status shows, in plain words', async () => {
    const more = [
      ...items,
      anItem({ key: 'videos/x1.txt', status: 'skipped', reason: 'excluded', attempts: 0 }),
      anItem({ key: 'videos/x2.txt', status: 'skipped', reason: 'excluded', attempts: 0 }),
      anItem({ key: 'videos/idx2.mp4', status: 'ready', reason: 'indexed', attempts: 0 }),
    ];
    const out = await text(renderSummary(summarizeRun(aState(more), 's.json', options), 'text'));
    expect(out).toMatch(/^ {2}skipped +3$/m);
    expect(out).toContain('  (not uploaded, as the plan decided: 1 duplicate of another key, 2 excluded: counted as skipped; 2 already in the index: counted as ready)\n');
    expect(out).toContain("failed, but not because of the file itself (the platform's indexing failed, or it refused the request): a new attempt may succeed, so resubmit them");
    expect(out).not.toMatch(/may not meet|skipped by the plan/);
  });

  it('renders the progress chart and the failures in HTML', () => {
    const html = [...renderSummary(summarizeRun(aState(items), 's.json', options), 'html')].join('');
    expect(html).toContain('<polyline');
    expect(html).toContain('<b data-total="failed">2</b>');
    expect(html).toContain('data-next="retry_failed"');
  });
});

describe('throughput', () => {
  it('picks an interval that fits the span in about 60 points and counts every submission once', () => {
    const start = Date.parse(AT);
    const times = Array.from({ length: 600 }, (_, i) => start + i * 1000);
    const t = throughput(times);
    expect(t.intervalSeconds).toBe(10);
    expect(t.points).toHaveLength(60);
    expect(t.points.reduce((n, p) => n + p.submitted, 0)).toBe(600);
    expect(t.points.at(-1)?.cumulative).toBe(600);
    expect(t.perMinute).toBeCloseTo(600 / (599 / 60));
  });

  it('counted in bins (never one number per item), gives what counting each time gives, also past the bins it keeps at 1 s', () => {
    // The former computation, kept here as the reference: every time held, then counted per interval.
    const reference = (times: number[]) => {
      const first = times.reduce((a, b) => Math.min(a, b));
      const last = times.reduce((a, b) => Math.max(a, b));
      const span = (last - first) / 1000;
      const intervals = [1, 5, 10, 30, 60, 300, 600, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400];
      const interval = intervals.find((s) => span / s < 60) ?? 7 * 86400;
      const start = Math.floor(first / (interval * 1000)) * interval * 1000;
      const counts = new Array<number>(Math.floor((last - start) / (interval * 1000)) + 1).fill(0);
      for (const t of times) counts[Math.floor((t - start) / (interval * 1000))]! += 1;
      return { interval, counts, perMinute: times.length / (Math.max(span, interval) / 60) };
    };
    let seed = 7;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const start = Date.parse(AT) + 123;
    // 3 days at ms resolution: about 230,000 distinct seconds, past the 100,000 bins kept at 1 s.
    for (const spanMs of [90_000, 3 * 86_400_000]) {
      const times = Array.from({ length: 300_000 }, () => start + Math.floor(random() * spanMs));
      const want = reference(times);
      const got = throughput(times);
      expect(got.intervalSeconds).toBe(want.interval);
      expect(got.points.map((p) => p.submitted)).toEqual(want.counts);
      expect(got.perMinute).toBeCloseTo(want.perMinute, 9);
    }
  });

  it('is empty without submissions; one burst is one point', () => {
    expect(throughput([]).points).toEqual([]);
    expect(throughput([Date.parse(AT), Date.parse(AT)]).points).toEqual([{ at: AT, submitted: 2, cumulative: 2 }]);
  });
});

describe('input detection and format names', () => {
  it.each([
    ['{"version":1,"createdAt":"x","items":[\n{"key":"a"}', 'plan'],
    ['{\n  "version": 1,\n  "items": [\n', 'plan'],
    ['{"version":1,"tool":"t","source":{"uri":"s3://b/\\"items\\":["},"items":{"s3://b/k":{}}', 'state'],
    ['{"version":1,"tool":"t","runs":[],"parts":[\n{"file":"s.json.parts/00001-000001.json","first":"s3://b/a"', 'state'],
    ['{"version":1,"tool":"t","runs":[],"parts":[\n]}', 'state'],
    ['{"hello":"world"}', undefined],
    ['not json', undefined],
  ])('%s -> %s', (head, kind) => {
    expect(detectInputKind(head)).toBe(kind);
  });

  it('reads the format from the output file name', () => {
    expect(['r.html', 'r.HTM', 'r.md', 'r.csv', 'r.json', 'r.txt', 'r.pdf', 'r'].map(formatFromFileName)).toEqual(['html', 'html', 'md', 'csv', 'json', 'text', undefined, undefined]);
  });
});

describe('scale', () => {
  it('100,000 plan items: exact totals, bounded key lists, every CSV row', async () => {
    const n = 100_000;
    function* items(): Generator<PlanItem> {
      for (let i = 0; i < n; i++) {
        yield i % 10 === 0
          ? aPlanItem({ key: `bad/${i}.mp4`, action: 'fail', reason: i % 20 === 0 ? 'video_file_broken' : 'video_duration_too_short' })
          : aPlanItem({ key: `v/${i}, "x".mp4`, size: 10 });
      }
    }
    const r = await summarizePlan(aPlanHeader(), summaryOf([]), asyncIterable(items()), options);
    expect(r.totals).toMatchObject({ objects: n, upload: 90_000, fail: 10_000, bytes: { upload: 900_000 } });
    expect(r.failures.map((g) => [g.count, g.items.length])).toEqual([
      [5000, 1000],
      [5000, 1000],
    ]);
    let rows = -1;
    for await (const chunk of renderCsv((function* () {
      for (const item of items()) yield planItemRow(BUCKET, item);
    })())) rows += (chunk.match(/\r\n/g) ?? []).length;
    expect(rows).toBe(n);
  });
});
