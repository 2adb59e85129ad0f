/**
 * `npm run bench:scale [-- --n 10000000 | --sizes 100000,1000000] [--phases plan,apply,status,report,verify,dedupe,kill]
 * [--kill-at 0.33] [--resume-items K] [--videos-ratio 0.5] [--ledger-ratio 0.2] [--timeout-min 60] [--dir DIR] [--keep] [--cli-heap]
 * [--state-layout auto|parts|one-file]`: tlmigrate
 * at millions of objects (issue 15). Synthetic objects go through the real code paths of plan,
 * apply, kill -9 during a checkpoint + resume (checked exactly once), status, report, verify --state and
 * dedupe (a dry run, over an index holding every object's video and task), against
 * in-process fakes (scripts/bench/scale-fakes.ts; no Ceph, no HTTP). Each phase runs in its own
 * child process (scale-phase.ts) so that its peak RSS is its own. Prints a table and, last, one line:
 *   scale: N objects, plan RSS X MiB, apply RSS Y MiB, resume start Z s, status RSS W MiB, report RSS V MiB
 * A phase that fails (out of memory, a refusal) is a row of the table, never the end of the run.
 * --videos-ratio R: the plan reads an index holding R x N of the objects (half with tlmigrate's
 * fingerprint, half legacy: file name and size); --ledger-ratio L: and a state whose ledger records
 * L x N of them (fingerprinted ones, at most half of N). Both default to 0 (an empty index and no state).
 * --state-layout: the state apply writes: as the CLI chooses (auto, the default: in parts past 100k
 * items), or forced in parts or in one file (the layout before issue 15's parts, for comparison).
 * --cli-heap: the plan child runs with node's own heap limit, as the CLI does (what users get), not
 * --max-old-space-size=16384 (under which V8 lets the heap, and RSS, run 2-2.5x the live heap).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ROOT, UsageError, intFlag, loadNote, log, machine, round, table, writeResults } from './common.js';

const PHASE_SCRIPT = join(ROOT, 'scripts', 'bench', 'scale-phase.ts');
const NODE_ARGS = ['--max-old-space-size=16384', '--import', 'tsx'];
/** `--cli-heap`: the plan child as the CLI runs, with node's default heap limit. */
const CLI_NODE_ARGS = ['--import', 'tsx'];
const planNodeArgs = () => (process.argv.includes('--cli-heap') ? CLI_NODE_ARGS : NODE_ARGS);
const DEFAULT_SIZES = [1_000_000, 3_000_000];
const PHASES = ['plan', 'apply', 'kill', 'status', 'report', 'verify', 'dedupe'] as const;
type Phase = (typeof PHASES)[number];

interface PhaseRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  wallMs: number;
  /** VmHWM the child reported at its end, else the highest one sampled from /proc while it ran. */
  peakKiB: number | undefined;
  result: Record<string, unknown> | undefined;
  stderrTail: string;
  killed?: { afterSubmitted: number; duringCheckpoint: boolean } | undefined;
}

interface Row {
  phase: string;
  n: number;
  run: PhaseRun;
  checkpoint?: string;
  resumeStart?: string;
  note: string;
}

const live = new Set<ChildProcess>();

function arg(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? undefined : process.argv[at + 1];
}

/** `--phases apply,status`: a subset (plan always runs: the others read its plan file; kill includes resume and the check). */
function phases(): Set<Phase> {
  const list = arg('phases');
  if (list === undefined) return new Set(PHASES);
  const chosen = list.split(',').map((p) => p.trim());
  const unknown = chosen.filter((p) => !PHASES.some((known) => known === p));
  if (unknown.length) throw new UsageError(`--phases: unknown phase '${unknown.join(', ')}': use some of ${PHASES.join(',')}`);
  return new Set(PHASES.filter((p) => chosen.includes(p)));
}

/** `--videos-ratio 0.5` / `--ledger-ratio 0.2` as hundredths of N, the unit of the fakes. */
function hundredths(name: 'videos-ratio' | 'ledger-ratio', max: number): number {
  const value = Number(arg(name) ?? 0);
  if (!(value >= 0 && value <= max)) throw new UsageError(`--${name} ${arg(name)} must be a share of N from 0 to ${max}, e.g. 0.5`);
  return Math.round(value * 100);
}

/** The plan's index and ledger, as flags of the seed and plan phases. */
function indexFlags(): string[] {
  const videos = hundredths('videos-ratio', 1);
  const ledger = hundredths('ledger-ratio', 0.5);
  if (ledger > 0 && ledger * 2 > videos) throw new UsageError(`--ledger-ratio ${arg('ledger-ratio')}: the ledger records fingerprinted videos, half of --videos-ratio at most: raise --videos-ratio to ${(ledger * 2) / 100} or more`);
  return ['--videos', String(videos), '--ledger', String(ledger)];
}

/** `--kill-at 0.33`: the share of N submitted before the kill step waits for a checkpoint to kill. */
function killFraction(): number {
  const killAt = Number(arg('kill-at') ?? 1 / 3);
  if (!(killAt >= 0 && killAt < 1)) throw new UsageError(`--kill-at ${arg('kill-at')} must be a fraction of N from 0 to below 1, e.g. 0.33`);
  return killAt;
}

/** `--state-layout L`, passed on to every apply child. */
function layoutFlags(): string[] {
  const layout = arg('state-layout');
  if (layout === undefined) return [];
  if (!['auto', 'parts', 'one-file'].includes(layout)) throw new UsageError(`--state-layout ${layout}: use auto, parts or one-file`);
  return ['--state-layout', layout];
}

function sizes(): number[] {
  const list = arg('sizes');
  if (list !== undefined) return list.split(',').map((s) => intFlag(s.trim(), 'sizes', 0));
  const n = arg('n');
  return n === undefined ? DEFAULT_SIZES : [intFlag(n, 'n', 0)];
}

/**
 * Runs one phase child, sampling its VmHWM every 200 ms (the figure when it dies without reporting).
 * `watch` sees each stderr line and may kill the child (by its PID).
 */
async function runPhase(args: string[], timeoutMs: number, watch?: (line: string, child: ChildProcess) => void): Promise<PhaseRun> {
  const started = performance.now();
  const nodeArgs = args[0] === 'plan' ? planNodeArgs() : NODE_ARGS;
  const child = spawn(process.execPath, [...nodeArgs, PHASE_SCRIPT, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let stdout = '';
  let stderr = '';
  let sampled = 0;
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
  child.stderr.on('data', (b: Buffer) => {
    const text = b.toString('utf8');
    stderr = (stderr + text).slice(-8000);
    if (watch) for (const line of text.split('\n')) if (line) watch(line, child);
  });
  const sampler = setInterval(() => {
    readFile(`/proc/${child.pid}/status`, 'utf8')
      .then((text) => (sampled = Math.max(sampled, Number(/VmHWM:\s+(\d+) kB/.exec(text)?.[1] ?? 0))))
      .catch(() => undefined);
  }, 200);
  const timer = setTimeout(() => kill(child), timeoutMs);
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => {
    child.on('error', () => done({ code: null, signal: null }));
    child.on('close', (c, s) => done({ code: c, signal: s }));
  });
  clearInterval(sampler);
  clearTimeout(timer);
  live.delete(child);
  const line = stdout.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
  const result = line ? (JSON.parse(line.slice('BENCH_RESULT '.length)) as Record<string, unknown>) : undefined;
  const reported = typeof result?.peakKiB === 'number' ? result.peakKiB : 0;
  return { code, signal, wallMs: performance.now() - started, peakKiB: Math.max(reported, sampled) || undefined, result, stderrTail: stderr.trim().split('\n').slice(-3).join(' | ') };
}

function kill(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null) return;
  try {
    process.kill(child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Why a phase failed, in one cell; undefined when it did not. */
function failure(run: PhaseRun): string | undefined {
  if (run.code === 0 && run.result) return undefined;
  const how = run.signal ? `killed by ${run.signal}` : `exit ${run.code}`;
  const oom = /heap out of memory|Invalid string length|Invalid array length|ERR_STRING_TOO_LONG/.exec(run.stderrTail);
  return `FAILED (${how}${oom ? `: ${oom[0]}` : ''}): ${run.stderrTail.slice(0, 300)}`;
}

const secs = (ms: unknown) => (typeof ms === 'number' ? `${(ms / 1000).toFixed(1)} s` : '-');
const mibOf = (kib: number | undefined) => (kib === undefined ? undefined : round(kib / 1024, 0));

/**
 * The kill step: an apply on a fresh state, SIGKILLed once a third of the objects are submitted and
 * the store is writing a checkpoint (`STATE.journal.next` exists only while one is written).
 */
async function killDuringCheckpoint(n: number, plan: string, state: string, tasks: string, timeoutMs: number): Promise<PhaseRun> {
  const killAt = killFraction();
  let submitted = 0;
  let armed = false;
  let killed: PhaseRun['killed'];
  const run = await runPhase(['apply', '--n', String(n), '--plan', plan, '--state', state, '--tasks', tasks, ...layoutFlags()], timeoutMs, (line, child) => {
    const m = /^progress submitted (\d+)/.exec(line);
    if (m) submitted = Number(m[1]);
    if (armed || submitted < n * killAt) return;
    armed = true;
    const poll = setInterval(() => {
      if (child.exitCode !== null || child.signalCode !== null) return clearInterval(poll);
      if (!existsSync(`${state}.journal.next`)) return;
      clearInterval(poll);
      kill(child);
      killed = { afterSubmitted: submitted, duringCheckpoint: true };
    }, 2);
  });
  return { ...run, killed };
}

async function benchSize(n: number, base: string, timeoutMs: number, only: Set<Phase>): Promise<Row[]> {
  const dir = await mkdtemp(join(base, `tlm-bench-scale-n${n}-`));
  const plan = join(dir, 'plan.json');
  const rows: Row[] = [];
  const add: AddRow = (phase, run, extra = {}) => {
    const row: Row = { phase, n, run, note: (extra.asIs ? extra.note : failure(run) ?? extra.note) ?? '', ...(extra.checkpoint ? { checkpoint: extra.checkpoint } : {}), ...(extra.resumeStart ? { resumeStart: extra.resumeStart } : {}) };
    rows.push(row);
    log(`N=${n.toLocaleString('en-US')} ${phase}: peak RSS ${mibOf(run.peakKiB) ?? '-'} MiB, ${secs(run.wallMs)}${row.note ? `; ${row.note}` : ''}`);
  };
  const phase = (...args: string[]) => runPhase(args, timeoutMs);
  const N = String(n);

  const index = indexFlags();
  const ledgerState = join(dir, 'ledger-state.json');
  if (index[3] !== '0') {
    const seeded = await phase('seed', '--n', N, '--state', ledgerState, ...index);
    if (failure(seeded)) {
      add('seed', seeded);
      return rows;
    }
  }
  const planned = await phase('plan', '--n', N, '--plan', plan, ...index, ...(index[3] !== '0' ? ['--state', ledgerState] : []));
  add('plan', planned, { note: planned.result ? planNote(planned.result) : '' });
  if (failure(planned)) return rows;

  const applyDir = join(dir, 'apply');
  await mkdir(applyDir);
  const state = join(applyDir, 'state.json');
  // status, report, verify --state and dedupe --state read the state apply leaves.
  const applied = (['apply', 'status', 'report', 'verify', 'dedupe'] as const).some((p) => only.has(p)) ? await phase('apply', '--n', N, '--plan', plan, '--state', state, '--tasks', join(applyDir, 'tasks.log'), ...layoutFlags()) : undefined;
  if (applied) applyRow(applied, add);
  if (applied && !failure(applied)) {
    if (only.has('status')) {
      add('status', await phase('status', '--state', state));
      add('status --json', await phase('status', '--state', state, '--json'));
    }
    if (only.has('report')) {
      const reported = await phase('report', '--state', state, '--out', join(applyDir, 'report.html'));
      add('report', reported, reported.result ? { note: `html ${round(Number(reported.result.reportBytes) / 1024, 0)} KiB` } : {});
    }
    // Against the index after the migration (every object's video, half of them legacy), with apply's state.
    if (only.has('verify')) {
      const verified = await phase('verify', '--n', N, '--state', state);
      add('verify --state', verified, verified.result ? { note: `indexed ${String(verified.result.indexed)}, missing ${String(verified.result.missing)}, GETs ${String(verified.result.metadataFetches)}` } : {});
    }
    if (only.has('dedupe')) {
      const deduped = await phase('dedupe', '--n', N, '--state', state);
      add('dedupe (dry run)', deduped, deduped.result ? { note: `groups ${String(deduped.result.groups)}, GETs ${String(deduped.result.metadataFetches)}` } : {});
    }
  }
  // Last: the longest step, and the one a time-boxed run can most afford to lose.
  if (only.has('kill')) await killAndResume(n, dir, plan, timeoutMs, add);
  if (!process.argv.includes('--keep')) await rm(dir, { recursive: true, force: true });
  else log(`kept ${dir}`);
  return rows;
}

function planNote(result: Record<string, unknown>): string {
  const counts = result.counts as Record<string, number>;
  const index = Number(result.videos) > 0 ? `, index ${String(result.videos)}% of N, ledger ${String(result.ledger)}%` : '';
  return `plan file ${round(Number(result.planBytes) / 2 ** 20, 0)} MiB${index}: upload ${counts.upload}, skip ${counts.skip}, fail ${counts.fail}`;
}

/** Adds a row; `asIs` keeps the note even though the run did not end well (the kill step's child). */
type AddRow = (phase: string, run: PhaseRun, extra?: Partial<Row> & { asIs?: boolean }) => void;

function applyRow(applied: PhaseRun, add: AddRow): void {
  const r = applied.result;
  add('apply', applied, r ? { checkpoint: `${secs(r.checkpointMs)} (x${String(r.checkpoints)})`, note: `${String((r.result as { submitted: number }).submitted)} submitted, state ${round(Number(r.stateBytes) / 2 ** 20, 0)} MiB ${r.layout === 'parts' ? `in ${String(r.parts)} parts` : 'in one file'}, outcome ${String(r.outcome)}` } : {});
}

/** kill -9 during a checkpoint, resume, and the exactly-once check. */
async function killAndResume(n: number, dir: string, plan: string, timeoutMs: number, add: AddRow): Promise<void> {
  const phase = (...args: string[]) => runPhase(args, timeoutMs);
  const N = String(n);
  const killDir = join(dir, 'kill');
  await mkdir(killDir);
  const killState = join(killDir, 'state.json');
  const killTasks = join(killDir, 'tasks.log');
  const killed = await killDuringCheckpoint(n, plan, killState, killTasks, timeoutMs);
  const killNote = killed.killed ? `SIGKILL during a checkpoint after ${killed.killed.afterSubmitted} submitted` : (failure(killed) ?? 'ran to the end: no checkpoint was caught');
  add('kill', killed, { asIs: true, note: killed.killed ? killNote : `NOT KILLED: ${killNote}` });
  // --resume-items K: the resume stops cleanly after K new items (a time-boxed run), and the check is partial.
  const resumeItems = arg('resume-items');
  const budget = resumeItems === undefined ? [] : ['--max-items', String(intFlag(resumeItems, 'resume-items', 1))];
  const resumed = await phase('apply', '--n', N, '--plan', plan, '--state', killState, '--tasks', killTasks, ...budget, ...layoutFlags());
  const rr = resumed.result;
  add('resume', resumed, rr ? { resumeStart: `${secs(rr.openMs)} (merged ${secs(rr.startedMs)})`, checkpoint: `${secs(rr.checkpointMs)} (x${String(rr.checkpoints)})`, note: `${String((rr.result as { submitted: number }).submitted)} submitted, ${String((rr.result as { reconciled: number }).reconciled)} reconciled` } : {});
  const checked = await phase('check', '--n', N, '--state', killState, '--tasks', killTasks, ...(resumeItems === undefined ? [] : ['--partial']));
  const c = checked.result;
  const counts = c?.partial
    ? `${String(c.tasks)} tasks so far, ${String(c.objectsWithMoreThanOneTask)} objects with 2+, ${String(c.tasksTheStateDoesNotRecord)} tasks the state does not record, ${String(c.stateTaskIdsTheApiNeverCreated)} unknown task ids`
    : `${String(c?.tasks)} tasks, ${String(c?.objectsWithMoreThanOneTask)} objects with 2+, ${String(c?.objectsWithoutTask)} without, ${String(c?.distinctTaskIdsInState)} distinct task ids in the state`;
  add('check', checked, c ? { note: `${c.ok ? 'EXACTLY ONCE' : 'NOT EXACTLY ONCE'}${c.partial ? ' (so far)' : ''}: ${counts}` } : {});
}

function printTable(rows: Row[]): void {
  const body = rows.map((row) => [row.phase, row.n.toLocaleString('en-US'), mibOf(row.run.peakKiB) ?? '-', secs(row.run.wallMs), row.checkpoint ?? '-', row.resumeStart ?? '-', row.note]);
  process.stdout.write(table([['phase', 'N', 'peak RSS MiB', 'wall', 'checkpoint cost', 'resume start (load + replay)', 'note'], ...body]));
}

function summaryLine(rows: Row[]): string {
  const n = Math.max(...rows.map((r) => r.n));
  const of = (phase: string) => rows.find((r) => r.n === n && r.phase === phase);
  const rss = (phase: string) => {
    const row = of(phase);
    if (!row) return 'not run';
    return failure(row.run) ? `FAILED (${mibOf(row.run.peakKiB) ?? '?'} MiB at the end)` : `${mibOf(row.run.peakKiB) ?? '?'} MiB`;
  };
  const resume = of('resume');
  const start = !resume ? 'not run' : resume.run.result && !failure(resume.run) ? `${(Number(resume.run.result.openMs) / 1000).toFixed(1)} s` : 'FAILED';
  return `scale: ${n} objects, plan RSS ${rss('plan')}, apply RSS ${rss('apply')}, resume start ${start}, status RSS ${rss('status')}, report RSS ${rss('report')}`;
}

async function main(): Promise<number> {
  const list = sizes();
  const only = phases();
  killFraction();
  indexFlags();
  if (arg('resume-items') !== undefined) intFlag(arg('resume-items'), 'resume-items', 1);
  const timeoutMs = intFlag(arg('timeout-min'), 'timeout-min', 60) * 60_000;
  const base = arg('dir') ?? tmpdir();
  await mkdir(base, { recursive: true });
  const onSignal = () => {
    for (const child of live) kill(child);
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  log(`bench:scale at N = ${list.map((n) => n.toLocaleString('en-US')).join(', ')}; children run node ${NODE_ARGS.join(' ')}${planNodeArgs() === NODE_ARGS ? '' : `, the plan child node ${CLI_NODE_ARGS.join(' ')} (--cli-heap)`}`);
  const rows: Row[] = [];
  // The fixed cost of a phase child (node, tsx, the modules): a plan of one object.
  const baseline = await runPhase(['plan', '--n', '1', '--plan', join(base, `tlm-bench-scale-baseline-${process.pid}.json`)], timeoutMs);
  await rm(join(base, `tlm-bench-scale-baseline-${process.pid}.json`), { force: true });
  rows.push({ phase: 'baseline (plan of 1)', n: 1, run: baseline, note: failure(baseline) ?? 'node + tsx + the modules' });
  for (const n of list) {
    rows.push(...(await benchSize(n, base, timeoutMs, only).catch((error: unknown) => {
      log(`N=${n}: the bench itself failed: ${error instanceof Error ? error.message : String(error)}`);
      return [] as Row[];
    })));
  }
  const note = loadNote();
  const file = await writeResults(`scale-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, { machine: machine(), rows: rows.map((r) => ({ phase: r.phase, n: r.n, peakMiB: mibOf(r.run.peakKiB), wallMs: round(r.run.wallMs, 0), code: r.run.code, signal: r.run.signal, result: r.run.result ?? null, killed: r.run.killed ?? null, note: r.note })) });
  log(`results: ${file}`);
  printTable(rows);
  if (note.warning) process.stdout.write(`${note.warning}\n`);
  if (rows.length) process.stdout.write(`${summaryLine(rows)}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`bench:scale: ${error.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`bench:scale: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
