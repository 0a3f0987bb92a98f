import { hashRaw } from '@node-rs/argon2';
import { KEY_LENGTH } from './aead.js';

/** Argon2id parameters; stored in each key file so they can be raised for new keys without breaking old ones. */
export interface Argon2Params {
  readonly memoryKiB: number;
  readonly iterations: number;
  readonly parallelism: number;
}

/** RFC 9106's second recommended option: 64 MiB, 3 passes, 4 lanes. */
export const DEFAULT_ARGON2: Argon2Params = { memoryKiB: 64 * 1024, iterations: 3, parallelism: 4 };

/** Bounds applied when reading a key file, so a tampered file cannot make us allocate gigabytes or spin for hours. */
export const ARGON2_LIMITS = {
  memoryKiB: { min: 8, max: 4 * 1024 * 1024 },
  iterations: { min: 1, max: 64 },
  parallelism: { min: 1, max: 64 },
} as const;

// @node-rs/argon2 declares its Algorithm as an ambient const enum, which isolated modules cannot import.
const ARGON2ID = 2;

/** Derives the key-encryption key from a password. The password is NFC-normalised so the same password typed on different systems matches. */
export async function deriveKeyFromPassword(password: string, salt: Uint8Array, params: Argon2Params): Promise<Buffer> {
  return hashRaw(Buffer.from(password.normalize('NFC'), 'utf8'), {
    algorithm: ARGON2ID as never,
    memoryCost: params.memoryKiB,
    timeCost: params.iterations,
    parallelism: params.parallelism,
    salt,
    outputLen: KEY_LENGTH,
  });
}
