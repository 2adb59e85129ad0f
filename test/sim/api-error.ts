/** A request the simulated API refuses: becomes `{code, message}` (or the nested shape) with `status`. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiFailure';
  }
}

/** 400 `parameter_invalid`. */
export const invalid = (message: string): ApiFailure => new ApiFailure(400, 'parameter_invalid', message);
/** 400 `parameter_not_provided` for a missing required parameter. */
export const notProvided = (param: string): ApiFailure =>
  new ApiFailure(400, 'parameter_not_provided', `The ${param} parameter is required but was not provided.`);

export type ErrorShape = 'flat' | 'nested';

/** The error body in the shape the variant asks for. */
export function errorBody(shape: ErrorShape, code: string, message: string, docsUrl: boolean): unknown {
  if (shape === 'nested') return { error: { code, message, details: {} } };
  return docsUrl
    ? { code, message, docs_url: `https://docs.twelvelabs.io/v1.3/api-reference/errors#${code}` }
    : { code, message };
}
