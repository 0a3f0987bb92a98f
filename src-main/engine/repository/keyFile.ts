import { randomBytes } from 'node:crypto';
import * as v from 'valibot';
import { AuthenticationFailure, KEY_LENGTH, NonceKind, makeNonce, open, seal } from '../crypto/aead.js';
import { MasterKey } from '../crypto/masterKey.js';
import { ARGON2_LIMITS, deriveKeyFromPassword, type Argon2Params } from '../crypto/passwordKey.js';
import { base64, boundedInt, parseJsonObject, timestamp } from './jsonObject.js';
import { damaged } from './repositoryError.js';
import { storageId } from './sealedObject.js';

/**
 * keys/<sha256 of the file>: the master key wrapped by a key derived from one
 * password. The file is plain JSON so its KDF parameters can be read before
 * the password is known; its name is the SHA-256 of its bytes, so any change
 * to it is noticed before the password is even tried.
 */
const KEY_FILE_SCHEMA = v.object({
  hindsight: v.literal('key'),
  version: v.literal(1),
  created: timestamp,
  host: v.pipe(v.string(), v.maxLength(255)),
  username: v.pipe(v.string(), v.maxLength(255)),
  kdf: v.object({
    algorithm: v.literal('argon2id'),
    memoryKiB: boundedInt(ARGON2_LIMITS.memoryKiB.min, ARGON2_LIMITS.memoryKiB.max),
    iterations: boundedInt(ARGON2_LIMITS.iterations.min, ARGON2_LIMITS.iterations.max),
    parallelism: boundedInt(ARGON2_LIMITS.parallelism.min, ARGON2_LIMITS.parallelism.max),
    salt: base64,
  }),
  wrappedKey: base64,
});

export type KeyFile = v.InferOutput<typeof KEY_FILE_SCHEMA>;

export interface KeyFileMeta {
  readonly host: string;
  readonly username: string;
}

const SALT_LENGTH = 32;
const WRAP_AAD = Buffer.from('hindsight key v1', 'ascii');

export async function createKeyFile(
  master: MasterKey,
  password: string,
  params: Argon2Params,
  meta: KeyFileMeta,
): Promise<{ id: string; bytes: Buffer }> {
  const salt = randomBytes(SALT_LENGTH);
  const kek = await deriveKeyFromPassword(password, salt, params);
  // The KEK is unique to this file (fresh salt), so a fixed nonce never repeats under one key.
  const wrapped = seal(kek, makeNonce(NonceKind.KeyWrap, 0), master.exportSecret(), WRAP_AAD);
  const file: KeyFile = {
    hindsight: 'key',
    version: 1,
    created: new Date().toISOString(),
    host: meta.host,
    username: meta.username,
    kdf: { algorithm: 'argon2id', ...params, salt: salt.toString('base64') },
    wrappedKey: wrapped.toString('base64'),
  };
  const bytes = Buffer.from(`${JSON.stringify(file, null, 2)}\n`, 'utf8');
  return { id: storageId(bytes), bytes };
}

/** Checks a key file's name against its content and parses it. */
export function parseKeyFile(name: string, bytes: Buffer): KeyFile {
  const what = `Key file keys/${name}`;
  if (storageId(bytes) !== name) throw damaged(what, 'its content does not match its name');
  return parseJsonObject(bytes, KEY_FILE_SCHEMA, what);
}

/** Returns the master key, or undefined when the password does not unlock this key file. */
export async function unwrapKeyFile(file: KeyFile, password: string): Promise<MasterKey | undefined> {
  const { memoryKiB, iterations, parallelism } = file.kdf;
  const kek = await deriveKeyFromPassword(password, Buffer.from(file.kdf.salt, 'base64'), { memoryKiB, iterations, parallelism });
  try {
    const secret = open(kek, makeNonce(NonceKind.KeyWrap, 0), Buffer.from(file.wrappedKey, 'base64'), WRAP_AAD);
    return secret.byteLength === KEY_LENGTH ? new MasterKey(secret) : undefined;
  } catch (err) {
    if (err instanceof AuthenticationFailure) return undefined;
    throw err;
  }
}
