import type { BigIntStats } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { mapConcurrent } from '../concurrency.js';

export interface ListedEntry {
  readonly name: Buffer;
  readonly path: Buffer;
  /** Undefined when the entry could not be examined (it vanished, or permission was denied); `error` says why. */
  readonly stat: BigIntStats | undefined;
  readonly error?: unknown;
}

const SLASH = Buffer.from('/');
/** lstat calls in flight at once: each is a thread-pool round trip, and one at a time leaves the walk waiting on every one. */
const LSTATS_IN_FLIGHT = 16;

/** Examines the entries of one folder, several at a time; the result keeps the order of `names`. */
export function listEntries(folder: Buffer, names: readonly Buffer[]): Promise<ListedEntry[]> {
  const atRoot = folder.length === 1 && folder[0] === 0x2f;
  return mapConcurrent(names, LSTATS_IN_FLIGHT, async (name) => {
    const path = atRoot ? Buffer.concat([SLASH, name]) : Buffer.concat([folder, SLASH, name]);
    try {
      return { name, path, stat: await lstat(path, { bigint: true }) };
    } catch (error) {
      return { name, path, stat: undefined, error };
    }
  });
}
