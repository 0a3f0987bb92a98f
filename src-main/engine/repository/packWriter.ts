import { randomBytes, type KeyObject } from 'node:crypto';
import { NonceKind, TAG_LENGTH, makeNonce, seal } from '../crypto/aead.js';
import type { MasterKey } from '../crypto/masterKey.js';
import type { ObjectHandle } from '../backend/backend.js';
import { sealBody, sealedLength, type PreparedBlob } from './blobCodec.js';
import type { PackBody } from './packBody.js';
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
 * Builds one pack: seals each blob into the pack's body (in memory, or
 * written on as it comes; see PackBody) and, when stored, the header that
 * lists them. The pack id is random and the pack key is HKDF(master, id);
 * within the pack each blob's nonce is its offset, which strictly increases,
 * so no (key, nonce) pair ever repeats.
 */
export class PackWriter {
  readonly id: Buffer;
  readonly name: string;
  private readonly key: KeyObject;
  private readonly body: PackBody;
  private readonly blobs: PackedBlob[] = [];
  private readonly ids = new IdSlabs();
  private bytes = 0;
  private finished = false;

  /** `bodyFor`: where the pack named by the handle keeps its bytes. */
  constructor(master: MasterKey, bodyFor: (handle: ObjectHandle) => PackBody) {
    this.id = randomBytes(32);
    this.name = this.id.toString('hex');
    this.key = master.packKey(this.id);
    this.body = bodyFor({ type: 'data', name: this.name });
  }

  get size(): number {
    return this.bytes;
  }

  get count(): number {
    return this.blobs.length;
  }

  /** Whether the pack is ready to be written: it has reached `packSize` bytes or MAX_BLOBS_PER_PACK blobs. */
  isFull(packSize: number): boolean {
    return isFull(this.bytes, this.blobs.length, packSize);
  }

  /** Whether adding a blob whose prepared body is `bodyLength` bytes would make the pack full (see isFull). */
  fullWith(bodyLength: number, packSize: number): boolean {
    return isFull(this.bytes + sealedLength(bodyLength), this.blobs.length + 1, packSize);
  }

  /** Whether a blob of `rawLength` still fits without overflowing 32-bit offsets. */
  fits(rawLength: number): boolean {
    return this.bytes + rawLength + 1024 < MAX_PACK_BYTES;
  }

  /** Encrypts a (possibly compressed) blob at the end of the pack. */
  add(type: BlobType, id: Buffer, prepared: PreparedBlob, rawLength: number): PackedBlob {
    if (this.finished) throw new Error('pack already finished');
    this.body.reserve(prepared.body.byteLength + TAG_LENGTH);
    const length = sealBody(this.key, this.bytes, prepared.body, (bytes) => this.body.put(bytes));
    const blob: PackedBlob = { id: this.ids.keep(id), type, compressed: prepared.compressed, offset: this.bytes, length, rawLength };
    this.blobs.push(blob);
    this.bytes += length;
    return blob;
  }

  /** Whether the pack should take no more blobs until `ready` resolves: too many of its bytes are on their way, or writing them failed. */
  get congested(): boolean {
    return this.body.congested;
  }

  /** Resolves when the pack may take more blobs (see PackBody.ready); rejects when storing it has failed. */
  ready(): Promise<void> {
    return this.body.ready();
  }

  /** Seals the header, ends the pack with it and stores the pack; returns its size and blobs. */
  async store(): Promise<{ size: number; blobs: readonly PackedBlob[] }> {
    this.finished = true;
    const header = seal(this.key, makeNonce(NonceKind.PackHeader, 0), encodePackHeader(this.blobs));
    const trailer = Buffer.alloc(TRAILER_LENGTH);
    trailer.writeUInt32LE(header.length, 0);
    await this.body.store([header, trailer]);
    return { size: this.bytes + header.length + TRAILER_LENGTH, blobs: this.blobs };
  }

  /** Frees the pack's memory, and gives up the pack unless it was stored: call once, after `store` settles or instead of it. */
  release(): Promise<void> {
    this.finished = true;
    return this.body.release();
  }
}

function isFull(bytes: number, blobs: number, packSize: number): boolean {
  return bytes >= packSize || blobs >= MAX_BLOBS_PER_PACK;
}

/** Bytes of ids per slab: 2,048 ids. */
const ID_SLAB_BYTES = 64 * 1024;

/**
 * Copies of a pack's blob ids, side by side in slabs of their own. An id is often a view of Node's shared
 * 8 KiB Buffer pool (`Buffer.from(hex, 'hex')`), and a view keeps its whole slab alive: a pack's ids live
 * until its index is written, and a tree pack fills slowly, one folder's tree among the walk's other
 * allocations at a time, so each tree id held a slab of its own. A first backup of a 78,579-file tree
 * (5,095 folders) held 4,080 such slabs, 32 MB, nine seconds in (heap snapshot).
 */
class IdSlabs {
  private slab: Buffer | undefined;
  private used = 0;

  keep(id: Buffer): Buffer {
    if (!this.slab || this.used + id.length > this.slab.length) {
      this.slab = Buffer.allocUnsafeSlow(Math.max(ID_SLAB_BYTES, id.length));
      this.used = 0;
    }
    const kept = this.slab.subarray(this.used, this.used + id.length);
    id.copy(kept);
    this.used += id.length;
    return kept;
  }
}
