import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hash32 } from '../../src/planner/lookup.js';
import { heldItemsFile, lookupTablesFile } from '../../src/planner/plan-file.js';
import { planStorage } from './builders.js';
import { useTmpDir } from './tmp-dir.js';

// Every test of planner.test.ts again, with the lookups and held items in the files the CLI uses.
const dir = mkdtempSync(join(tmpdir(), 'tlm-unit-on-disk-'));
let plans = 0;
planStorage.make = () => {
  const path = join(dir, `plan-${(plans += 1)}.json`);
  const tables = lookupTablesFile(path);
  const held = heldItemsFile(path);
  return { tables, held, remove: () => (tables.remove(), held.remove()) };
};
afterAll(() => {
  const left = readdirSync(dir);
  rmSync(dir, { recursive: true, force: true });
  expect(left).toEqual([]);
});
await import('./planner.test.js');

/** Two keys of one 32-bit hash: found by trying (about 80,000 keys for even odds). */
function collidingKeys(): [string, string] {
  const seen = new Map<number, string>();
  for (let i = 0; ; i++) {
    const key = `key-${i}`;
    const other = seen.get(hash32(key));
    if (other !== undefined) return [other, key];
    seen.set(hash32(key), key);
  }
}

describe('lookupTablesFile', () => {
  const tmp = useTmpDir();

  it('gives back every value of a key in the order added, none of another key, across blocks written to disk', () => {
    const file = lookupTablesFile(tmp.path('plan.json'));
    const table = file.open<{ n: number; text: string }>('t');
    const other = file.open<number>('other');
    const long = 'x'.repeat(10_000);
    const short = 'y'.repeat(1000);
    // ~3 MiB of records: most of them read back from the file, not from the block in memory.
    for (let n = 0; n < 3000; n++) {
      table.add(`k${n % 1000}`, { n, text: n % 2000 === 500 ? long : short });
      other.add(`k${n % 1000}`, n);
    }
    expect(table.get('k7').map((v) => v.n)).toEqual([7, 1007, 2007]);
    expect(table.get('k500').map((v) => v.text.length)).toEqual([10_000, 1000, 10_000]);
    expect(other.get('k999')).toEqual([999, 1999, 2999]);
    expect(table.get('absent')).toEqual([]);
    file.remove();
    expect(readdirSync(tmp.dir)).toEqual([]);
  });

  it('keeps two keys of one hash apart: a collision costs a read, never a wrong value', () => {
    const [a, b] = collidingKeys();
    expect(hash32(a)).toBe(hash32(b));
    const file = lookupTablesFile(tmp.path('plan.json'));
    const table = file.open<string>('t');
    table.add(a, 'of a');
    expect(table.get(b)).toEqual([]);
    table.add(b, 'of b');
    table.add(a, 'of a again');
    expect(table.get(a)).toEqual(['of a', 'of a again']);
    expect(table.get(b)).toEqual(['of b']);
    file.remove();
  });
});
