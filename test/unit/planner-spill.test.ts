import { readdirSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { lookupTablesFile, planWorkFiles } from '../../src/planner/plan-file.js';
import { MemoryBudget } from '../../src/planner/spill.js';
import { useTmpDir } from './tmp-dir.js';

const collect = async (lines: AsyncIterable<string>) => {
  const out: string[] = [];
  for await (const line of lines) out.push(line);
  return out;
};

describe('work files held in memory while their budget lasts', () => {
  const tmp = useTmpDir();
  const record = (n: number) => ({ n, note: 'x'.repeat(200 + (n % 7)) });

  it('lookup records: every value of a key in the order added, from memory, then across the spill, from disk', () => {
    const budget = new MemoryBudget(3 << 20);
    const tables = lookupTablesFile(tmp.path('plan.json'), undefined, budget);
    const early = tables.open<{ n: number; note: string }>('early');
    let n = 0;
    // ~2.5 MiB of records: blocks kept in memory, no file yet.
    for (; n < 10_000; n++) early.add(`k${n % 3}`, record(n));
    expect(readdirSync(tmp.dir)).toEqual([]);
    expect(early.get('k1').map((v) => v.n)).toEqual(Array.from({ length: 3_333 }, (_, i) => 3 * i + 1));
    for (; n < 20_000; n++) early.add(`k${n % 3}`, record(n));
    expect(budget.exhausted).toBe(true);
    expect(readdirSync(tmp.dir)).toEqual([`plan.json.lookup-${process.pid}`]);
    const late = tables.open<number>('late');
    late.add('k0', 1);
    expect(early.get('k0')).toEqual(Array.from({ length: 6_667 }, (_, i) => record(3 * i)));
    expect(early.get('k2')).toHaveLength(6_666);
    expect([early.get('k3'), late.get('k0'), late.get('k1')]).toEqual([[], [1], []]);
    tables.remove();
    expect(readdirSync(tmp.dir)).toEqual([]);
  });

  it('lines: read back in order from memory, and from the file once the budget is spent (by the lookups too)', async () => {
    const work = planWorkFiles(tmp.path('plan.json'), { memoryBytes: 3 << 20 });
    const videos = work.lines('videos');
    const lines = Array.from({ length: 20_000 }, (_, i) => JSON.stringify(record(i)));
    for (const line of lines.slice(0, 8_000)) videos.append(line);
    expect(await readdir(tmp.dir)).toEqual([]);
    expect(await collect(videos.lines())).toEqual(lines.slice(0, 8_000));
    const table = work.tables.open<number>('t');
    for (let i = 0; i < 10_000; i++) table.add(`key-${i}-${'y'.repeat(200)}`, i);
    for (const line of lines.slice(8_000)) videos.append(line);
    expect((await readdir(tmp.dir)).sort()).toEqual([`plan.json.lookup-${process.pid}`, `plan.json.videos-${process.pid}`]);
    expect(await collect(videos.lines())).toEqual(lines);
    expect(table.get(`key-9999-${'y'.repeat(200)}`)).toEqual([9_999]);
    work.remove();
    expect(await readdir(tmp.dir)).toEqual([]);
  });

  it('keeps a small plan in memory: no work file is written', async () => {
    const work = planWorkFiles(tmp.path('small.json'));
    work.tables.open<number>('t').add('k', 1);
    const lines = work.lines('videos');
    for (let i = 0; i < 20_000; i++) lines.append(JSON.stringify(record(i)));
    expect((await collect(lines.lines()))[19_999]).toBe(JSON.stringify(record(19_999)));
    expect(await readdir(tmp.dir)).toEqual([]);
    work.remove();
  });
});
