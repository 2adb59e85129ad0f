const guarded = new WeakSet<NodeJS.WritableStream>();

/**
 * A reader that goes away (`tlmigrate status | head -1`) ends the output quietly, like `git log |
 * head`: the write errors are dropped instead of becoming an unhandled 'error' event, and the
 * command finishes (and checkpoints) as it would have.
 */
export function endQuietlyOnClosedPipe(stream: NodeJS.WritableStream): void {
  if (guarded.has(stream)) return;
  guarded.add(stream);
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') return;
    throw error;
  });
}
