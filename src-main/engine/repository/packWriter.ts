import { randomBytes } from 'node:crypto';
import { NonceKind, TAG_LENGTH, makeNonce, seal } from '../crypto/aead.js';
import type { MasterKey } from '../crypto/masterKey.js';
import { sealBodyInto, type PreparedBlob } from './blobCodec.js';
import type { PackBuffers } from './packBuffers.js';
import { TRAILER_LENGTH, encodePackHeader, type BlobType, type PackedBlob } from './packFormat.js';

/** Packs are capped below 4 GiB because offsets and lengths are 32-bit. */
export const MAX_PACK_BYTES = 0xffff_0000;

/**
 * Blobs in one pack at most, whatever their size. Until its pack is written each blob costs a few
 * hundred bytes of bookkeeping in memory (its buffers, its header entry, its id): 16 MiB of tiny,
 * well-compressed files is 200,000 blobs and held about 200 MB, and a backup of a million such files
 * peaked near 1 GB with three packs in flight.
 */
export const MAX_BLOBS_PER_PACK = 8192;

/**
 * Collects sealed blobs for one pack in memory, in one buffer taken from
 * `buffers` (grown if a blob does not fit) and handed back by `release` once
 * the pack is written. The pack id is random and the pack key is
 * HKDF(master, id); within the pack each blob's nonce is its offset, which
 * strictly increases, so no (key, nonce) pair ever repeats.
 */
export class PackWriter {
  readonly id: Buffer;
  readonly name: string;
  private readonly key: Buffer;
  private buffer: Buffer | undefined;
  private readonly blobs: PackedBlob[] = [];
  private bytes = 0;
  private finished = false;

  /** `packSize`: the size the pack is expected to reach, what its buffer is first taken for. */
  constructor(
    master: MasterKey,
    private readonly buffers: PackBuffers,
    private readonly packSize: number,
  ) {
    this.id = randomBytes(32);
    this.name = this.id.toString('hex');
    this.key = master.packKey(this.id);
  }

  get size(): number {
    return this.bytes;
  }

  get count(): number {
    return this.blobs.length;
  }

  /** Whether the pack is ready to be written: it has reached `packSize` bytes or MAX_BLOBS_PER_PACK blobs. */
  isFull(packSize: number): boolean {
    return this.bytes >= packSize || this.blobs.length >= MAX_BLOBS_PER_PACK;
  }

  /** Whether a blob of `rawLength` still fits without overflowing 32-bit offsets. */
  fits(rawLength: number): boolean {
    return this.bytes + rawLength + 1024 < MAX_PACK_BYTES;
  }

  /** Encrypts a (possibly compressed) blob at the end of the pack. */
  add(type: BlobType, id: Buffer, prepared: PreparedBlob, rawLength: number): PackedBlob {
    if (this.finished) throw new Error('pack already finished');
    const length = sealBodyInto(this.key, this.room(prepared.body.byteLength + TAG_LENGTH), this.bytes, prepared.body);
    const blob: PackedBlob = { id, type, compressed: prepared.compressed, offset: this.bytes, length, rawLength };
    this.blobs.push(blob);
    this.bytes += length;
    return blob;
  }

  /**
   * Seals the header and returns the pack as the list of its pieces (written out in order, never
   * concatenated), its size and its blobs. The pieces stay valid until `release`.
   */
  finish(): { parts: readonly Buffer[]; size: number; blobs: readonly PackedBlob[] } {
    this.finished = true;
    const header = seal(this.key, makeNonce(NonceKind.PackHeader, 0), encodePackHeader(this.blobs));
    const trailer = Buffer.alloc(TRAILER_LENGTH);
    trailer.writeUInt32LE(header.length, 0);
    const body = this.buffer ? [this.buffer.subarray(0, this.bytes)] : [];
    return { parts: [...body, header, trailer], size: this.bytes + header.length + TRAILER_LENGTH, blobs: this.blobs };
  }

  /** Hands the pack's buffer back for the next pack: call once the pack is written (or given up). */
  release(): void {
    if (this.buffer) this.buffers.give(this.buffer);
    this.buffer = undefined;
  }

  /** The pack's buffer with room for `length` more bytes; a blob larger than the rest of it moves the pack to a larger one. */
  private room(length: number): Buffer {
    const needed = this.bytes + length;
    if (this.buffer && this.buffer.length >= needed) return this.buffer;
    const grown = this.buffers.take(Math.max(needed, this.packSize + 64 * 1024, 2 * (this.buffer?.length ?? 0)));
    if (this.buffer) {
      this.buffer.copy(grown, 0, 0, this.bytes);
      this.buffers.give(this.buffer);
    }
    this.buffer = grown;
    return grown;
  }
}
