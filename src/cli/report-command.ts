import { open, readdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { ConfigError, TlmError, errnoCode } from '../errors.js';
import {
  detectInputKind,
  formatFromFileName,
  planItemRow,
  renderRows,
  renderSummary,
  stateItemRow,
  summarizePlan,
  summarizeRun,
  type ReportFormat,
  type ReportOptions,
  type ReportRow,
} from '../report/index.js';
import { loadState, openPlanFile, writeFileAtomic, type StateFile } from '../state/index.js';
import { commandPath } from './shell.js';

export interface ReportArgs {
  input: string;
  format?: ReportFormat | undefined;
  out?: string | undefined;
  maxRpm?: number | undefined;
  maxKeys: number;
}

export interface ReportOutcome {
  kind: 'plan' | 'state';
  format: ReportFormat;
  out?: string | undefined;
}

/** Reads a plan or a state file, renders it, and writes it to `--out` (atomically) or to `stdout`. */
export async function runReport(args: ReportArgs, stdout: NodeJS.WritableStream): Promise<ReportOutcome> {
  if (args.maxRpm !== undefined && (!Number.isFinite(args.maxRpm) || args.maxRpm <= 0)) {
    throw new ConfigError('max_rpm_invalid', `--max-rpm ${args.maxRpm} must be a positive number of requests per minute`);
  }
  if (!Number.isInteger(args.maxKeys) || args.maxKeys < 0) throw new ConfigError('max_keys_invalid', `--max-keys ${args.maxKeys} must be a whole number (0 keeps every key)`);
  if (args.out && resolve(args.out) === resolve(args.input)) {
    throw new ConfigError('report_out_is_input', `--out ${args.out} is the file being reported on: choose another name, e.g. report.html`);
  }
  const format = args.format ?? (args.out ? formatFromFileName(args.out) : undefined) ?? 'text';
  const kind = await detect(args.input);
  const options: ReportOptions = { maxKeys: args.maxKeys, maxRpm: args.maxRpm, generatedAt: new Date().toISOString() };
  let chunks: AsyncIterable<string>;
  if (kind === 'plan') chunks = await fromPlan(args.input, format, { ...options, planFile: commandPath(args.input) });
  else {
    const state = await readState(args.input);
    const plan = await findAppliedPlan(state, args.input);
    chunks = fromState(state, commandPath(args.input), format, { ...options, planFile: plan === undefined ? undefined : commandPath(plan) });
  }
  if (args.out) {
    await writeFileAtomic(args.out, chunks, 0o644, 'report').catch((error: NodeJS.ErrnoException) => {
      if (error instanceof TlmError || !error.code) throw error;
      throw new ConfigError('report_unwritable', `cannot write report ${args.out} (${error.code}): choose a writable --out path`, { cause: error });
    });
  } else await writeAll(stdout, chunks);
  return { kind, format, out: args.out };
}

async function fromPlan(path: string, format: ReportFormat, options: ReportOptions): Promise<AsyncIterable<string>> {
  const plan = await openPlanFile(path);
  const bucket = plan.header.source.bucket;
  if (format === 'csv') {
    return renderRows(
      (async function* (): AsyncGenerator<ReportRow> {
        for await (const item of plan.items()) yield planItemRow(bucket, item);
      })(),
    );
  }
  return asAsync(renderSummary(await summarizePlan(plan.header, plan.summary, plan.items(), options), format));
}

function fromState(state: StateFile, path: string, format: ReportFormat, options: ReportOptions): AsyncIterable<string> {
  if (format === 'csv') {
    return renderRows(
      (function* (): Generator<ReportRow> {
        for (const item of Object.values(state.items)) yield stateItemRow(state.source.bucket, item);
      })(),
    );
  }
  return asAsync(renderSummary(summarizeRun(state, path, options), format));
}

async function* asAsync(chunks: Iterable<string>): AsyncGenerator<string> {
  yield* chunks;
}

/** Plan or state, by content (the file name says nothing). */
async function detect(path: string): Promise<'plan' | 'state'> {
  let head: string;
  try {
    const handle = await open(path, 'r');
    try {
      const buffer = Buffer.alloc(1 << 20);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      head = buffer.subarray(0, bytesRead).toString('utf8');
    } finally {
      await handle.close();
    }
  } catch (error) {
    const code = errnoCode(error);
    throw new ConfigError(
      'report_input_missing',
      code === 'ENOENT' ? `${path} not found: pass a plan file (tlmigrate plan --out FILE) or a state file (tlmigrate-state.json)` : `cannot read ${path} (${code}): check its permissions`,
      { cause: error },
    );
  }
  const kind = detectInputKind(head);
  if (!kind) throw new ConfigError('report_input_unknown', `${path} is neither a tlmigrate plan nor a state file: pass the file tlmigrate plan wrote, or tlmigrate-state.json`);
  return kind;
}

async function readState(path: string): Promise<StateFile> {
  const state = await loadState(path);
  if (!state) throw new ConfigError('report_input_missing', `${path} not found: pass a plan file or a state file`);
  return state;
}

/**
 * The plan last applied to a state, for the commands a run report prints: the one its last run
 * recorded, else a plan with the same planId next to the state file or in the current folder.
 */
async function findAppliedPlan(state: StateFile, statePath: string): Promise<string | undefined> {
  const planId = state.lastPlan?.planId;
  if (!planId) return undefined;
  const recorded = state.runs.at(-1)?.plan;
  const candidates = [...(recorded ? [recorded] : []), ...(await jsonFiles(dirname(resolve(statePath)))), ...(await jsonFiles(process.cwd()))];
  for (const path of new Set(candidates)) {
    if (resolve(path) !== resolve(statePath) && (await headOf(path, 64 * 1024)).includes(`"planId":${JSON.stringify(planId)}`)) return path;
  }
  return undefined;
}

async function jsonFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => []);
  return names.filter((name) => name.endsWith('.json')).slice(0, 200).map((name) => join(dir, name));
}

async function headOf(path: string, bytes: number): Promise<string> {
  const handle = await open(path, 'r').catch(() => undefined);
  if (!handle) return '';
  try {
    const buffer = Buffer.alloc(bytes);
    const { bytesRead } = await handle.read(buffer, 0, bytes, 0);
    return buffer.subarray(0, bytesRead).toString('utf8');
  } catch {
    return '';
  } finally {
    await handle.close();
  }
}

/** Writes with backpressure; a reader that goes away (`| head`) ends the report quietly. */
async function writeAll(stream: NodeJS.WritableStream, chunks: AsyncIterable<string>): Promise<void> {
  let gone = false;
  // Stays attached: a late EPIPE after the last write must not become an unhandled 'error'.
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') gone = true;
  });
  try {
    for await (const chunk of chunks) {
      if (gone) return;
      if (!stream.write(chunk)) {
        await new Promise<void>((resolveWait) => {
          const done = () => {
            stream.off('drain', done);
            stream.off('close', done);
            stream.off('error', done);
            resolveWait();
          };
          stream.on('drain', done);
          stream.on('close', done);
          stream.on('error', done);
        });
      }
    }
  } catch (error) {
    if (errnoCode(error) !== 'EPIPE') throw error;
  }
}
