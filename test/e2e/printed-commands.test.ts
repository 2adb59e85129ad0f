import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { printedCommands, runAllPrinted, tlmigrateBin, type PrintedRun } from '../helpers/printed-commands.js';
import { putObjects } from '../helpers/s3.js';
import { uniqueValidVideo, videoFixture } from '../helpers/videos.js';
import { makeWorld, type World } from '../helpers/world.js';

/**
 * Every command tlmigrate prints for the user to run next runs as printed, pasted into a shell:
 * quoted paths (a folder and files with spaces), the plan named, --state kept. Each output's
 * commands are found (test/helpers/printed-commands.ts), counted, and run with `sh -c` from the
 * folder the user was in; a usage or configuration error (exit 2) or an unknown command (127) fails.
 */
describe('printed commands run as printed', () => {
  let w: World;
  let bin: string;
  let dir: string;
  const cli = async (args: string[], cwd = dir) => {
    const result = await runCli(args, w.env, { cwd });
    expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBeLessThan(2);
    return result;
  };
  const ran = (runs: PrintedRun[]) => runs.map((r) => ({ command: r.command, code: r.code, stderr: r.code === 0 || r.code === 1 ? '' : r.stderr }));
  const allRan = (runs: PrintedRun[]) => runs.map((r) => ({ command: r.command, code: r.code === 0 || r.code === 1 ? 'ran' : r.code, stderr: r.code === 0 || r.code === 1 ? '' : r.stderr }));
  const run = (output: string, cwd = dir) => runAllPrinted(output, { cwd, env: w.env, bin });

  beforeAll(async () => {
    w = await makeWorld('printed');
    bin = tlmigrateBin();
    dir = join(w.dir, 'my run');
    mkdirSync(dir);
    // 22 sidecar files that --all-files sends to preflight, where each fails: more than status lists.
    const sidecars = Array.from({ length: 22 }, (_, i) => ({ key: `v/note ${String(i).padStart(2, '0')}.txt`, body: `note ${i}` }));
    const legacy = await uniqueValidVideo(1402);
    await putObjects(w.s3, w.bucket, [
      { key: 'v/a.mp4', body: await uniqueValidVideo(1401) },
      { key: 'v/legacy.mp4', body: legacy },
      { key: "v/it's broken.mp4", body: await videoFixture('random_bytes') },
      ...sidecars,
    ]);
    // Imported twice by an older tool: verify calls it duplicated, dedupe offers to delete a copy.
    for (const at of ['2026-01-01T00:00:00.000Z', '2026-01-02T00:00:00.000Z']) w.sim.seedVideo(w.indexId, { filename: 'legacy.mp4', size: legacy.length, createdAt: at });
  });
  afterAll(() => w?.close());

  it('plan, report, status, verify, dedupe: each printed command runs from where it was printed', async () => {
    const source = `s3://${w.bucket}/v/`;
    const planned = await cli(['plan', '--source', source, '--index', w.indexId, '--out', 'my plan.json', '--all-files']);
    expect(printedCommands(planned.stdout)).toEqual(["tlmigrate apply 'my plan.json'"]);
    const planReport = await cli(['report', 'my plan.json']);
    expect(printedCommands(planReport.stdout)).toEqual(["tlmigrate apply 'my plan.json'"]);

    // The apply the plan printed: it submits, and records the 22 sidecars as failed in preflight.
    expect(allRan(await run(planned.stdout))).toEqual([{ command: "tlmigrate apply 'my plan.json'", code: 'ran', stderr: '' }]);
    expect(allRan(await run(planReport.stdout))).toEqual([{ command: "tlmigrate apply 'my plan.json'", code: 'ran', stderr: '' }]);

    const status = await cli(['status']);
    expect(printedCommands(status.stdout)).toEqual(['tlmigrate status --json']);
    expect(ran(await run(status.stdout))).toEqual([{ command: 'tlmigrate status --json', code: 0, stderr: '' }]);

    // Right after apply without --wait, the state says "submitted": follow them; the sidecars need a fix.
    const early = await cli(['report', 'tlmigrate-state.json']);
    expect(printedCommands(early.stdout)).toEqual([
      'tlmigrate status --refresh --state tlmigrate-state.json',
      `tlmigrate plan --source ${source} --index ${w.indexId} --state tlmigrate-state.json`,
    ]);
    expect(allRan(await run(early.stdout))).toEqual(printedCommands(early.stdout).map((command) => ({ command, code: 'ran', stderr: '' })));

    // Followed to the end: the broken video failed on the platform (no reason given: retriable).
    await cli(['apply', 'my plan.json', '--wait', '--poll-interval', '0.2']);
    const late = await cli(['report', 'tlmigrate-state.json']);
    expect(printedCommands(late.stdout)).toEqual([
      "tlmigrate apply 'my plan.json' --retry-failed --state tlmigrate-state.json",
      `tlmigrate plan --source ${source} --index ${w.indexId} --state tlmigrate-state.json`,
      `tlmigrate verify --source ${source} --index ${w.indexId} --state tlmigrate-state.json`,
    ]);
    expect(allRan(await run(late.stdout))).toEqual(printedCommands(late.stdout).map((command) => ({ command, code: 'ran', stderr: '' })));

    const verified = await runCli(['verify', '--source', source, '--index', w.indexId], w.env, { cwd: dir });
    expect(verified.code, verified.stderr).toBe(1);
    const verifyCommands = printedCommands(verified.stdout);
    expect(verifyCommands).toEqual(expect.arrayContaining([`tlmigrate plan --source ${source} --index ${w.indexId}`, `tlmigrate dedupe --index ${w.indexId}`]));
    expect(allRan(await run(verified.stdout))).toEqual(verifyCommands.map((command) => ({ command, code: 'ran', stderr: '' })));

    // The two legacy copies share only a file name and size: reported, never deleted, so no delete command is offered.
    const dryRun = await cli(['dedupe', '--index', w.indexId]);
    expect(dryRun.stdout).toMatch(/same filename and size, no fingerprint: check by hand/);
    expect(printedCommands(dryRun.stdout)).toEqual([]);
    expect(w.sim.videos(w.indexId).filter((v) => v.meta.filename === 'legacy.mp4')).toHaveLength(2);
  });

  it("apply: the failures and --retry-failed hints run as printed, with the run's plan and state", async () => {
    const here = join(w.dir, 'apply hints');
    mkdirSync(here);
    await putObjects(w.s3, w.bucket, [{ key: 'h/good.mp4', body: await uniqueValidVideo(1501) }, { key: 'h/gone soon.mp4', body: await uniqueValidVideo(1502) }]);
    await cli(['plan', '--source', `s3://${w.bucket}/h/`, '--index', w.indexId, '--out', 'the plan.json', '--state', 'the state.json'], here);
    // Deleted after the plan: its item fails `source_missing` at apply.
    await w.s3.send(new DeleteObjectCommand({ Bucket: w.bucket, Key: 'h/gone soon.mp4' }));
    const applied = await cli(['apply', 'the plan.json', '--state', 'the state.json', '--wait', '--poll-interval', '0.2'], here);
    const commands = printedCommands(applied.stdout);
    expect(commands).toEqual(["tlmigrate logs --state 'the state.json'"]);
    expect(allRan(await run(applied.stdout, here))).toEqual(commands.map((command) => ({ command, code: 'ran', stderr: '' })));
    // A failure that is not the source's: the resubmit hint names the plan, the state and --wait.
    await putObjects(w.s3, w.bucket, [{ key: 'h/gone soon.mp4', body: await uniqueValidVideo(1502) }]);
    const again = await cli(['apply', 'the plan.json', '--state', 'the state.json', '--wait', '--poll-interval', '0.2'], here);
    expect(again.stdout).toMatch(/^See failures: tlmigrate logs --state 'the state\.json'$/m);
  });

  it('a state with a space in its name is kept in every printed command, and a stopped run is resumed with its plan', async () => {
    const other = join(w.dir, 'other run');
    mkdirSync(other);
    const source = `s3://${w.bucket}/v/`;
    const planned = await cli(['plan', '--source', source, '--index', w.indexId, '--out', 'q plan.json', '--state', 'my state.json', '--no-incremental', '--all-files'], other);
    expect(printedCommands(planned.stdout)).toEqual(["tlmigrate apply 'q plan.json' --state 'my state.json'"]);
    // A daily quota of 0: apply stops cleanly before submitting anything, so the items wait for a resume.
    w.sim.faults.set({ dailyQuota: { limit: 0 } });
    try {
      expect(allRan(await run(planned.stdout, other))).toEqual([{ command: "tlmigrate apply 'q plan.json' --state 'my state.json'", code: 'ran', stderr: '' }]);
      const status = await cli(['status', '--state', 'my state.json'], other);
      expect(printedCommands(status.stdout)).toEqual(["tlmigrate status --json --state 'my state.json'"]);
      expect(ran(await run(status.stdout, other))).toEqual([{ command: "tlmigrate status --json --state 'my state.json'", code: 0, stderr: '' }]);
      const report = await cli(['report', 'my state.json'], other);
      const commands = printedCommands(report.stdout);
      expect(commands[0]).toBe("tlmigrate apply 'q plan.json' --state 'my state.json'");
      expect(commands.every((c) => c.endsWith("--state 'my state.json'"))).toBe(true);
      expect(allRan(await run(report.stdout, other))).toEqual(commands.map((command) => ({ command, code: 'ran', stderr: '' })));
    } finally {
      w.sim.faults.reset();
    }
  });
});
