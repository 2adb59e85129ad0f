import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, open, readFile, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { StateFileError, errnoCode } from '../errors.js';
import { refuseUnsafePath, shellQuote } from './safe-file.js';

export interface LockInfo {
  pid: number;
  host: string;
  startedAt: string;
  command: string;
  /** Unique per acquisition, so no two lock files ever have the same content. */
  nonce?: string;
  /** The holder's boot and start time (Linux): a process that reuses a dead holder's pid is not taken for it. */
  proc?: string;
}

export interface StateLock {
  readonly path: string;
  release(): Promise<void>;
}

/** Looks at a lock at most this often before giving up on contenders that keep taking it. */
const MAX_ATTEMPTS = 40;

/**
 * One writer per state file. The lock is written complete under a temp name, then linked into
 * place: link(2) fails when the lock exists, so it is created exclusively and never seen
 * half-written. A lock whose process is gone (same host) is taken over through a token named
 * after that lock's content, itself linked exclusively: one contender wins it, and only the winner
 * removes the dead lock, after checking it is still the one it judged dead. Anything else refuses.
 */
export async function acquireLock(statePath: string, command: string): Promise<StateLock> {
  const path = `${statePath}.lock`;
  const proc = processIdentity(process.pid);
  const mine: LockInfo = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), command, nonce: randomUUID(), ...(proc ? { proc } : {}) };
  const content = JSON.stringify(mine);
  await refuseUnsafePath(path, 'lock file');
  const temp = `${path}.${process.pid}.${mine.nonce}.tmp`;
  await writeComplete(temp, content).catch((error: unknown) => {
    throw unwritable(path, error);
  });
  try {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (await linkExclusive(temp, path)) return held(path, content);
      const holder = await readHolder(path, statePath);
      if (holder === undefined) continue;
      refuseUnlessDead(holder.info, statePath, path);
      if (await takeOver(path, holder.raw, temp, statePath)) return held(path, content);
      // Another contender is taking the dead lock over: look again once it had time to.
      await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20));
    }
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  throw new StateFileError('state_locked', `could not lock state file ${statePath}: another tlmigrate keeps taking it; stop it first`);
}

/** Reads a lock file; undefined when it is gone. */
export async function readLock(path: string): Promise<LockInfo | undefined> {
  try {
    return parseLock(await readFile(path, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The lock's holder when it may still be running: alive on this host, or on another host (which cannot be checked from here). */
export async function liveHolder(statePath: string): Promise<LockInfo | undefined> {
  const info = await readLock(`${statePath}.lock`);
  return info && (info.host !== hostname() || holderAlive(info)) ? info : undefined;
}

function held(path: string, content: string): StateLock {
  return {
    path,
    release: async () => {
      const current = await readFile(path, 'utf8').catch(() => undefined);
      if (current === content) await unlink(path).catch(() => undefined);
    },
  };
}

/** Removes the dead lock `raw` and links ours in its place, if this process wins the takeover token. */
async function takeOver(path: string, raw: string, temp: string, statePath: string): Promise<boolean> {
  const token = `${path}.takeover-${createHash('sha256').update(raw).digest('hex').slice(0, 16)}`;
  if (!(await linkExclusive(temp, token))) {
    const taker = await readHolder(token, statePath);
    if (taker && taker.info.host === hostname() && !isAlive(taker.info.pid)) {
      throw new StateFileError(
        'state_locked',
        `a takeover of the lock of ${statePath} by pid ${taker.info.pid} was interrupted: make sure no tlmigrate uses it, then remove both files: rm ${shellQuote(path)} ${shellQuote(token)}`,
      );
    }
    return false;
  }
  try {
    const current = await readFile(path, 'utf8').catch(() => undefined);
    // The token holder alone may remove this content, and its owner is dead: if it is still there, it stays until we unlink it.
    if (current !== raw) return false;
    await unlink(path);
    // A contender arriving just now may link first: then it holds the lock, and we do not.
    return await linkExclusive(temp, path);
  } finally {
    await unlink(token).catch(() => undefined);
  }
}

function refuseUnlessDead(holder: LockInfo, statePath: string, path: string): void {
  const who = `pid ${holder.pid} on ${holder.host} (${holder.command}, started ${holder.startedAt})`;
  if (holder.host !== hostname()) {
    throw new StateFileError(
      'state_locked',
      `state file ${statePath} is locked by ${who}, another host, which this one cannot check: if no tlmigrate runs there any more, remove the lock: rm ${shellQuote(path)}`,
    );
  }
  if (holderAlive(holder)) throw new StateFileError('state_locked', `state file ${statePath} is in use by ${who}: wait for it, or stop it first`);
}

/** The lock's text and content; undefined when it vanished meanwhile. A lock that does not parse is never taken for dead. */
async function readHolder(path: string, statePath: string): Promise<{ raw: string; info: LockInfo } | undefined> {
  await refuseUnsafePath(path, 'lock file');
  let raw: string;
  try {
    raw = await readFile(path, 'utf8');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return undefined;
    throw unwritable(path, error);
  }
  const info = parseLock(raw);
  if (!info) {
    throw new StateFileError(
      'state_lock_damaged',
      `lock file ${path} is not a complete tlmigrate lock (empty or edited): make sure no tlmigrate uses ${statePath}, then remove it: rm ${shellQuote(path)}`,
    );
  }
  return { raw, info };
}

function parseLock(raw: string): LockInfo | undefined {
  try {
    const value = JSON.parse(raw) as Partial<LockInfo> | null;
    if (!value || !Number.isInteger(value.pid) || (value.pid ?? 0) <= 0 || typeof value.host !== 'string') return undefined;
    return {
      pid: value.pid as number,
      host: value.host,
      startedAt: String(value.startedAt ?? '?'),
      command: String(value.command ?? '?'),
      ...(value.nonce ? { nonce: value.nonce } : {}),
      ...(typeof value.proc === 'string' ? { proc: value.proc } : {}),
    };
  } catch {
    return undefined;
  }
}

async function writeComplete(path: string, content: string): Promise<void> {
  const handle = await open(path, 'wx', 0o600);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** link(2): fails with EEXIST when `to` exists, whatever it is (a symbolic link included). */
async function linkExclusive(from: string, to: string): Promise<boolean> {
  try {
    await link(from, to);
    return true;
  } catch (error) {
    if (errnoCode(error) === 'EEXIST') return false;
    throw unwritable(to, error);
  }
}

function unwritable(path: string, error: unknown): unknown {
  const code = errnoCode(error);
  if (code === undefined) return error;
  return new StateFileError('state_unwritable', `cannot create ${path} (${code}): run from a writable folder or pass --state PATH`, { cause: error });
}

/**
 * Whether the lock's holder still runs. Its pid alone is not enough: pids are reused (a busy
 * machine wraps 32,768 of them in minutes, a reboot starts again), so where the lock names the
 * holder's boot and start time, the process with that pid must have the same.
 */
function holderAlive(holder: LockInfo): boolean {
  if (!isAlive(holder.pid)) return false;
  if (holder.proc === undefined) return true;
  const now = processIdentity(holder.pid);
  return now === undefined || now === holder.proc;
}

/** `boot id:start time in clock ticks` of a process, from Linux's /proc; undefined where there is none. */
export function processIdentity(pid: number): string | undefined {
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'. Field 22 is the start time.
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    return boot && start ? `${boot}:${start}` : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoCode(error) === 'EPERM';
  }
}
