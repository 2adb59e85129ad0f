import { parentPort, workerData } from 'node:worker_threads';
import { TlmError } from '../errors.js';
import { S3Source, createS3Client } from './s3.js';
import type { ListWorkerData, ListWorkerMessage } from './threaded-list.js';
import type { SourceObject } from './types.js';

/**
 * The bucket listing on a thread of its own (see threaded-list.ts): checks access, then lists with
 * an S3Source of its own and posts the objects in batches, in key order, never more batches ahead
 * of the reader than it has credit for. Its failures go back as their class name, code, line and
 * exit code (a bug's with its stack).
 */
const data = workerData as ListWorkerData;
const port = parentPort;
let credit = data.credit;
let wake: (() => void) | undefined;
port?.on('message', (message: { more?: number }) => {
  credit += message.more ?? 0;
  wake?.();
  wake = undefined;
});
const post = (message: ListWorkerMessage) => port?.postMessage(message);

try {
  const source = new S3Source(createS3Client(data.settings), data.bucket, data.concurrency);
  await source.checkAccess(data.prefix);
  post({ access: true });
  let batch: SourceObject[] = [];
  const send = async () => {
    while (credit <= 0) await new Promise<void>((resolve) => (wake = resolve));
    credit -= 1;
    post({ objects: batch });
    batch = [];
  };
  for await (const object of source.list({ prefix: data.prefix })) {
    batch.push(object);
    if (batch.length >= data.batch) await send();
  }
  if (batch.length > 0) await send();
  post({ done: true });
} catch (error) {
  const e = error as { name?: string; message?: string; stack?: string };
  post({
    error:
      error instanceof TlmError
        ? { kind: 'tlm', name: error.name, code: error.code, message: error.message, exitCode: error.exitCode }
        : { kind: 'other', name: e.name ?? 'Error', message: e.message ?? String(error), stack: e.stack },
  });
}
// The thread stays until the reader ends it (terminate): a message posted just before an exit could be lost.
