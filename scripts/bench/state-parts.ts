/**
 * `npm run bench:state -- --parts [N]`: the state in parts at N items (default 1,000,000). Fills a
 * PartedStore with N synthetic items in key order (as a plan gives them), then times a checkpoint
 * after 1,000 changes over 1 part (and over 10 and 100 parts), a durable intent written while that
 * checkpoint runs, and resume start (open: manifest + a 5,000-line journal, no part loaded), beside
 * a one-file StateStore's checkpoint of the same items; peak RSS after each step.
 */
import { cp, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { PartedStore } from '../../src/state/parted-store.js';
import { StateStore } from '../../src/state/store.js';
import type { ItemState } from '../../src/state/types.js';

const IDENTITY = { uri: 's3://bench', bucket: 'bench', prefix: '', indexId: 'idx' };
type Row = [string, string, string];

export interface Meter {
  /** Peak RSS since the last reset, in bytes. */
  peak(): number;
  reset(): void;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const key = (i: number) => `archive/${String(Math.floor(i / 1000)).padStart(5, '0')}/clip-${String(i).padStart(8, '0')}.mp4`;

function anItem(i: number): Partial<ItemState> {
  const k = key(i);
  return { key: k, size: 10_000_000 + i, etag: `"${i.toString(16).padStart(32, '0')}"`, status: 'submitted', attempts: 1, taskId: `t${i.toString(16).padStart(23, '0')}`, runId: 'run-1', submittedAt: '2026-11-01T00:00:00.000Z', updatedAt: '2026-11-01T00:00:00.000Z' };
}

async function fill(store: PartedStore | StateStore, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const written = store.setItem(`s3://bench/${key(i)}`, anItem(i));
    // Every 10,000: let the journal drain, as a run's pace would.
    if (i % 10_000 === 9_999) await written;
    // Every 100,000, a state in parts keeps only what it works on, as the executor will (step 3).
    if (i % 100_000 === 99_999 && store instanceof PartedStore) await unloadClean(store, true);
  }
  await store.checkpoint();
}

async function unloadClean(store: PartedStore, checkpoint: boolean): Promise<void> {
  if (checkpoint) await store.checkpoint();
  for (const part of store.partList()) if (part.loaded && !part.dirty) store.unloadPart(part.id);
}

/** 1,000 changes spread evenly over `parts` parts in the middle of the state, then a checkpoint with a durable intent written during it. */
async function changeAndCheckpoint(store: PartedStore, parts: number, n: number): Promise<{ ms: number; intentMs: number; written: number }> {
  const list = store.partList();
  const from = Math.max(0, Math.floor(list.length / 2) - Math.floor(parts / 2));
  const chosen = list.slice(from, from + parts);
  const span = list[0]?.written?.items ?? 1;
  for (let c = 0; c < 1_000; c++) {
    const part = chosen[c % chosen.length];
    const base = list.indexOf(part as (typeof list)[number]) * span;
    const i = Math.min(n - 1, base + ((c * 7) % span));
    void store.setItem(`s3://bench/${key(i)}`, { status: 'ready', videoId: `v${i}` });
  }
  const started = performance.now();
  const checkpoint = store.checkpoint();
  const intentStart = performance.now();
  // An intent in a part being written: its line goes to `.journal.next`, and the part is written again next time.
  await store.setItem(`s3://bench/${key(from * span + 1)}`, { status: 'intent', attempts: 2 }, { durable: true });
  const intentMs = performance.now() - intentStart;
  await checkpoint;
  await unloadClean(store, false);
  return { ms: performance.now() - started, intentMs, written: store.lastCheckpoint.parts };
}

/** The parted figures, as rows of the bench's table, and its one closing line. */
export async function partsBench(dir: string, n: number, meter: Meter): Promise<{ rows: Row[]; line: string }> {
  const rows: Row[] = [['items', n.toLocaleString('en-US'), 'parts of 10,000']];
  await mkdir(join(dir, 'live'));
  const path = join(dir, 'live', 'state.json');
  const store = await PartedStore.open(path, IDENTITY, 'bench', 'tlmigrate bench');
  meter.reset();
  let started = performance.now();
  await fill(store, n);
  await unloadClean(store, false);
  rows.push(['fill (journal + checkpoints of new parts)', secs(performance.now() - started), `peak RSS ${mib(meter.peak())}, ${store.partList().length} parts`]);
  const cost: Record<number, number> = {};
  for (const parts of [1, 10, 100]) {
    meter.reset();
    const result = await changeAndCheckpoint(store, parts, n);
    cost[parts] = result.ms;
    rows.push([`checkpoint, 1,000 changes over ${parts} part(s)`, secs(result.ms), `${result.written} part file(s) written, durable intent during it ${secs(result.intentMs)}, peak RSS ${mib(meter.peak())}`]);
  }
  // Resume start: a journal of 5,000 changes not yet checkpointed (a kill), opened elsewhere.
  for (let c = 0; c < 5_000; c++) void store.setItem(`s3://bench/${key((c * 997) % n)}`, { status: 'indexing' });
  await store.setItem('s3://bench/last.mp4', { key: 'last.mp4', size: 1, etag: 'e', status: 'intent', attempts: 1 }, { durable: true });
  await cp(join(dir, 'live'), join(dir, 'killed'), { recursive: true, filter: (f) => !f.endsWith('.lock') });
  await store.close();
  meter.reset();
  started = performance.now();
  const resumed = await PartedStore.open(join(dir, 'killed', 'state.json'), IDENTITY, 'bench', 'tlmigrate bench');
  const resumeMs = performance.now() - started;
  rows.push(['resume start (manifest + 5,000-line journal)', secs(resumeMs), `peak RSS ${mib(meter.peak())}, ${resumed.partList().filter((p) => p.loaded).length} part(s) loaded`]);
  await resumed.close();
  await rm(join(dir, 'killed'), { recursive: true, force: true });
  await rm(join(dir, 'live'), { recursive: true, force: true });

  const one = await StateStore.open(join(dir, 'one.json'), IDENTITY, 'bench', 'tlmigrate bench');
  await fill(one, n);
  meter.reset();
  started = performance.now();
  for (let c = 0; c < 1_000; c++) void one.setItem(`s3://bench/${key(c)}`, { status: 'ready' });
  await one.checkpoint();
  const oneMs = performance.now() - started;
  rows.push(['one file (StateStore): checkpoint, 1,000 changes', secs(oneMs), `peak RSS ${mib(meter.peak())} (the whole state in memory)`]);
  await one.close();
  const line = `state parts: ${n} items, checkpoint 1 part ${secs(cost[1] ?? 0)}, 10 parts ${secs(cost[10] ?? 0)}, 100 parts ${secs(cost[100] ?? 0)}, one file ${secs(oneMs)}, resume start ${secs(resumeMs)}`;
  return { rows, line };
}
