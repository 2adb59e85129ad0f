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
      stream.write(`\r\x1b[2K${fitLine(line, stream.columns)}`);
    },
    done() {
      if (shown) stream.write('\r\x1b[2K');
      shown = false;
    },
  };
}

/** Cut to the terminal's width minus one (the cursor's cell); a terminal that reports no width (0) gets the whole line. */
export function fitLine(line: string, columns: number | undefined): string {
  return columns !== undefined && columns > 1 ? line.slice(0, columns - 1) : line;
}
