import { Compressor, Decompressor } from 'zstd-napi';
import binding from 'zstd-napi/binding.js';
import { YoungGarbage } from '../youngGarbage.js';
import { NonceKind, TAG_LENGTH, makeNonce, open, sealInSlices, type CipherKey } from '../crypto/aead.js';
import type { PackedBlob } from './packFormat.js';

/** A blob is stored raw unless zstd saves at least this fraction of it: already-compressed media and archives gain nothing. */
const MIN_SAVING = 0.03;

/**
 * The zstd level a tree is compressed at: 1 whenever the repository's level is higher. A tree is JSON
 * whose bulk is hex chunk ids, which zstd's fast strategy packs as well as its slower ones: the linux
 * benchmark tree's 5,102 trees (22.9 MB) took 68-95 ms at level 1 for 5.62 MB, 89-115 ms at level 3
 * for 5.77 MB, 213 and 283 ms at 6 and 9 for 5.76 and 5.75 MB; only 19 was smaller (5.41 MB, in 6 s).
 */
export function treeLevel(level: number): number {
  return Math.min(level, 1);
}

const compressors = new Map<number, Compressor>();
let decompressor: Decompressor | undefined;
let streamContext: InstanceType<typeof binding.DCtx> | undefined;

/**
 * Drops the compression contexts kept between blobs. zstd-napi's contexts keep buffers as large as the
 * largest blob they handled (32 MB after one 8 MiB blob each way, measured), for as long as they live:
 * the agent lets them go when it has no job, so an idle agent does not hold them.
 */
export function releaseCodecs(): void {
  compressors.clear();
  decompressor = undefined;
  streamContext = undefined;
}

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

/** Blobs below this size get a slot with room for any zstd frame (`SlotCompressor.slotLength`). */
const ROOMY_BELOW = 1024 * 1024;

/**
 * `compressBlob` for a thread that hands every blob on (a file worker): zstd writes straight into a
 * slot the caller gives (a file worker's ring), and the plaintext is copied there instead when
 * compression does not pay. `compressBlob` allocates the bound for every blob, which a worker then
 * holds as garbage until its next collection (~70 MB of RSS per worker, measured); a scratch buffer
 * for the bound cost each worker 8 MiB and a copy of every compressed blob.
 */
export class SlotCompressor {
  private readonly context = new binding.CCtx();

  constructor(private readonly level: number) {
    if (level > 0) this.context.setParameter(binding.CParameter.compressionLevel, level);
  }

  /**
   * The slot to give `prepareInto` for a blob of `length` bytes. A small blob gets room for any frame
   * (zstd's bound, a few hundred bytes more): in a slot only as long as the plaintext, an incompressible
   * blob makes zstd fail, and the binding builds an Error with a stack trace for it (2.6% of the CPU of a
   * backup of 10,000 small files, measured with perf). A large blob gets its own length, which keeps a
   * ring twice the largest chunk enough; one Error per large incompressible chunk costs nothing to speak of.
   */
  slotLength(length: number): number {
    return this.level > 0 && length > 0 && length < ROOMY_BELOW ? binding.compressBound(length) : length;
  }

  /** The blob's stored form, written to the start of `slot` (see `slotLength`) and returned as a view of it. */
  prepareInto(plaintext: Uint8Array, slot: Uint8Array): PreparedBlob {
    if (this.level > 0 && plaintext.byteLength > 0) {
      const worthwhile = Math.floor(plaintext.byteLength * (1 - MIN_SAVING));
      // Without room for any frame, room for no more than a worthwhile saving: zstd then fails with
      // "destination buffer is too small" when the frame would not be that small, and that (or any other
      // failure of zstd) means storing the blob raw.
      const room = slot.byteLength >= binding.compressBound(plaintext.byteLength) ? slot : slot.subarray(0, worthwhile);
      let length = -1;
      try {
        length = this.context.compress2(room, plaintext);
      } catch {
        length = -1;
      }
      if (length >= 0 && length <= worthwhile) return { body: room.subarray(0, length), compressed: true };
    }
    slot.set(plaintext);
    return { body: slot.subarray(0, plaintext.byteLength), compressed: false };
  }
}

/** Encrypts a prepared blob that starts at `offset` in its pack (the offset is the nonce counter), handing the sealed bytes to `put`; returns their length. */
export function sealBody(packKey: CipherKey, offset: number, body: Uint8Array, put: (bytes: Buffer) => void): number {
  const sealed = sealInSlices(packKey, makeNonce(NonceKind.PackBlob, offset), body, put);
  sealingGarbage.made(sealed);
  return sealed;
}

/** What sealing leaves behind in this thread (node:crypto's slices), freed as it goes (see YoungGarbage). */
const sealingGarbage = new YoungGarbage(8 * 1024 * 1024);

/** The bytes `sealBody` puts in a pack for a body of `bodyLength` bytes: the ciphertext and its tag. */
export function sealedLength(bodyLength: number): number {
  return bodyLength + TAG_LENGTH;
}

/**
 * Decrypts and decompresses one blob; returns both its stored form (what a repack re-encrypts) and its
 * plaintext. Throws AuthenticationFailure on any damage, or a plain Error if the lengths disagree.
 */
export function openBlob(packKey: CipherKey, blob: PackedBlob, sealed: Uint8Array): { body: Buffer; plaintext: Buffer } {
  const body = open(packKey, makeNonce(NonceKind.PackBlob, blob.offset), sealed);
  if (!blob.compressed) return { body, plaintext: body };
  decompressor ??= new Decompressor();
  const plaintext = decompressor.decompress(body);
  if (plaintext.byteLength !== blob.rawLength) throw new Error(`decompressed to ${plaintext.byteLength} bytes, expected ${blob.rawLength}`);
  return { body, plaintext };
}

/** A blob's plaintext given a part at a time into the caller's buffer. */
export interface PlaintextReader {
  /** Writes the next bytes to the start of `into`; how many (0 at the end). */
  read(into: Uint8Array): number;
}

/**
 * Decrypts one blob and gives its plaintext a part at a time, decompressed as it is asked for: a reader
 * of a 15 MB tree needs a window of it, not all of it at once (fresh memory is slow to touch the first
 * time on some virtual machines: 15 MB took ~55 ms on the project's test VM). The body is authenticated
 * whole before any of it is given. Throws AuthenticationFailure on any damage, or a plain Error if the
 * zstd data is not whole frames.
 */
export function openBlobReader(packKey: CipherKey, blob: PackedBlob, sealed: Uint8Array): PlaintextReader {
  const body = open(packKey, makeNonce(NonceKind.PackBlob, blob.offset), sealed);
  let input: Uint8Array = body;
  if (!blob.compressed) {
    return {
      read(into) {
        const length = Math.min(into.byteLength, input.byteLength);
        into.set(input.subarray(0, length));
        input = input.subarray(length);
        return length;
      },
    };
  }
  streamContext ??= new binding.DCtx();
  const context = streamContext;
  context.reset(binding.ResetDirective.sessionOnly);
  // Whether the last frame read is whole: zstd says so by a hint of 0.
  let frameEnded = true;
  return {
    read(into) {
      let written = 0;
      while (written < into.byteLength && (input.byteLength > 0 || !frameEnded)) {
        const [hint, produced, consumed] = context.decompressStream(into.subarray(written), input);
        input = input.subarray(consumed);
        written += produced;
        frameEnded = hint === 0;
        if (produced === 0 && consumed === 0 && !frameEnded && written < into.byteLength) throw new Error('the compressed data ends inside a frame');
      }
      return written;
    },
  };
}
