import { createHash, randomBytes } from 'node:crypto';
import { Compressor, Decompressor } from 'zstd-napi';
import { AuthenticationFailure, NonceKind, makeNonce, open, seal } from '../crypto/aead.js';
import type { MasterKey } from '../crypto/masterKey.js';
import { damaged } from './repositoryError.js';

/**
 * The envelope of every small encrypted object (config, index, snapshot, lock):
 *
 *   "HSO1" | flags (1 byte: 0 raw, 1 zstd) | salt (32) | AES-256-GCM(ciphertext) | tag (16)
 *
 * The key is HKDF(master, salt), fresh for every object, so the fixed nonce is
 * never reused under one key. The first 37 bytes and the object type are the
 * additional authenticated data: an index cannot be passed off as a snapshot.
 */
const MAGIC = Buffer.from('HSO1', 'ascii');
const SALT_LENGTH = 32;
const HEADER_LENGTH = MAGIC.length + 1 + SALT_LENGTH;
const FLAG_RAW = 0;
const FLAG_ZSTD = 1;

export type SealedObjectType = 'config' | 'index' | 'snapshots' | 'locks';

export function sealObject(master: MasterKey, type: SealedObjectType, plaintext: Uint8Array, compressLevel?: number): Buffer {
  let body: Uint8Array = plaintext;
  let flag = FLAG_RAW;
  if (compressLevel !== undefined) {
    // A context for each object, not zstd-napi's shared one: a shared context keeps buffers as large as the
    // largest object it ever handled for the life of the process (the agent's), and objects are few.
    const compressor = new Compressor();
    compressor.setParameters({ compressionLevel: compressLevel });
    const packed = compressor.compress(plaintext);
    if (packed.byteLength < plaintext.byteLength) {
      body = packed;
      flag = FLAG_ZSTD;
    }
  }
  const header = Buffer.alloc(HEADER_LENGTH);
  MAGIC.copy(header, 0);
  header[MAGIC.length] = flag;
  randomBytes(SALT_LENGTH).copy(header, MAGIC.length + 1);
  const salt = header.subarray(MAGIC.length + 1);
  const sealed = seal(master.objectKey(salt), makeNonce(NonceKind.Object, 0), body, aadFor(header, type));
  return Buffer.concat([header, sealed]);
}

/** Opens a sealed object; `what` names it in the error ("index/3fa2…"). */
export function openObject(master: MasterKey, type: SealedObjectType, stored: Buffer, what: string): Buffer {
  if (stored.byteLength < HEADER_LENGTH + 16 || !stored.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw damaged(what, 'not a Hindsight object');
  }
  const header = stored.subarray(0, HEADER_LENGTH);
  const flag = header[MAGIC.length];
  if (flag !== FLAG_RAW && flag !== FLAG_ZSTD) throw damaged(what, 'unknown flags');
  const salt = header.subarray(MAGIC.length + 1);
  let body: Buffer;
  try {
    body = open(master.objectKey(salt), makeNonce(NonceKind.Object, 0), stored.subarray(HEADER_LENGTH), aadFor(header, type));
  } catch (err) {
    if (err instanceof AuthenticationFailure) throw damaged(what, 'authentication failed', err);
    throw err;
  }
  if (flag === FLAG_RAW) return body;
  try {
    return new Decompressor().decompress(body);
  } catch (err) {
    throw damaged(what, 'decompression failed', err);
  }
}

function aadFor(header: Buffer, type: SealedObjectType): Buffer {
  return Buffer.concat([header, Buffer.from(`|${type}`, 'ascii')]);
}

/** Objects other than config and packs are named by the SHA-256 of their stored bytes, so storage-level damage shows without the key. */
export function storageId(stored: Uint8Array): string {
  return createHash('sha256').update(stored).digest('hex');
}
