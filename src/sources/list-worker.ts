import { parentPort, workerData } from 'node:worker_threads';
import { TlmError } from '../errors.js';
import { s3Sdk } from './aws-s3.js';
import { listInParallel, type PageLister } from './parallel-list.js';
import { S3Source, createS3Client } from './s3.js';
import type { ListWorkerData, ListWorkerMessage } from './threaded-list.js';
import type { SourceObject } from './types.js';

/**
 * The bucket listing on a thread of its own (see threaded-list.ts): lists with an S3Source of its
 * own and posts the objects in batches, in key order, never more batches ahead of the reader than
 * it has credit for. Its first page is the access check: `{ access: true }` goes back as soon as
 * it is answered. Its failures go back as their class name, code, line and exit code (a bug's
 * with its stack). A thread started early (`warm`) loads the S3 SDK, then waits for its listing.
 */
const port = parentPort;
let data = workerData as ListWorkerData | { warm: true };
let credit = 0;
let wake: (() => void) | undefined;
port?.on('message', (message: { more?: number; start?: ListWorkerData }) => {
  if (message.start) {
    data = message.start;
    credit += message.start.credit;
  }
  credit += message.more ?? 0;
  wake?.();
  wake = undefined;
});
const post = (message: ListWorkerMessage) => port?.postMessage(message);
const until = async (ready: () => boolean) => {
  while (!ready()) await new Promise<void>((resolve) => (wake = resolve));
};

try {
  if ('warm' in data) {
    s3Sdk();
    await until(() => !('warm' in data));
  } else credit = data.credit;
  const job = data as ListWorkerData;
  const source = new S3Source(createS3Client(job.settings), job.bucket);
  // S3Source.list's listing (listInParallel over its pages), its first page announced as the access check.
  let checked = false;
  const pages: PageLister = {
    listPage: async (query, signal) => {
      const page = await source.listPage(query, signal);
      if (!checked) post({ access: true });
      checked = true;
      return page;
    },
  };
  let batch: SourceObject[] = [];
  const send = async () => {
    await until(() => credit > 0);
    credit -= 1;
    post({ objects: batch });
    batch = [];
  };
  for await (const object of listInParallel(pages, { prefix: job.prefix, concurrency: job.concurrency })) {
    batch.push(object);
    if (batch.length >= job.batch) await send();
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
