import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { putObjects } from '../helpers/s3.js';
import { uniqueValidVideo } from '../helpers/videos.js';
import { makeWorld, type World } from '../helpers/world.js';

describe('apply refuses bad input with one line, exit 2, and nothing done', () => {
  let w: World;
  let planFile: string;
  beforeAll(async () => {
    w = await makeWorld('apply-errors');
    await putObjects(w.s3, w.bucket, [{ key: 'x/one.mp4', body: await uniqueValidVideo(501) }]);
    planFile = join(w.dir, 'plan.json');
    const result = await runCli(['plan', '--source', `s3://${w.bucket}`, '--index', w.indexId, '--out', planFile], w.env);
    expect(result.code).toBe(0);
  });
  afterAll(() => w?.close());

  const cases: Array<[string, string[], RegExp]> = [
    ['concurrency 0', ['--concurrency', '0'], /--concurrency 0 is out of range: use a whole number from 1 to 64/],
    ['presign 8d', ['--presign-expires', '8d'], /--presign-expires 8d is out of range: S3 presigned URLs last 1m to 7d/],
    ['presign garbage', ['--presign-expires', 'soon'], /--presign-expires 'soon' is not a duration/],
    ['reserved metadata', ['--metadata', 'duration=3'], /key 'duration' is a system metadata name/],
    ['tlm_ metadata', ['--metadata', 'tlm_source=x'], /tlm_\* keys are tlmigrate's own fingerprint/],
    ['metadata without =', ['--metadata', 'oops'], /--metadata 'oops' is not KEY=VALUE/],
    ['max-rpm negative', ['--max-rpm', '-5'], /--max-rpm -5 must be a positive number/],
  ];
  for (const [name, flags, message] of cases) {
    it(name, async () => {
      const state = join(w.dir, `state-${name.replace(/\W+/g, '-')}.json`);
      const result = await runCli(['apply', planFile, '--state', state, ...flags], w.env);
      expect(result.code).toBe(2);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(message);
      expect(existsSync(state)).toBe(false);
      expect(w.sim.counts().tasksCreated).toBe(0);
    });
  }

  it('nested --metadata-json is refused', async () => {
    const file = join(w.dir, 'meta.json');
    writeFileSync(file, JSON.stringify({ project: 'a', nested: { b: 1 } }));
    const result = await runCli(['apply', planFile, '--state', join(w.dir, 's-nested.json'), '--metadata-json', file], w.env);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/key 'nested' holds object: only strings, numbers and booleans/);
  });

  it('a truncated plan, a plan of another version and a missing plan are refused', async () => {
    const text = readFileSync(planFile, 'utf8');
    const truncated = join(w.dir, 'truncated.json');
    writeFileSync(truncated, text.slice(0, Math.floor(text.length * 0.6)));
    const future = join(w.dir, 'future.json');
    writeFileSync(future, text.replace('"version":1', '"version":99'));
    for (const [file, message] of [
      [truncated, /is not valid JSON \(truncated or edited\?\): re-run tlmigrate plan/],
      [future, /has version 99; this tlmigrate reads version 1/],
      [join(w.dir, 'nope.json'), /not found: run tlmigrate plan --out/],
    ] as const) {
      const result = await runCli(['apply', file, '--state', join(w.dir, 's-plan.json')], w.env);
      expect(result.code).toBe(2);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(message);
    }
    expect(existsSync(join(w.dir, 's-plan.json'))).toBe(false);
  });

  it('a corrupt state file is refused and left byte-identical', async () => {
    const state = join(w.dir, 'corrupt.json');
    writeFileSync(state, '{"version":1,"items":{');
    const result = await runCli(['apply', planFile, '--state', state], w.env);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/is not valid JSON: it was left untouched/);
    expect(readFileSync(state, 'utf8')).toBe('{"version":1,"items":{');
  });

  it('a state of another index is refused; an older plan than the last applied is stale', async () => {
    const state = join(w.dir, 'shared-state.json');
    const newer = join(w.dir, 'newer.json');
    await runCli(['plan', '--source', `s3://${w.bucket}`, '--index', w.indexId, '--out', newer], w.env);
    const applied = await runCli(['apply', newer, '--state', state], w.env);
    expect(applied.code).toBe(0);
    const stale = await runCli(['apply', planFile, '--state', state], w.env);
    expect(stale.code).toBe(2);
    expect(stale.stderr).toMatch(/is older than the plan last applied .*: re-run tlmigrate plan/);

    const other = w.sim.createIndex({ name: 'other' });
    const otherPlan = join(w.dir, 'other.json');
    await runCli(['plan', '--source', `s3://${w.bucket}`, '--index', other.id, '--out', otherPlan, '--state', join(w.dir, 'unused.json')], w.env);
    const foreign = await runCli(['apply', otherPlan, '--state', state], w.env);
    expect(foreign.code).toBe(2);
    expect(foreign.stderr).toMatch(new RegExp(`belongs to s3://${w.bucket} -> index ${w.indexId}, not s3://${w.bucket} -> index ${other.id}: pass another --state`));
    expect(w.sim.counts().tasksCreated).toBe(1);
  });
});
