/**
 * Errors with a stable `code` and a one-line message that names the thing and the fix.
 * The CLI turns any TlmError into that line and exit code 2 (or `exitCode` when set).
 */
export class TlmError extends Error {
  readonly code: string;
  readonly exitCode: number;

  constructor(code: string, message: string, options?: { cause?: unknown; exitCode?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = options?.exitCode ?? 2;
  }
}

/** Bad flags, environment or credentials: nothing was done. */
export class ConfigError extends TlmError {}

/** A plan file that cannot be read, parsed or trusted. */
export class PlanFileError extends TlmError {}

/** A state file that cannot be read, parsed, locked or written. */
export class StateFileError extends TlmError {}

/** A path tlmigrate would write through that is a symbolic link, not a regular file, or not ours. */
export class UnsafePathError extends TlmError {}

/** A source (S3 bucket, inventory) that cannot be reached or read. */
export class SourceError extends TlmError {}

/** A Twelve Labs API answer other than success. Never carries a query string. */
export class ApiError extends TlmError {
  readonly status: number;
  readonly method: string;
  readonly path: string;
  readonly retryAfterMs: number | undefined;
  readonly rateLimitResetMs: number | undefined;

  constructor(init: {
    status: number;
    code: string;
    message: string;
    method: string;
    path: string;
    retryAfterMs?: number | undefined;
    rateLimitResetMs?: number | undefined;
    cause?: unknown;
  }) {
    super(init.code, `${init.method} ${init.path}: ${init.status} ${init.code}: ${init.message}`, { cause: init.cause });
    this.status = init.status;
    this.method = init.method;
    this.path = init.path;
    this.retryAfterMs = init.retryAfterMs;
    this.rateLimitResetMs = init.rateLimitResetMs;
    this.apiMessage = init.message;
  }

  /** The platform's own message, without our prefix. */
  readonly apiMessage: string;
}

/**
 * No HTTP answer: a timeout, a reset, a refused connection. For a GET this is safe to retry; for a
 * non-idempotent POST the request may have been acted on, so it must be reconciled before any retry.
 */
export class TransportError extends TlmError {
  readonly method: string;
  readonly path: string;
  readonly reason: 'timeout' | 'network';

  constructor(init: { method: string; path: string; reason: 'timeout' | 'network'; detail: string; cause?: unknown }) {
    super(init.reason === 'timeout' ? 'timeout' : 'network_error', `${init.method} ${init.path}: ${init.detail}`, { cause: init.cause });
    this.method = init.method;
    this.path = init.path;
    this.reason = init.reason;
  }
}

/** The run was stopped while the request waited its turn at the rate limiter: it never left. */
export class NotSentError extends TlmError {
  constructor() {
    super('not_sent', 'request not sent: the run was stopped while it waited for the rate limit', { exitCode: 130 });
  }
}

/** The `code` of a Node system error (`ENOENT`, `EPIPE`...); undefined for anything else. */
export function errnoCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
}

/** Removes query strings from URLs inside a message, so presigned signatures never leak. */
export function redactUrls(text: string): string {
  return text.replace(/(https?:\/\/[^\s?#"']+)\?[^\s"']*/g, '$1?[redacted]');
}

/**
 * Escapes control characters (a key may hold a newline or a tab) the way JSON does, so a message
 * or a listed key stays on its one line; bidi controls too, so a key cannot reorder the text
 * around it on screen (U+202E shows `gpj.exe` as `exe.jpg`).
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g, (c) => {
    const named: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
    return named[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}
