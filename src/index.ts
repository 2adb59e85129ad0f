/**
 * tlmigrate from Node code: the CLI's commands as typed functions, with the clients injected.
 *
 *   import { plan, apply } from 'tlmigrate';
 *   const planned = await plan({ source: 's3://my-bucket/videos/', index: INDEX_ID, out: 'plan.json' });
 *   const applied = await apply({ plan: 'plan.json', state: 'state.json', wait: true });
 *   for (const item of applied.items) console.log(item.key, item.status, item.taskId);
 *
 * Each function does what its command does (same checks, same files, same exactly-once protocol)
 * and prints nothing: errors are thrown as `TlmError` (with `code` and `exitCode`), results returned.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { runApply, type ApplyArgs, type ApplyOutcome } from './cli/apply-command.js';
import type { CommandDeps } from './cli/config.js';
import { DEFAULT_PLAN, DEFAULT_STATE, PLAN_DEFAULTS, RUN_FLAG_DEFAULTS, toApplyArgs } from './cli/options.js';
import { runPlan, type PlanArgs, type PlanOutcome } from './cli/plan-command.js';
import { runVerify, type VerifyArgs, type VerifyOutcome } from './cli/verify-command.js';
import { createLogger, type Logger } from './log.js';
import type { PlanItem } from './planner/index.js';
import { openPlanFile } from './planner/plan-file.js';
import { collectImportStatus, type ImportStatus } from './report/status-json.js';
import type { RunRecord } from './state/index.js';
import { requireStateView } from './cli/file-kind.js';

export { TlmError, ConfigError, PlanFileError, StateFileError, ApiError, TransportError, SourceError } from './errors.js';
export type { ApplyOutcome, FailureCounts } from './cli/apply-command.js';
export type { ItemResult, Left } from './executor/apply.js';
export type { ExecuteResult } from './executor/types.js';
export type { PlanOutcome } from './cli/plan-command.js';
export type { VerifyOutcome } from './cli/verify-command.js';
export type { VerifyResult } from './verify/index.js';
export type { PlanHeader, PlanItem, PlanSummary } from './planner/index.js';
export type { ImportStatus } from './report/status-json.js';
export type { ItemState, ItemStatus, RunRecord } from './state/index.js';

/** How a function reaches S3 and the Twelve Labs API. Everything is optional: the environment fills the rest. */
export interface Connection {
  /** Read for TWELVELABS_API_KEY, TWELVELABS_BASE_URL and AWS_* (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** The Twelve Labs API key (default TWELVELABS_API_KEY from `env`). */
  apiKey?: string;
  /** The API base URL ending in its version (default TWELVELABS_BASE_URL, else https://api.twelvelabs.io/v1.3). */
  apiUrl?: string;
  /** Your S3 client (credentials, region, endpoint as you configured them); default: the AWS default chain. */
  s3?: S3Client;
  /** The HTTP transport for the Twelve Labs API (default: the global fetch). */
  fetch?: typeof globalThis.fetch;
  /** Aborting it stops the work as Ctrl-C does: nothing new is sent, the state is checkpointed. */
  signal?: AbortSignal;
  /** Progress lines as the CLI shows them (default: none). */
  onProgress?: (line: string) => void;
  /** A pino logger (default: silent). */
  logger?: Logger;
}

export interface PlanInput extends Connection, Partial<Omit<PlanArgs, 'source' | 'index' | 'apiUrl'>> {
  /** s3://BUCKET[/PREFIX] */
  source: string;
  /** The index id. */
  index: string;
}

export interface PlanResult extends PlanOutcome {
  /** The plan's items, streamed from the plan file (one object per item, in plan order). */
  items(): AsyncIterable<PlanItem>;
}

/** `tlmigrate plan`: lists the source, reads the index and the state's ledger, writes the plan file. */
export async function plan(input: PlanInput): Promise<PlanResult> {
  const args: PlanArgs = {
    out: DEFAULT_PLAN,
    state: DEFAULT_STATE,
    ...PLAN_DEFAULTS,
    include: [],
    exclude: [],
    ...withoutConnection(input),
    apiUrl: input.apiUrl,
  };
  const outcome = await runPlan(args, deps(input));
  return { ...outcome, items: () => planItems(outcome.planFile) };
}

export interface ApplyInput extends Connection, Partial<Omit<ApplyArgs, 'apiUrl'>> {
  /** The plan file to apply. */
  plan: string;
}

/** `tlmigrate apply`: one task (or asset + indexed asset) per upload item, exactly once, resumable. */
export async function apply(input: ApplyInput): Promise<ApplyOutcome> {
  // The CLI's defaults, parsed as the CLI parses them, then what the caller chose.
  const defaults = toApplyArgs({ state: DEFAULT_STATE, metadata: [], 'video-stream': true, wait: false, 'retry-failed': false, ...RUN_FLAG_DEFAULTS }, input.plan);
  const args: ApplyArgs = { ...defaults, ...withoutConnection(input), apiUrl: input.apiUrl };
  return runApply(args, deps(input));
}

export interface StatusInput {
  /** The state file (default tlmigrate-state.json). */
  state?: string;
}

export interface StatusResult extends ImportStatus {
  source: string;
  indexId: string;
  runs: RunRecord[];
}

/** `tlmigrate status --json`: where every object stands, from the state file (nothing is sent). */
export async function status(input: StatusInput = {}): Promise<StatusResult> {
  const path = input.state ?? DEFAULT_STATE;
  const view = await requireStateView(path);
  try {
    const { header } = view;
    return { ...(await collectImportStatus(view.items())), source: header.source.uri, indexId: header.indexId, runs: header.runs };
  } finally {
    await view.close();
  }
}

export interface VerifyInput extends Connection, Partial<Omit<VerifyArgs, 'source' | 'index' | 'apiUrl'>> {
  source: string;
  index: string;
}

/** `tlmigrate verify`: the source against the index, trusting neither plan nor state. */
export async function verify(input: VerifyInput): Promise<VerifyOutcome> {
  return runVerify({ include: [], exclude: [], ...withoutConnection(input), apiUrl: input.apiUrl }, deps(input));
}

function deps(c: Connection): CommandDeps {
  const env = { ...(c.env ?? process.env), ...(c.apiKey ? { TWELVELABS_API_KEY: c.apiKey } : {}) };
  const line = c.onProgress;
  return {
    env,
    log: c.logger ?? createLogger({ level: 'silent' }),
    progress: { update: (text) => line?.(text), done: () => undefined },
    stop: c.signal ?? new AbortController().signal,
    s3: c.s3,
    fetch: c.fetch,
  };
}

/** The command's own arguments: the connection's fields removed, so none reaches the argument object. */
function withoutConnection<T extends Connection>(input: T): Omit<T, keyof Connection> {
  const { env: _env, apiKey: _apiKey, apiUrl: _apiUrl, s3: _s3, fetch: _fetch, signal: _signal, onProgress: _onProgress, logger: _logger, ...rest } = input;
  return rest;
}

async function* planItems(path: string): AsyncGenerator<PlanItem> {
  const reader = await openPlanFile(path);
  yield* reader.items();
}
