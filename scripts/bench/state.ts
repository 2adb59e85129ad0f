/**
 * `npm run bench:state [-- [--parts] N]`: the state file at N items (default 1,000,000). With
 * `--parts`, the state in parts (`state-parts.ts`). Without, fills a real
 * StateStore with synthetic items, then times a checkpoint, a durable intent written while that
 * checkpoint runs, and a load, beside the one-string baseline (JSON.stringify / JSON.parse of the
 * whole state, what tlmigrate did before), with the process's peak RSS after each step.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { StateStore, loadState, writeFileAtomic } from '../../src/state/index.js';
import { partsBench } from './state-parts.js';

const args = process.argv.slice(2);
const parts = args.includes('--parts');
const N = Number(args.find((a) => a !== '--parts') ?? process.env.BENCH_STATE_N ?? 1_000_000);
let peak = 0;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function timed<T>(what: () => Promise<T>): Promise<{ ms: number; value?: T; error?: string }> {
  const start = performance.now();
  try {
    const value = await what();
    return { ms: performance.now() - start, value };
  } catch (error) {
    return { ms: performance.now() - start, error: error instanceof Error ? error.message : String(error) };
  }
}

const dir = await mkdtemp(join(tmpdir(), 'tlm-bench-state-'));
try {
  if (parts) {
    const { rows, line } = await partsBench(dir, N, { peak: () => peak, reset: () => (peak = process.memoryUsage().rss) });
    for (const [a, b, c] of rows) process.stdout.write(`${a.padEnd(48)} ${b.padEnd(14)} ${c}\n`);
    process.stdout.write(`${line}\n`);
    process.exit(0);
  }
  const path = join(dir, 'state.json');
  const store = await StateStore.open(path, { uri: 's3://bench', bucket: 'bench', prefix: '', indexId: 'idx' }, 'bench', 'tlmigrate bench');
  const filled = performance.now();
  for (let i = 0; i < N; i++) {
    const key = `archive/${String(i % 1000).padStart(4, '0')}/clip-${i}.mp4`;
    void store.setItem(`s3://bench/${key}`, { key, size: 10_000_000 + i, etag: `"${i.toString(16).padStart(32, '0')}"`, status: 'submitted', attempts: 1, taskId: `t${i.toString(16).padStart(23, '0')}`, runId: 'run-1', submittedAt: '2026-11-01T00:00:00.000Z', updatedAt: '2026-11-01T00:00:00.000Z' });
  }
  await store.checkpoint();
  const fillMs = performance.now() - filled;
  const snapshot = peak;

  const checkpoint = store.checkpoint();
  const intent = timed(() => store.setItem('s3://bench/late.mp4', { key: 'late.mp4', size: 1, etag: 'e', status: 'intent', attempts: 1 }, { durable: true }));
  const [cp, late] = await Promise.all([timed(() => checkpoint), intent]);
  const size = (await stat(path)).size;
  const afterCheckpoint = peak;
  await store.close();

  peak = 0;
  const loaded = await timed(() => loadState(path));
  const loadRss = peak;
  const items = loaded.value ? Object.keys(loaded.value.items).length : 0;
  loaded.value = undefined;

  peak = 0;
  const baseline = await timed(() => readFile(path, 'utf8').then((text) => writeFileAtomic(join(dir, 'one-string.json'), JSON.stringify(JSON.parse(text)))));
  const baselineRss = peak;

  const rows = [
    ['items', N.toLocaleString('en-US'), ''],
    ['state file', mib(size), ''],
    ['fill (in memory + journal)', secs(fillMs), `peak RSS ${mib(snapshot)}`],
    ['checkpoint', cp.error ?? secs(cp.ms), `peak RSS ${mib(afterCheckpoint)}`],
    ['durable intent during it', late.error ?? secs(late.ms), 'waits for the checkpoint when it is on the critical path'],
    ['load (checkpoint + journal)', loaded.error ?? `${secs(loaded.ms)} (${items.toLocaleString('en-US')} items)`, `peak RSS ${mib(loadRss)}`],
    ['baseline: one string (parse + stringify)', baseline.error ?? secs(baseline.ms), `peak RSS ${mib(baselineRss)}`],
  ];
  for (const [a, b, c] of rows) process.stdout.write(`${(a ?? '').padEnd(42)} ${(b ?? '').padEnd(24)} ${c}\n`);
  process.stdout.write(`state: ${N} items, checkpoint ${cp.error ? 'FAILED' : secs(cp.ms)}, intent during checkpoint ${secs(late.ms)}, load ${loaded.error ? 'FAILED' : secs(loaded.ms)}, one-string baseline ${baseline.error ? `FAILED (${baseline.error})` : secs(baseline.ms)}\n`);
} finally {
  clearInterval(sampler);
  await rm(dir, { recursive: true, force: true });
}
