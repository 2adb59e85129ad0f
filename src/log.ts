import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { pino, type Logger, type LevelWithSilent } from 'pino';
import { ConfigError, TlmError, errnoCode } from './errors.js';
import { openAppendNoFollowSync } from './state/safe-file.js';

export type { Logger };

export interface LogOptions {
  level?: LevelWithSilent | undefined;
  /** Write JSON lines here instead of stderr. */
  file?: string | undefined;
}

/** Paths pino blanks out, in case a secret ever reaches a log call. */
const REDACT = ['apiKey', '*.apiKey', 'headers["x-api-key"]', 'secretAccessKey', '*.secretAccessKey', 'sessionToken', '*.sessionToken', 'url', '*.url', 'videoUrl', '*.videoUrl'];

/** The one logger of a CLI run; built only by the composition root. */
export function createLogger(options: LogOptions = {}): Logger {
  const destination = pino.destination({ fd: options.file ? openLogFile(options.file) : 2, sync: true });
  return pino({ level: options.level ?? 'info', base: { pid: process.pid }, redact: { paths: REDACT, censor: '[redacted]' } }, destination);
}

/** A log file is private (0600) and never written through a symbolic link. */
function openLogFile(file: string): number {
  try {
    mkdirSync(dirname(file), { recursive: true });
    return openAppendNoFollowSync(file, 'log file');
  } catch (error) {
    if (error instanceof TlmError) throw error;
    const code = errnoCode(error) ?? 'error';
    throw new ConfigError('log_file_unwritable', `cannot open log file ${file} (${code}): choose a writable --log-file path`, { cause: error });
  }
}
