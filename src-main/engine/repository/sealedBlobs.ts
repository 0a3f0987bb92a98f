import type { KeyObject } from 'node:crypto';
import binding from 'zstd-napi/binding.js';
import { NonceKind, TAG_LENGTH, makeNonce, openInto } from '../crypto/aead.js';
import { computeBlobId } from '../crypto/blobId.js';

/**
 * One sealed blob inside a buffer of sealed bytes handed to another thread: where it sits there, and
 * what its pack's index entry says about it. Plain data, so it crosses postMessage as it is.
 */
export interface SealedBlob {
  /** Index of its pack's key in the keys sent with the buffer. */
  readonly key: number;
  /** Where the sealed bytes start in the buffer. */
  readonly at: number;
  /** Sealed length: ciphertext plus tag. */
  readonly length: number;
  /** Offset in its pack: the nonce counter. */
  readonly offset: number;
  readonly compressed: boolean;
  readonly rawLength: number;
  /** Its own copy, or a view of a packed table's ids (see PackedChunk). */
  readonly id: Uint8Array;
}

/** Why a sealed blob could not be opened; the thread that asked names the blob and its pack. */
export class BlobNotOpened extends Error {}

let decompressor: InstanceType<typeof binding.DCtx> | undefined;
/** A compressed blob's decrypted body, decompressed from here into the caller's buffer: one buffer, grown as needed. */
let body = new Uint8Array(0);

/**
 * Decrypts, decompresses and checks one blob against its id, writing its plaintext at the start of
 * `into` (at least `rawLength` long) and returning that view. Decompressing straight into the caller's
 * buffer spares the allocation and copy of every plaintext (malloc was 1 of the 5.5 CPU-seconds that a
 * restore's main thread spent outside the kernel, perf, 78,579 files).
 */
export function openSealedBlob(keys: readonly KeyObject[], blobIdKey: Buffer, sealed: Uint8Array, blob: SealedBlob, into: Uint8Array): Uint8Array {
  const key = keys[blob.key];
  if (!key) throw new BlobNotOpened('its pack key is missing');
  const plaintext = into.subarray(0, blob.rawLength);
  const sealedBody = sealed.subarray(blob.at, blob.at + blob.length);
  const bodyLength = blob.length - TAG_LENGTH;
  if (!blob.compressed && bodyLength !== blob.rawLength) throw new BlobNotOpened(`holds ${bodyLength} bytes, expected ${blob.rawLength}`);
  if (blob.compressed && body.byteLength < bodyLength) body = new Uint8Array(Math.max(bodyLength, body.byteLength * 2));
  try {
    openInto(key, makeNonce(NonceKind.PackBlob, blob.offset), sealedBody, blob.compressed ? body : plaintext);
  } catch {
    throw new BlobNotOpened('authentication failed');
  }
  if (blob.compressed) {
    decompressor ??= new binding.DCtx();
    let length: number;
    try {
      length = decompressor.decompress(plaintext, body.subarray(0, bodyLength));
    } catch (err) {
      throw new BlobNotOpened(`decompression failed: ${(err as Error).message}`);
    }
    if (length !== blob.rawLength) throw new BlobNotOpened(`decompressed to ${length} bytes, expected ${blob.rawLength}`);
  }
  if (!computeBlobId(blobIdKey, plaintext).equals(blob.id)) throw new BlobNotOpened('its content does not match its id');
  return plaintext;
}
