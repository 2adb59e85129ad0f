#!/usr/bin/env node
import { applyCliV8Flags, commandOf } from './v8-flags.js';

// First, before any module grows the heap (docs/benchmarks.md, "The CLI's own memory").
const argv = process.argv.slice(2);
applyCliV8Flags(argv);
// The pinned AWS SDK supports Node 20; its notice about future releases is noise for our users.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
if (commandOf(argv) === 'plan') {
  // The bucket listing's thread starts now, while the command line and the rest of the CLI load
  // (docs/benchmarks.md, "A listing thread started with the process").
  const { warmListingThread } = await import('../sources/threaded-list.js');
  warmListingThread();
}
if (argv.length === 1 && argv[0] === '--version') {
  // Asked by scripts and package managers: answered without loading yargs, pino or any command.
  const { VERSION } = await import('./version.js');
  process.stdout.write(`${VERSION}\n`);
} else {
  const { run } = await import('./run.js');
  process.exitCode = await run(argv, process.env);
}
