import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Writes a file so that readers see either the old content or the whole new one: a temp file in
 * the same folder, fsync, rename, fsync of the folder. Created 0600: plans and state are private.
 */
export async function writeFileAtomic(path: string, content: string | AsyncIterable<string>, mode = 0o600): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const handle = await open(temp, 'wx', mode);
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
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  try {
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
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
