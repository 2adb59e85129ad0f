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
  summarizeRunStream,
  type ReportFormat,
  type ReportOptions,
  type ReportRow,
} from '../report/index.js';
import { openPlanFile, openStateView, writeFileAtomic, type StateHeader, type StateView } from '../state/index.js';
import { streamSink } from '../report/text-sink.js';
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
  const view = kind === 'state' ? await readState(args.input) : undefined;
  try {
    if (view) {
      const plan = await findAppliedPlan(view.header, args.input);
      chunks = await fromState(view, commandPath(args.input), format, { ...options, planFile: plan === undefined ? undefined : commandPath(plan) });
    } else chunks = await fromPlan(args.input, format, { ...options, planFile: commandPath(args.input) });
    if (args.out) {
      await writeFileAtomic(args.out, chunks, 0o644, 'report').catch((error: NodeJS.ErrnoException) => {
        if (error instanceof TlmError || !error.code) throw error;
        throw new ConfigError('report_unwritable', `cannot write report ${args.out} (${error.code}): choose a writable --out path`, { cause: error });
      });
    } else await writeAll(stdout, chunks);
  } finally {
    await view?.close();
  }
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

/** A state's report: its items streamed from the file (a CSV row each, or counted into the summary), never held. */
async function fromState(view: StateView, path: string, format: ReportFormat, options: ReportOptions): Promise<AsyncIterable<string>> {
  const bucket = view.header.source.bucket;
  if (format === 'csv') {
    return renderRows(
      (async function* (): AsyncGenerator<ReportRow> {
        for await (const [, item] of view.items()) yield stateItemRow(bucket, item);
      })(),
    );
  }
  return asAsync(renderSummary(await summarizeRunStream(view.header, view.items(), path, options), format));
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

async function readState(path: string): Promise<StateView> {
  const view = await openStateView(path);
  if (!view) throw new ConfigError('report_input_missing', `${path} not found: pass a plan file or a state file`);
  return view;
}

/**
 * The plan last applied to a state, for the commands a run report prints: the one its last run
 * recorded, else a plan with the same planId next to the state file or in the current folder.
 */
async function findAppliedPlan(state: StateHeader, statePath: string): Promise<string | undefined> {
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
  const out = streamSink(stream);
  for await (const chunk of chunks) {
    if (out.gone) return;
    await out.write(chunk);
  }
  await out.flush();
}
