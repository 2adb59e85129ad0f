import { open } from 'node:fs/promises';
import { ConfigError, StateFileError } from '../errors.js';
import type { StateFile, StateView } from '../state/index.js';
import { DEFAULT_STATE } from './options.js';
import { commandPath, shellQuote } from './shell.js';

/** What a file holds, told by content (the name says nothing): a plan, a state, or neither/unreadable/missing. */
export async function fileKind(path: string): Promise<'plan' | 'state' | undefined> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const buffer = Buffer.alloc(64 * 1024);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    // Loaded only when there is a file to tell: a plan without a state file never loads the reports.
    const { detectInputKind } = await import('../report/index.js');
    return detectInputKind(buffer.subarray(0, bytesRead).toString('utf8'));
  } catch {
    return undefined;
  } finally {
    await handle.close();
  }
}

/** Refuses a state file given where a plan is expected (`apply state.json`). */
export async function requirePlanFile(path: string): Promise<void> {
  if ((await fileKind(path)) !== 'state') return;
  throw new ConfigError(
    'plan_is_state',
    `${path} is a state file, not a plan: pass the plan file tlmigrate plan wrote (e.g. tlmigrate apply plan.json --state ${shellQuote(commandPath(path))})`,
  );
}

/** Refuses a plan file given where a state file is expected (`status --state plan.json`). */
export async function requireStateFile(path: string | undefined): Promise<void> {
  if (path === undefined || (await fileKind(path)) !== 'plan') return;
  throw new ConfigError('state_is_plan', `--state ${path} is a plan file, not a state file: pass the state file apply writes (default ${DEFAULT_STATE}), or leave --state out`);
}

/** The state file, refused with one line when it is missing or is a plan. */
export async function requireState(path: string): Promise<StateFile> {
  await requireStateFile(path);
  const { loadState } = await import('../state/index.js');
  const state = await loadState(path);
  if (!state) throw missingState(path);
  return state;
}

/** The state file opened for reading (its items streamed, not held), refused as `requireState` refuses. */
export async function requireStateView(path: string): Promise<StateView> {
  await requireStateFile(path);
  const { openStateView } = await import('../state/index.js');
  const view = await openStateView(path);
  if (!view) throw missingState(path);
  return view;
}

function missingState(path: string): StateFileError {
  return new StateFileError('state_missing', `state file ${path} not found: run tlmigrate apply first, or pass --state`);
}
