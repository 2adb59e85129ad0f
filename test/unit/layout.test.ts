import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
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

  it('src/ passes the lint (no function over 60 lines, the planner pure, consistent type imports)', async () => {
    const results = await new ESLint({ cwd: root }).lintFiles(['src']);
    const problems = results.flatMap((r) => r.messages.map((m) => `${relative(root, r.filePath)}:${m.line} ${m.ruleId ?? ''} ${m.message}`));
    expect(problems).toEqual([]);
  }, 180_000);

  it('no `as` cast in src/cli: the commands type their arguments', () => {
    const casts = sources(join(root, 'src', 'cli')).flatMap((file) =>
      readFileSync(file, 'utf8')
        .split('\n')
        .map((line, i) => ({ line: line.replace(/\/\*.*?\*\/|\/\/.*$|^\s*\/?\*.*$|'[^']*'|`[^`]*`/g, ''), at: `${relative(root, file)}:${i + 1}` }))
        .filter(({ line }) => /\)\s+as\s+(?!const\b)[A-Za-z{[(]|\w\s+as\s+(?!const\b)[A-Z{[(]/.test(line))
        .map(({ at, line }) => `${at} ${line.trim()}`),
    );
    expect(casts).toEqual([]);
  });
});
