import { unlinkSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { refuseUnsafePath } from './safe-file.js';

/** Temp files being written: removed even when the process exits or is killed by a signal mid-write. */
const liveTemps = new Set<string>();
let hooksInstalled = false;

function removeLiveTemps(): void {
  for (const path of liveTemps) {
    try {
      unlinkSync(path);
    } catch {
      // Already gone.
    }
  }
  liveTemps.clear();
}

function trackTemp(temp: string): void {
  liveTemps.add(temp);
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', removeLiveTemps);
  for (const name of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    // Only where nobody else handles the signal (apply and plan do, and finish their writes): clean up, then die of it as before.
    const onSignal = () => {
      if (process.listenerCount(name) > 1) return;
      removeLiveTemps();
      process.off(name, onSignal);
      process.kill(process.pid, name);
    };
    process.on(name, onSignal);
  }
}

/**
 * Writes a file so that readers see either the old content or the whole new one: a temp file in
 * the same folder, fsync, rename, fsync of the folder. Created 0600: plans and state are private.
 * A symbolic link (or anything but a regular file of ours) at `path` is refused, not replaced.
 */
export async function writeFileAtomic(path: string, content: string | AsyncIterable<string>, mode = 0o600, what = 'file'): Promise<void> {
  await refuseUnsafePath(path, what);
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const handle = await open(temp, 'wx', mode);
  trackTemp(temp);
  try {
    try {
      if (typeof content === 'string') await handle.writeFile(content, 'utf8');
      else {
        let buffer = '';
        for await (const chunk of content) {
          buffer += chunk;
          if (buffer.length >= 1 << 20) {
            await handle.write(buffer, null, 'utf8');
            buffer = '';
          }
        }
        if (buffer) await handle.write(buffer, null, 'utf8');
      }
      await handle.sync();
      await handle.close();
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error;
    }
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  } finally {
    liveTemps.delete(temp);
  }
  await fsyncDir(dirname(path));
}

async function fsyncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Some filesystems refuse fsync on a directory; the rename itself is still atomic.
  }
}
