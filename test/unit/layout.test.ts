import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? sources(path) : entry.name.endsWith('.ts') ? [path] : [];
  });
}

function imports(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)].map((m) => m[1] ?? '');
}

describe('source layout (house style)', () => {
  it('nothing in src/ imports test/ or scripts/', () => {
    const offenders = sources(join(root, 'src')).flatMap((file) =>
      imports(file)
        .filter((spec) => /(^|\/)(test|scripts)\//.test(spec))
        .map((spec) => `${relative(root, file)} -> ${spec}`),
    );
    expect(offenders).toEqual([]);
  });

  it('the planner is pure: no node:* imports, nothing from the executor (its file format, plan-file.ts, reads and writes files)', () => {
    const offenders = sources(join(root, 'src', 'planner'))
      .filter((file) => !file.endsWith('plan-file.ts'))
      .flatMap((file) =>
      imports(file)
        .filter((spec) => spec.startsWith('node:') || spec.includes('executor'))
        .map((spec) => `${relative(root, file)} -> ${spec}`),
    );
    expect(offenders).toEqual([]);
  });
});
