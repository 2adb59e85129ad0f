#!/usr/bin/env node
import { run } from './run.js';

// The pinned AWS SDK supports Node 20; its notice about future releases is noise for our users.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.exitCode = await run(process.argv.slice(2), process.env);
