import assert from 'node:assert/strict';
import { createCipheriv, createHash } from 'node:crypto';
import { FormatViolation } from '../../src-main/engine/repository/packFormat.js';
import { RepositoryError } from '../../src-main/engine/repository/repositoryError.js';

/** Cases per fuzzed parser: a few thousand in `npm test`, more with HINDSIGHT_FUZZ_CASES (npm run test:stress). */
export const FUZZ_CASES = Number(process.env.HINDSIGHT_FUZZ_CASES ?? 2000);

/** Seeded pseudo-random bytes, so a failing case can be replayed. */
export function prng(seed: string, length: number): Buffer {
  return createCipheriv('aes-256-ctr', createHash('sha256').update(seed).digest(), Buffer.alloc(16)).update(Buffer.alloc(length));
}

/** The only acceptable outcomes for bad input: a value, or a typed error. */
export function expectTypedOutcome(parse: () => unknown): void {
  try {
    parse();
  } catch (err) {
    assert.ok(err instanceof FormatViolation || err instanceof RepositoryError, `untyped error: ${String(err)}`);
  }
}
