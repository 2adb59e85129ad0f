import { closeSync, constants, fstatSync, openSync, type Stats } from 'node:fs';
import { lstat, open, type FileHandle } from 'node:fs/promises';
import { UnsafePathError, errnoCode } from '../errors.js';

/**
 * Opening the files tlmigrate writes without following a symbolic link: a link planted where a
 * journal, lock or log should be would otherwise make tlmigrate truncate or append to any file the
 * user can write. Every file written is a regular file of ours, or it is refused with one line.
 */
const { O_WRONLY, O_CREAT, O_APPEND } = constants;
// Absent on Windows, where these attacks need other means; 0 keeps the flags valid there.
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
// A FIFO planted in place would block an open for writing forever; non-blocking opens fail instead.
const O_NONBLOCK = constants.O_NONBLOCK ?? 0;
const APPEND_FLAGS = O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK;

/** Refuses a path that exists and is a symbolic link, not a regular file, or another user's. A missing path is fine. */
export async function refuseUnsafePath(path: string, what: string): Promise<void> {
  let stats: Stats;
  try {
    stats = await lstat(path);
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ENOENT') return;
    throw new UnsafePathError('path_inaccessible', `cannot check ${what} ${path} (${code ?? 'error'}): check the permissions of its folder, or pass another path`, { cause: error });
  }
  checkStats(stats, path, what);
}

/** Opens (creating with `mode`) a file to append to, never through a symbolic link. */
export async function openAppendNoFollow(path: string, what: string, mode = 0o600): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(path, APPEND_FLAGS, mode);
  } catch (error) {
    throw openError(error, path, what);
  }
  try {
    checkStats(await handle.stat(), path, what);
  } catch (error) {
    await handle.close();
    throw error;
  }
  return handle;
}

/** The same, synchronously, as a file descriptor (for the log destination). */
export function openAppendNoFollowSync(path: string, what: string, mode = 0o600): number {
  let fd: number;
  try {
    fd = openSync(path, APPEND_FLAGS, mode);
  } catch (error) {
    throw openError(error, path, what);
  }
  try {
    checkStats(fstatSync(fd), path, what);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  return fd;
}

/** Empties an existing file, never through a symbolic link. ENOENT is thrown as is. */
export async function truncateNoFollow(path: string, what: string): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await open(path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (error) {
    throw openError(error, path, what);
  }
  try {
    checkStats(await handle.stat(), path, what);
    await handle.truncate(0);
  } finally {
    await handle.close();
  }
}

/** A path quoted for a POSIX shell, for the `rm` commands messages suggest. */
export function shellQuote(path: string): string {
  return /^[\w./@%+=:,-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`;
}

function checkStats(stats: Stats, path: string, what: string): void {
  if (stats.isSymbolicLink()) throw symlinkError(path, what);
  if (!stats.isFile()) throw new UnsafePathError('path_not_regular', `${what} ${path} is not a regular file: pass another path`);
  const uid = process.geteuid?.();
  // root may keep another user's files; anyone else writes only their own.
  if (uid !== undefined && uid !== 0 && stats.uid !== uid) {
    throw new UnsafePathError('path_not_owned', `${what} ${path} belongs to another user (uid ${stats.uid}): tlmigrate writes only files of its own user; pass another path`);
  }
}

function openError(error: unknown, path: string, what: string): unknown {
  const code = errnoCode(error);
  // O_NOFOLLOW on a link fails with ELOOP (EMLINK on the BSDs); a FIFO without a reader with ENXIO.
  if (code === 'ELOOP' || code === 'EMLINK') return symlinkError(path, what, error);
  if (code === 'ENXIO') return new UnsafePathError('path_not_regular', `${what} ${path} is not a regular file: pass another path`, { cause: error });
  return error;
}

function symlinkError(path: string, what: string, cause?: unknown): UnsafePathError {
  const message = `${what} ${path} is a symbolic link: tlmigrate never writes through one (it could point at any file); remove the link (rm ${shellQuote(path)}) or pass another path`;
  return new UnsafePathError('path_symlink', message, { cause });
}
