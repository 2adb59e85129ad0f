import { pino, type Logger, type LevelWithSilent } from 'pino';

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
  const destination = options.file ? pino.destination({ dest: options.file, mkdir: true, sync: true }) : pino.destination({ fd: 2, sync: true });
  return pino({ level: options.level ?? 'info', base: { pid: process.pid }, redact: { paths: REDACT, censor: '[redacted]' } }, destination);
}
