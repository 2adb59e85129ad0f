import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { collect } from '../helpers/cli.js';
import { putObjects } from '../helpers/s3.js';
import { uniqueValidVideo } from '../helpers/videos.js';
import { makeWorld, type World } from '../helpers/world.js';

const run = promisify(execFile);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The README's library example, as printed between its markers. */
function readmeExample(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const match = /<!-- library-example -->\n```js\n([\s\S]*?)```\n<!-- \/library-example -->/.exec(readme);
  if (!match?.[1]) throw new Error('README.md has no library example between <!-- library-example --> markers');
  return match[1];
}

/**
 * An app that depends on the tarball, with a lockfile: the tarball's entry, and its dependencies
 * pinned as this project's own lockfile pins them. `npm ci --offline` then installs it from the
 * tarball and the npm cache `npm install` filled, without the registry (tests use loopback only).
 */
function writeAppPackage(app: string, tarball: string): void {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; link?: boolean; version?: string; dependencies?: Record<string, string> }> };
  const root = lock.packages[''];
  const resolved = `file:${tarball}`;
  const packages: Record<string, unknown> = { '': { name: 'app', dependencies: { tlmigrate: resolved } } };
  for (const [path, entry] of Object.entries(lock.packages)) if (path !== '' && !entry.dev && !entry.link) packages[path] = entry;
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
  packages['node_modules/tlmigrate'] = { version: root?.version, resolved, integrity, dependencies: root?.dependencies };
  writeFileSync(join(app, 'package-lock.json'), JSON.stringify({ name: 'app', lockfileVersion: 3, requires: true, packages }));
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module', dependencies: { tlmigrate: resolved } }));
}

/**
 * Issue 14: `import { plan, apply } from 'tlmigrate'` from a packed install. The tarball `npm pack`
 * makes is installed into an empty folder (`npm ci --offline`, see writeAppPackage), the
 * README's example runs there against the simulator and the real S3, and type-checks.
 */
describe('the library door, from a packed install', () => {
  let w: World | undefined;
  afterAll(async () => {
    await w?.close();
  });

  it('installs from the tarball, runs the README example (one task per video, per-item results) and type-checks it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tlm-library-'));
    // dist/ is built by `npm test` before any test runs; prepack would build it again.
    await run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], { cwd: ROOT });
    const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
    expect(tarball).toBeDefined();
    const app = join(dir, 'app');
    mkdirSync(app);
    writeAppPackage(app, join(dir, tarball!));
    await run('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', '--silent'], { cwd: app, timeout: 300_000 });

    w = await makeWorld('library');
    await putObjects(w.s3, w.bucket, [
      { key: 'lib/one.mp4', body: await uniqueValidVideo(1401) },
      { key: 'lib/two.mp4', body: await uniqueValidVideo(1402) },
    ]);
    const example = readmeExample();
    const code = example.replace("'s3://my-bucket/videos/'", `'s3://${w.bucket}/lib/'`).replace("'6650f1a2b3c4d5e6f7a8b9c0'", `'${w.indexId}'`);
    expect(code).not.toBe(example);
    expect(code).toContain(w.indexId);
    writeFileSync(join(app, 'example.mjs'), code);

    const child = spawn(process.execPath, ['example.mjs'], { cwd: app, env: { PATH: process.env['PATH'], ...w.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const result = await collect(child, 120_000);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toBe('to upload: 2');
    expect(lines.slice(1).map((l) => l.split(' ').slice(0, 2).join(' ')).sort()).toEqual(['lib/one.mp4 ready', 'lib/two.mp4 ready']);
    expect(w.sim.tasks(w.indexId)).toHaveLength(2);

    // Again: the index and the state hold both; nothing is sent, both still reported.
    const again = await collect(spawn(process.execPath, ['example.mjs'], { cwd: app, env: { PATH: process.env['PATH'], ...w.env }, stdio: ['ignore', 'pipe', 'pipe'] }), 120_000);
    expect({ code: again.code, first: again.stdout.split('\n')[0] }).toEqual({ code: 0, first: 'to upload: 0' });
    expect(w.sim.tasks(w.indexId)).toHaveLength(2);

    // The same code as TypeScript, checked against the installed package's declarations.
    writeFileSync(join(app, 'example.ts'), code);
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2023', module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, skipLibCheck: true, typeRoots: [join(ROOT, 'node_modules/@types')], types: ['node'] },
        files: ['example.ts'],
      }),
    );
    const tsc = await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', app], { cwd: app }).then(
      () => ({ code: 0, out: '' }),
      (error: { code?: number; stdout?: string }) => ({ code: error.code ?? 1, out: error.stdout ?? '' }),
    );
    expect(tsc).toEqual({ code: 0, out: '' });
    // A wrong option is a type error: the check can fail.
    writeFileSync(join(app, 'example.ts'), code.replace("wait: true", "wait: 'yes'"));
    await expect(run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', app], { cwd: app })).rejects.toMatchObject({ stdout: expect.stringMatching(/^example\.ts\(\d+,\d+\): error TS2322: Type 'string' is not assignable to type 'boolean/) });
  }, 600_000);
});
