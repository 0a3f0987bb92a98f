import { Compressor, Decompressor } from 'zstd-napi';
import binding from 'zstd-napi/binding.js';
import { NonceKind, makeNonce, open, sealInSlices } from '../crypto/aead.js';
import type { PackedBlob } from './packFormat.js';

/** A blob is stored raw unless zstd saves at least this fraction of it: already-compressed media and archives gain nothing. */
const MIN_SAVING = 0.03;

const compressors = new Map<number, Compressor>();
let decompressor: Decompressor | undefined;

function compressorFor(level: number): Compressor {
  let compressor = compressors.get(level);
  if (!compressor) {
    compressor = new Compressor();
    compressor.setParameters({ compressionLevel: level });
    compressors.set(level, compressor);
  }
  return compressor;
}

export interface PreparedBlob {
  /** zstd frame, or the plaintext itself when compression did not pay. */
  readonly body: Uint8Array;
  readonly compressed: boolean;
}

/** Compresses a blob when that saves at least MIN_SAVING; pure CPU work, so it can run in a worker thread. */
export function compressBlob(plaintext: Uint8Array, level: number): PreparedBlob {
  if (level > 0 && plaintext.byteLength > 0) {
    const packed = compressorFor(level).compress(plaintext);
    if (packed.byteLength <= plaintext.byteLength * (1 - MIN_SAVING)) return { body: packed, compressed: true };
  }
  return { body: plaintext, compressed: false };
}

/**
 * `compressBlob` for a thread that hands every blob on (a file worker): zstd writes straight into a
 * slot the caller gives (a file worker's ring), as long as the plaintext, and the plaintext is copied
 * there instead when compression does not pay. `compressBlob` allocates the bound for every blob,
 * which a worker then holds as garbage until its next collection (~70 MB of RSS per worker,
 * measured); a scratch buffer for the bound cost each worker 8 MiB and a copy of every compressed blob.
 */
export class SlotCompressor {
  private readonly context = new binding.CCtx();

  constructor(private readonly level: number) {
    if (level > 0) this.context.setParameter(binding.CParameter.compressionLevel, level);
  }

  /** The blob's stored form, written to the start of `slot` (at least `plaintext.byteLength` long) and returned as a view of it. */
  prepareInto(plaintext: Uint8Array, slot: Uint8Array): PreparedBlob {
    if (this.level > 0 && plaintext.byteLength > 0) {
      // Room for no more than a worthwhile saving: zstd fails with "destination buffer is too small" when
      // the frame would not be that small, and that (or any other failure of zstd) means storing it raw.
      const room = slot.subarray(0, Math.floor(plaintext.byteLength * (1 - MIN_SAVING)));
      let length = -1;
      try {
        length = this.context.compress2(room, plaintext);
      } catch {
        length = -1;
      }
      if (length >= 0) return { body: room.subarray(0, length), compressed: true };
    }
    slot.set(plaintext);
    return { body: slot.subarray(0, plaintext.byteLength), compressed: false };
  }
}

/** Encrypts a prepared blob that starts at `offset` in its pack (the offset is the nonce counter), handing the sealed bytes to `put`; returns their length. */
export function sealBody(packKey: Buffer, offset: number, body: Uint8Array, put: (bytes: Buffer) => void): number {
  return sealInSlices(packKey, makeNonce(NonceKind.PackBlob, offset), body, put);
}

/**
 * Decrypts and decompresses one blob; returns both its stored form (what a repack re-encrypts) and its
 * plaintext. Throws AuthenticationFailure on any damage, or a plain Error if the lengths disagree.
 */
export function openBlob(packKey: Buffer, blob: PackedBlob, sealed: Uint8Array): { body: Buffer; plaintext: Buffer } {
  const body = open(packKey, makeNonce(NonceKind.PackBlob, blob.offset), sealed);
  if (!blob.compressed) return { body, plaintext: body };
  decompressor ??= new Decompressor();
  const plaintext = decompressor.decompress(body);
  if (plaintext.byteLength !== blob.rawLength) throw new Error(`decompressed to ${plaintext.byteLength} bytes, expected ${blob.rawLength}`);
  return { body, plaintext };
}
