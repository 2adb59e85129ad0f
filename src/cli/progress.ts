/** A live status line on a TTY; silent elsewhere (logs carry the same facts). */
export interface Progress {
  update(line: string): void;
  done(): void;
}

export function createProgress(stream: NodeJS.WriteStream, enabled = Boolean(stream.isTTY)): Progress {
  if (!enabled) return { update: () => undefined, done: () => undefined };
  let last = 0;
  let shown = false;
  return {
    update(line) {
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      shown = true;
      stream.write(`\r\x1b[2K${line.slice(0, (stream.columns ?? 120) - 1)}`);
    },
    done() {
      if (shown) stream.write('\r\x1b[2K');
      shown = false;
    },
  };
}
