import { ApiFailure, invalid } from './api-error.js';
import type { ApiRequest } from './api-context.js';
import type { FormPart } from './multipart.js';

/** The multipart form's parts by name; unknown or repeated fields are refused. */
export async function formFields(req: ApiRequest, allowed: ReadonlySet<string>): Promise<Map<string, FormPart>> {
  const parts = await req.form();
  const fields = new Map<string, FormPart>();
  for (const part of parts) {
    if (!allowed.has(part.name)) throw new ApiFailure(400, 'parameter_unknown', `The ${part.name} parameter is not supported.`);
    if (fields.has(part.name)) throw invalid(`The ${part.name} parameter was provided more than once.`);
    fields.set(part.name, part);
  }
  return fields;
}

/** A text field's value, or undefined when absent. */
export function text(fields: Map<string, FormPart>, name: string): string | undefined {
  const part = fields.get(name);
  if (part === undefined) return undefined;
  if (part.kind !== 'text') throw invalid(`The ${name} parameter must be a text field.`);
  return part.value;
}

/** A `"true"` / `"false"` text field. */
export function booleanField(fields: Map<string, FormPart>, name: string, fallback: boolean): boolean {
  const value = text(fields, name);
  if (value === undefined) return fallback;
  if (value !== 'true' && value !== 'false') throw invalid(`The ${name} parameter must be true or false.`);
  return value === 'true';
}

/** An http(s) URL field: the URL, its decoded pathname, its last path segment decoded and as sent. */
export function urlField(part: FormPart, name: string): { url: string; path: string; lastSegment: string; rawLastSegment: string } {
  if (part.kind !== 'text') throw invalid(`The ${name} parameter must be a text field.`);
  let url: URL;
  try {
    url = new URL(part.value);
  } catch {
    throw invalid(`The ${name} parameter must be a valid URL.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid(`The ${name} parameter must be an http or https URL.`);
  const rawLastSegment = url.pathname.split('/').pop() ?? '';
  return { url: part.value, path: decodePath(url.pathname), lastSegment: decodePath(rawLastSegment), rawLastSegment };
}

export function decodePath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/** A JSON object request body; an empty body reads as `{}`. */
export function parseJsonObject(body: Buffer): Record<string, unknown> {
  if (body.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw invalid('The request body must be a JSON object.');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw invalid('The request body must be a JSON object.');
  return parsed as Record<string, unknown>;
}
