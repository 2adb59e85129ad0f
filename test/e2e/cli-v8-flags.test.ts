import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CLI } from '../helpers/cli.js';

const V8_FLAGS = fileURLToPath(new URL('../../dist/cli/v8-flags.js', import.meta.url));

/** The young generation's size after an allocation-heavy loop that keeps a third of what it makes. */
function newSpaceMiBAfterChurn(applyFlags: boolean): number {
  const script = `
    const v8 = await import('node:v8');
    if (${applyFlags}) (await import(${JSON.stringify(V8_FLAGS)})).applyCliV8Flags();
    const kept = [];
    for (let i = 0; i < 2e6; i++) { const o = { i, s: 'x' + i }; if (i % 3 === 0) kept.push(o); if (kept.length > 2e5) kept.length = 0; }
    const space = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    process.stdout.write(String(space.space_size / 2 ** 20));`;
  return Number(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }));
}

describe("the CLI's V8 settings (docs/benchmarks.md, \"The CLI's own memory\")", () => {
  it('keep the young generation at its initial size, where V8 alone grows it', () => {
    expect(newSpaceMiBAfterChurn(false)).toBeGreaterThan(4);
    expect(newSpaceMiBAfterChurn(true)).toBeLessThanOrEqual(2);
  });

  it('leave plan its growing young generation (it streams no video), and keep both for every other command', async () => {
    const { cliV8Flags } = (await import(pathToFileURL(V8_FLAGS).href)) as { cliV8Flags: (argv: string[]) => string[] };
    expect(cliV8Flags(['plan', '--source', 's3://b', '--index', 'i'])).toEqual(['--liftoff-only']);
    expect(cliV8Flags(['--json', 'plan'])).toEqual(['--liftoff-only']);
    // A global option's value is not the command.
    expect(cliV8Flags(['--log-level', 'debug', 'plan'])).toEqual(['--liftoff-only']);
    expect(cliV8Flags(['--log-file', 'plan', 'apply', 'p.json'])).toEqual(['--semi-space-growth-factor=1', '--liftoff-only']);
    expect(cliV8Flags(['--log-level=debug', 'plan'])).toEqual(['--liftoff-only']);
    for (const command of [['apply', '--plan', 'plan.json'], ['verify'], ['status'], []]) {
      expect(cliV8Flags(command)).toEqual(['--semi-space-growth-factor=1', '--liftoff-only']);
    }
  });

  it('are known to this node: nothing is printed about them', () => {
    const version = spawnSync(process.execPath, [CLI, '--version'], { encoding: 'utf8' });
    expect({ code: version.status, stderr: version.stderr }).toEqual({ code: 0, stderr: '' });
  });
});
