import { invalid } from './api-error.js';

export type FormPart =
  | { name: string; kind: 'text'; value: string }
  | { name: string; kind: 'file'; filename: string; bytes: Buffer };

/** Parses a multipart/form-data body with the platform's own parser (undici's `Request.formData`). */
export async function parseMultipart(body: Buffer, contentType: string | undefined): Promise<FormPart[]> {
  if (!contentType?.toLowerCase().startsWith('multipart/form-data')) {
    throw invalid('The request body must be multipart/form-data.');
  }
  let form: FormData;
  try {
    form = await new Request('http://simulator.invalid/', {
      method: 'POST',
      headers: { 'content-type': contentType },
      body,
    }).formData();
  } catch {
    throw invalid('The multipart/form-data body could not be parsed.');
  }
  const parts: FormPart[] = [];
  for (const [name, value] of form.entries()) {
    if (typeof value === 'string') parts.push({ name, kind: 'text', value });
    else parts.push({ name, kind: 'file', filename: value.name, bytes: Buffer.from(await value.arrayBuffer()) });
  }
  return parts;
}
