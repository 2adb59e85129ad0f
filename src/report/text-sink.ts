/** Where long text goes a piece at a time (stdout, a file). */
export interface TextSink {
  write(text: string): Promise<void>;
  /** Sends what is buffered. */
  flush(): Promise<void>;
  /** The reader went away (`| head`): what is written now is dropped. */
  readonly gone: boolean;
}

/**
 * A sink over a writable stream that gathers small pieces into writes of about 64 KiB and waits
 * when the stream says it is full: a million short lines are a few hundred writes, and a slow
 * reader (a pipe to `less`) holds the writer back instead of filling memory. A reader that goes
 * away (`tlmigrate status | head -1`) ends the output quietly, like `git log | head`.
 */
export function streamSink(stream: NodeJS.WritableStream): TextSink {
  let pending: string[] = [];
  let size = 0;
  let gone = false;
  let failure: Error | undefined;
  // Stays attached: a late EPIPE after the last write must not become an unhandled 'error'.
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') gone = true;
    else failure ??= error;
  });
  const flush = async () => {
    if (failure) throw failure;
    if (size === 0 || gone) return;
    const text = pending.join('');
    pending = [];
    size = 0;
    if (!stream.write(text)) await drained(stream);
    if (failure) throw failure;
  };
  return {
    async write(text) {
      if (gone) return;
      pending.push(text);
      size += text.length;
      if (size >= 64 * 1024) await flush();
    },
    flush,
    get gone() {
      return gone;
    },
  };
}

/** Until the stream takes more, closes, or fails (the failure is the listener's to judge). */
function drained(stream: NodeJS.WritableStream): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      stream.off('error', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
    stream.on('error', done);
  });
}
