import { createCipheriv, createDecipheriv, KeyObject } from 'node:crypto';
import { nativeAddon, type NativeAddon } from '../nativeAddon.js';

export const KEY_LENGTH = 32;
export const NONCE_LENGTH = 12;
export const TAG_LENGTH = 16;

/** An AES-256 key: its bytes, or a KeyObject made from them once (cheaper for many ciphers; see MasterKey.packCipherKey). */
export type CipherKey = Uint8Array | KeyObject;

/**
 * What a nonce is used for. Each kind owns its own nonce space, so a blob
 * and a pack header sealed under the same per-pack key can never collide.
 */
export const NonceKind = {
  PackBlob: 0,
  PackHeader: 1,
  Object: 2,
  KeyWrap: 3,
} as const;
export type NonceKind = (typeof NonceKind)[keyof typeof NonceKind];

/** A 96-bit GCM nonce: 32-bit kind, then a 64-bit counter (big-endian). */
export function makeNonce(kind: NonceKind, counter: number): Buffer {
  if (!Number.isSafeInteger(counter) || counter < 0) throw new RangeError(`nonce counter out of range: ${counter}`);
  const nonce = Buffer.alloc(NONCE_LENGTH);
  nonce.writeUInt32BE(kind, 0);
  nonce.writeBigUInt64BE(BigInt(counter), 4);
  return nonce;
}

/** Thrown when a ciphertext fails authentication; callers turn it into a message naming the object. */
export class AuthenticationFailure extends Error {
  constructor() {
    super('authentication failed');
    this.name = 'AuthenticationFailure';
  }
}

/**
 * One implementation of AES-256-GCM: node:crypto's, or the addon's direct calls into the same OpenSSL
 * (see `cipher`). Each seals into or opens into a buffer the caller gives.
 */
interface Cipher {
  readonly name: 'native' | 'node';
  /** Writes the ciphertext and then the tag at the start of `out`; returns their length, plaintext + TAG_LENGTH. */
  sealInto(key: CipherKey, nonce: Uint8Array, plaintext: Uint8Array, out: Uint8Array, aad?: Uint8Array): number;
  /** Writes the plaintext at the start of `into`; returns its length. Throws AuthenticationFailure, after which `into` holds nothing to use. */
  openInto(key: CipherKey, nonce: Uint8Array, sealed: Uint8Array, into: Uint8Array, aad?: Uint8Array): number;
}

/** Encrypted this much at a time by node:crypto: it returns a new buffer per call, and one this small comes from malloc's reused bins, not a fresh mapping. */
const SEAL_SLICE = 64 * 1024;

/**
 * node:crypto: a cipher object per blob (a nonce is used once), and a new buffer per update, copied into
 * place a slice at a time: one per blob would be a fresh mapping of up to 8 MiB that lives until a full
 * collection, and a restore's writer threads held 35–45 MB of them; slices come from malloc's reused
 * bins and die young.
 */
const nodeCipher: Cipher = {
  name: 'node',
  sealInto(key, nonce, plaintext, out, aad) {
    let at = 0;
    return sealSlices(
      key,
      nonce,
      plaintext,
      (bytes) => {
        at += copyInto(out, at, bytes);
      },
      aad,
    );
  },
  openInto(key, nonce, sealed, into, aad) {
    const length = sealed.byteLength - TAG_LENGTH;
    const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_LENGTH });
    decipher.setAuthTag(sealed.subarray(length));
    if (aad) decipher.setAAD(aad);
    let at = 0;
    for (let from = 0; from < length; from += SEAL_SLICE) at += copyInto(into, at, decipher.update(sealed.subarray(from, Math.min(length, from + SEAL_SLICE))));
    try {
      return at + copyInto(into, at, decipher.final());
    } catch {
      throw new AuthenticationFailure();
    }
  },
};

function copyInto(target: Uint8Array, at: number, bytes: Buffer): number {
  target.set(bytes, at);
  return bytes.length;
}

/** A KeyObject's bytes, for the addon: exported once per object (a worker gets its keys anew with each message it is sent). */
const keyBytes = new WeakMap<KeyObject, Uint8Array>();

function rawKey(key: CipherKey): Uint8Array {
  if (!(key instanceof KeyObject)) return key;
  let bytes = keyBytes.get(key);
  if (!bytes) {
    bytes = key.export();
    keyBytes.set(key, bytes);
  }
  return bytes;
}

const NOT_AUTHENTIC = -2;

/** The addon's calls (see aead.c): no object and no buffer made per blob. */
function nativeCipher(addon: Required<Pick<NativeAddon, 'aeadSeal' | 'aeadOpen'>>): Cipher {
  return {
    name: 'native',
    sealInto(key, nonce, plaintext, out, aad) {
      const length = addon.aeadSeal(rawKey(key), nonce, plaintext, out, aad ?? null);
      if (length < 0) throw new Error('AES-256-GCM sealing failed');
      return length;
    },
    openInto(key, nonce, sealed, into, aad) {
      const length = addon.aeadOpen(rawKey(key), nonce, sealed, into, aad ?? null);
      if (length === NOT_AUTHENTIC) throw new AuthenticationFailure();
      if (length < 0) throw new Error('AES-256-GCM opening failed');
      return length;
    },
  };
}

/**
 * Whether `candidate` gives node:crypto's answers: the same ciphertext and tag for the same key, nonce,
 * plaintext and additional data, with two keys in turn (the addon keeps the last key set up), and a
 * tampered tag refused. Checked once before the addon is trusted with a repository.
 */
function agreesWithNode(candidate: Cipher): boolean {
  try {
    const [first, second] = [Buffer.alloc(KEY_LENGTH, 0x11), Buffer.alloc(KEY_LENGTH, 0x22)];
    const plaintext = Buffer.from('hindsight checks its AES-256-GCM binding against node:crypto');
    const aad = Buffer.from('aad');
    for (const [turn, key] of [first, second, first].entries()) {
      const nonce = makeNonce(NonceKind.Object, turn);
      const expected = Buffer.alloc(plaintext.length + TAG_LENGTH);
      const got = Buffer.alloc(plaintext.length + TAG_LENGTH);
      nodeCipher.sealInto(key, nonce, plaintext, expected, aad);
      if (candidate.sealInto(key, nonce, plaintext, got, aad) !== got.length || !got.equals(expected)) return false;
      const opened = Buffer.alloc(plaintext.length);
      if (candidate.openInto(key, nonce, expected, opened, aad) !== plaintext.length || !opened.equals(plaintext)) return false;
      expected.writeUInt8((expected.at(-1) as number) ^ 1, expected.length - 1);
      try {
        candidate.openInto(key, nonce, expected, opened, aad);
        return false;
      } catch (err) {
        if (!(err instanceof AuthenticationFailure)) return false;
      }
    }
    return true;
  } catch {
    return false;
  }
}

let chosen: Cipher | undefined;

/**
 * The addon's cipher where it is built, finds OpenSSL in the process and agrees with node:crypto;
 * node:crypto's otherwise (an Electron process carries BoringSSL and may export none of it), or when
 * HINDSIGHT_CIPHER=node asks for it. The same bytes either way: only the cost per blob differs.
 */
function cipher(): Cipher {
  if (chosen) return chosen;
  const addon = process.env.HINDSIGHT_CIPHER === 'node' ? null : nativeAddon();
  const native = addon?.aeadAvailable && addon.aeadSeal && addon.aeadOpen ? nativeCipher({ aeadSeal: addon.aeadSeal.bind(addon), aeadOpen: addon.aeadOpen.bind(addon) }) : undefined;
  chosen = native && agreesWithNode(native) ? native : nodeCipher;
  return chosen;
}

/** Which implementation seals and opens in this thread: 'native' (the addon) or 'node' (node:crypto). */
export function cipherInUse(): 'native' | 'node' {
  return cipher().name;
}

/** AES-256-GCM: returns ciphertext followed by the 16-byte tag. */
export function seal(key: CipherKey, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Buffer {
  const sealed = Buffer.allocUnsafe(plaintext.byteLength + TAG_LENGTH);
  cipher().sealInto(key, nonce, plaintext, sealed, aad);
  return sealed;
}

/** Where the addon seals a blob for `sealInSlices`: one buffer per thread, as large as the largest blob sealed. */
let sealing = new Uint8Array(0);

/**
 * Like `seal`, but hands the ciphertext and tag to `put`, each a buffer valid only during the call; returns
 * the bytes put, plaintext + TAG_LENGTH. node:crypto's in slices of 64 KiB (see nodeCipher), the addon's
 * in one piece. Measured on 1 MiB blobs, copying the slices into a pack: 3.7 GB/s against 3.3 for one
 * update and a copy.
 */
export function sealInSlices(key: CipherKey, nonce: Uint8Array, plaintext: Uint8Array, put: (bytes: Buffer) => void): number {
  const using = cipher();
  if (using === nodeCipher) return sealSlices(key, nonce, plaintext, put);
  const length = plaintext.byteLength + TAG_LENGTH;
  if (sealing.byteLength < length) sealing = new Uint8Array(Math.max(length, 2 * sealing.byteLength));
  using.sealInto(key, nonce, plaintext, sealing);
  put(Buffer.from(sealing.buffer, 0, length));
  return length;
}

/** node:crypto's sealing, handed to `put` a slice at a time (see nodeCipher); returns the bytes put. */
function sealSlices(key: CipherKey, nonce: Uint8Array, plaintext: Uint8Array, put: (bytes: Buffer) => void, aad?: Uint8Array): number {
  const encryption = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_LENGTH });
  if (aad) encryption.setAAD(aad);
  let written = 0;
  const give = (bytes: Buffer) => {
    if (bytes.length === 0) return;
    put(bytes);
    written += bytes.length;
  };
  for (let from = 0; from < plaintext.byteLength; from += SEAL_SLICE) give(encryption.update(plaintext.subarray(from, from + SEAL_SLICE)));
  give(encryption.final());
  give(encryption.getAuthTag());
  return written;
}

/**
 * Reverses `seal` into `into` (at least the plaintext's length, sealed minus TAG_LENGTH); returns the
 * plaintext's length. What it wrote is not to be used when it throws AuthenticationFailure.
 */
export function openInto(key: CipherKey, nonce: Uint8Array, sealed: Uint8Array, into: Uint8Array): number {
  if (sealed.byteLength < TAG_LENGTH) throw new AuthenticationFailure();
  const length = sealed.byteLength - TAG_LENGTH;
  if (into.byteLength < length) throw new RangeError(`room for ${into.byteLength} bytes, ${length} needed`);
  return cipher().openInto(key, nonce, sealed, into);
}

/** Reverses `seal`; throws AuthenticationFailure if any byte of the ciphertext, tag, nonce, key or aad differs. */
export function open(key: CipherKey, nonce: Uint8Array, sealed: Uint8Array, aad?: Uint8Array): Buffer {
  if (sealed.byteLength < TAG_LENGTH) throw new AuthenticationFailure();
  const using = cipher();
  if (using === nodeCipher) return openWhole(key, nonce, sealed, aad);
  const plaintext = Buffer.allocUnsafe(sealed.byteLength - TAG_LENGTH);
  using.openInto(key, nonce, sealed, plaintext, aad);
  return plaintext;
}

/** node:crypto's `open`: the plaintext is the buffer its update returns, not a copy. */
function openWhole(key: CipherKey, nonce: Uint8Array, sealed: Uint8Array, aad?: Uint8Array): Buffer {
  const body = sealed.subarray(0, sealed.byteLength - TAG_LENGTH);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_LENGTH });
  decipher.setAuthTag(sealed.subarray(sealed.byteLength - TAG_LENGTH));
  if (aad) decipher.setAAD(aad);
  const head = decipher.update(body);
  try {
    const tail = decipher.final();
    return tail.length === 0 ? head : Buffer.concat([head, tail]);
  } catch {
    throw new AuthenticationFailure();
  }
}
