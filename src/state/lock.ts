import { hostname } from 'node:os';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { StateFileError } from '../errors.js';

export interface LockInfo {
  pid: number;
  host: string;
  startedAt: string;
  command: string;
}

export interface StateLock {
  readonly path: string;
  release(): Promise<void>;
}

/**
 * One writer per state file: `STATE.lock` created exclusively, holding pid, host and start time.
 * A lock whose process is gone (same host) is taken over; any other lock refuses the run.
 */
export async function acquireLock(statePath: string, command: string): Promise<StateLock> {
  const path = `${statePath}.lock`;
  const mine: LockInfo = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), command };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o600);
      await handle.writeFile(JSON.stringify(mine));
      await handle.sync();
      await handle.close();
      return {
        path,
        release: async () => {
          const current = await readLock(path);
          if (current?.pid === mine.pid && current.startedAt === mine.startedAt) await unlink(path).catch(() => undefined);
        },
      };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EROFS' || code === 'ENOENT') {
        throw new StateFileError('state_unwritable', `cannot create ${path} (${code}): run from a writable folder or pass --state PATH`, { cause: error });
      }
      if (code !== 'EEXIST') throw error;
    }
    const holder = await readLock(path);
    if (holder && (holder.host !== hostname() || isAlive(holder.pid))) {
      throw new StateFileError(
        'state_locked',
        `state file ${statePath} is in use by pid ${holder.pid} on ${holder.host} (${holder.command}, started ${holder.startedAt}): wait for it, or stop it first`,
      );
    }
    // The holder is dead: move its lock aside atomically, then check we moved the dead one.
    const aside = `${path}.stale.${process.pid}`;
    try {
      await rename(path, aside);
    } catch {
      continue;
    }
    const moved = await readLock(aside);
    await unlink(aside).catch(() => undefined);
    if (moved && holder && moved.pid !== holder.pid) {
      throw new StateFileError('state_locked', `state file ${statePath} was just taken by pid ${moved.pid}: wait for it to finish`);
    }
  }
  throw new StateFileError('state_locked', `could not lock state file ${statePath}: another tlmigrate keeps taking it; stop it first`);
}

export async function readLock(path: string): Promise<LockInfo | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as LockInfo;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
