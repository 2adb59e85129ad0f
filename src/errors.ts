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
    /** The platform's own message, without our prefix. */
    this.apiMessage = init.message;
  }

  readonly apiMessage: string;
}

/**
 * The request may or may not have reached the server and been acted on: a timeout, a reset, a 5xx
 * after the body was sent. For a non-idempotent POST this must be reconciled before any retry.
 */
export class UnknownOutcomeError extends TlmError {
  readonly method: string;
  readonly path: string;
  readonly status: number | undefined;

  constructor(init: { method: string; path: string; reason: string; status?: number; cause?: unknown }) {
    super('outcome_unknown', `${init.method} ${init.path}: outcome unknown (${init.reason})`, { cause: init.cause });
    this.method = init.method;
    this.path = init.path;
    this.status = init.status;
  }
}

/** Removes query strings from URLs inside a message, so presigned signatures never leak. */
export function redactUrls(text: string): string {
  return text.replace(/(https?:\/\/[^\s?#"']+)\?[^\s"']*/g, '$1?[redacted]');
}
