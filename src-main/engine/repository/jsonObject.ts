import * as v from 'valibot';
import { damaged } from './repositoryError.js';

/** Parses JSON bytes read from a repository and checks their shape; anything else is reported as damage to `what`. */
export function parseJsonObject<S extends v.GenericSchema>(bytes: Uint8Array, schema: S, what: string): v.InferOutput<S> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw damaged(what, 'not valid JSON', err);
  }
  const result = v.safeParse(schema, value);
  if (!result.success) throw damaged(what, `unexpected content: ${v.summarize(result.issues).split('\n')[0]}`);
  return result.output;
}

export const hex32 = v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/));
export const timestamp = v.pipe(v.string(), v.isoTimestamp());
export const base64 = v.pipe(v.string(), v.regex(/^[A-Za-z0-9+/]*={0,2}$/));

export function boundedInt(min: number, max: number) {
  return v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));
}
