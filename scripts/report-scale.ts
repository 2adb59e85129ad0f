/**
 * Measures `tlmigrate report` on a large plan and a large state: wall time and peak RSS per format.
 *   npm run build && npx tsx scripts/report-scale.ts [--items 100000] [--dir .tmp/report-scale]
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_REQUIREMENTS, DEFAULT_VIDEO_EXTENSIONS, emptySummary, count, type PlanHeader, type PlanItem } from '../src/planner/index.js';
import { writeFileAtomic, writePlanFile, type ItemState, type StateFile } from '../src/state/index.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const FORMATS = ['text', 'json', 'csv', 'md', 'html'] as const;
const BUCKET = 'scale-bucket';

function arg(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : (process.argv[at + 1] ?? fallback);
}

/** A key now and then with a comma, a quote, a newline or non-ASCII text, as real buckets have. */
function keyOf(i: number): string {
  const folder = `shows/season ${i % 12}/`;
  if (i % 97 === 0) return `${folder}clip, "take ${i}".mp4`;
  if (i % 101 === 0) return `${folder}café ☕ 日本 ${i}.mp4`;
  if (i % 1009 === 0) return `${folder}two\nlines ${i}.mp4`;
  return `${folder}clip ${String(i).padStart(7, '0')}.mp4`;
}

function planItem(i: number): PlanItem {
  const base = { key: keyOf(i), size: 5_000_000 + (i % 1000) * 1000, etag: `etag${i}`, lastModified: '2026-01-01T00:00:00.000Z' };
  const r = i % 100;
  if (r < 80) return { ...base, action: 'upload', probe: { durationSeconds: 60 + (i % 600), width: 1280, height: 720 } };
  if (r < 88) return { ...base, action: 'skip', reason: 'indexed', match: { by: r < 85 ? 'fingerprint' : 'filename_size', videoId: `v${i}` } };
  if (r < 91) return { ...base, action: 'skip', reason: 'duplicate', match: { by: 'source_content', duplicateOf: keyOf(i - 1) } };
  if (r < 95) return { ...base, key: base.key.replace(/\.mp4$/, '.json'), action: 'skip', reason: 'excluded', detail: 'extension json is not a video type' };
  const reasons = ['video_duration_too_short', 'video_file_broken', 'video_resolution_too_low', 'video_filesize_too_large', 'source_archived'];
  return { ...base, action: 'fail', reason: reasons[i % reasons.length], detail: 'failed preflight' };
}

function stateItem(i: number, start: number): ItemState {
  const base = { key: keyOf(i), size: 5_000_000 + (i % 1000) * 1000, etag: `etag${i}`, attempts: 1, updatedAt: '2026-01-01T02:00:00.000Z' };
  const r = i % 100;
  const submittedAt = new Date(start + ((i * 7200_000) / 100_000) % 7200_000).toISOString();
  if (r < 85) return { ...base, status: 'ready', taskId: `t${i}`, videoId: `v${i}`, submittedAt };
  if (r < 88) return { ...base, status: 'failed', taskId: `t${i}`, videoId: `v${i}`, submittedAt, lastError: { code: 'indexing_failed', message: 'the platform marked the task failed (no reason given by the API)', at: submittedAt } };
  if (r < 90) return { ...base, status: 'failed', attempts: 0, reason: 'video_file_broken', lastError: { code: 'video_file_broken', message: 'ffprobe could not read it', at: submittedAt } };
  if (r < 92) return { ...base, status: 'indexing', taskId: `t${i}`, submittedAt };
  if (r < 93) return { ...base, status: 'planned', attempts: 0 };
  return { ...base, status: 'skipped', attempts: 0, reason: 'duplicate' };
}

async function makeInputs(dir: string, n: number): Promise<{ plan: string; state: string }> {
  const plan = join(dir, 'plan.json');
  const header: PlanHeader = {
    version: 1,
    createdAt: new Date().toISOString(),
    tool: 'tlmigrate scale',
    source: { uri: `s3://${BUCKET}`, bucket: BUCKET, prefix: '' },
    indexId: 'f'.repeat(24),
    indexName: 'scale',
    options: { include: [], exclude: [], incremental: true, match: 'filename', probe: true, allFiles: false, extensions: DEFAULT_VIDEO_EXTENSIONS, requirements: DEFAULT_REQUIREMENTS },
  };
  const summary = emptySummary();
  await writePlanFile(plan, header, (async function* () {
    for (let i = 0; i < n; i++) {
      const item = planItem(i);
      count(summary, item);
      yield item;
    }
  })(), () => summary);

  const start = Date.parse('2026-01-01T00:00:00.000Z');
  const items: Record<string, ItemState> = {};
  for (let i = 0; i < n; i++) items[`s3://${BUCKET}/${keyOf(i)}`] = stateItem(i, start);
  const counters = { submitted: Math.round(n * 0.9), failed: Math.round(n * 0.05), reconciled: 12, retries: 340, throttled: 1290 };
  const state: StateFile = {
    version: 1,
    tool: 'tlmigrate scale',
    source: { uri: `s3://${BUCKET}`, bucket: BUCKET, prefix: '' },
    indexId: 'f'.repeat(24),
    indexName: 'scale',
    createdAt: new Date(start).toISOString(),
    updatedAt: new Date(start + 7200_000).toISOString(),
    items,
    runs: [
      { runId: 'r1', command: 'apply', pid: 1, startedAt: new Date(start).toISOString(), endedAt: new Date(start + 3000_000).toISOString(), outcome: 'interrupted', counters: { ...counters, submitted: Math.round(n * 0.4) } },
      { runId: 'r2', command: 'apply', pid: 2, startedAt: new Date(start + 3100_000).toISOString(), endedAt: new Date(start + 7300_000).toISOString(), outcome: 'failed_items', counters },
    ],
  };
  const path = join(dir, 'state.json');
  await writeFileAtomic(path, JSON.stringify(state));
  return { plan, state: path };
}

/** Runs the built CLI with a preload that reports the process's peak RSS on exit. */
function measure(args: string[], preload: string): Promise<{ ms: number; maxRssMb: number; code: number | null }> {
  const started = performance.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--require', preload, CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const kb = Number(/TLM_MAXRSS_KB=(\d+)/.exec(stderr)?.[1] ?? Number.NaN);
      if (code !== 0) reject(new Error(`tlmigrate ${args.join(' ')} exited ${code}: ${stderr}`));
      else resolvePromise({ ms: performance.now() - started, maxRssMb: kb / 1024, code });
    });
  });
}

async function main(): Promise<void> {
  const n = Number(arg('items', '100000'));
  const dir = resolve(arg('dir', join('.tmp', 'report-scale')));
  mkdirSync(dir, { recursive: true });
  // Outside the repository: a .cjs file under .tmp would be linted.
  const preload = join(mkdtempSync(join(tmpdir(), 'tlm-report-scale-')), 'maxrss.cjs');
  writeFileSync(preload, "process.on('exit', () => require('fs').writeSync(2, '\\nTLM_MAXRSS_KB=' + process.resourceUsage().maxRSS + '\\n'));\n");
  const made = performance.now();
  const inputs = await makeInputs(dir, n);
  console.log(`inputs: ${n.toLocaleString('en-US')} items; plan ${(statSync(inputs.plan).size / 1e6).toFixed(1)} MB, state ${(statSync(inputs.state).size / 1e6).toFixed(1)} MB (made in ${Math.round(performance.now() - made)} ms)`);
  const baseline = await measure(['--version'], preload);
  console.log(`baseline (tlmigrate --version): ${Math.round(baseline.ms)} ms, peak RSS ${baseline.maxRssMb.toFixed(0)} MB\n`);
  console.log('input   format   time      peak RSS   output');
  for (const [kind, input] of [['plan', inputs.plan], ['state', inputs.state]] as const) {
    for (const format of FORMATS) {
      const out = join(dir, `report-${kind}.${format === "text" ? "txt" : format}`);
      const m = await measure(['report', input, '--format', format, '--out', out, '--max-rpm', '120'], preload);
      let note = `${(statSync(out).size / 1e6).toFixed(2)} MB`;
      if (format === 'csv') note += `, ${(readFileSync(out, 'utf8').match(/\r\n/g) ?? []).length - 1} CRLF-terminated records besides the header`;
      console.log(`${kind.padEnd(7)} ${format.padEnd(8)} ${`${(m.ms / 1000).toFixed(2)} s`.padEnd(9)} ${`${m.maxRssMb.toFixed(0)} MB`.padEnd(10)} ${note}`);
    }
  }
}

await main();
