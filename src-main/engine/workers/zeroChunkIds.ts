import { computeBlobId } from '../crypto/blobId.js';
import { isAllZeros } from '../zeroBytes.js';

/** Smaller chunks are hashed as they are: hashing 64 KiB costs about as much as posting its message. */
const SMALLEST = 64 * 1024;
/** Lengths remembered: chunks of zeros mostly have the one length the chunker cuts zeros at, and files' ends others. */
const LENGTHS = 64;

/**
 * The ids of chunks of zeros, computed once per length. Checking a chunk for zeros is a memcmp that stops
 * at the first piece that is not zero (at once, for ordinary data); hashing it was a quarter of the CPU
 * samples of a backup of 4 GiB of zeros once the chunker skipped them (BLAKE3, ~5 GB/s here; memcmp ~20).
 */
export class ZeroChunkIds {
  private readonly ids = new Map<number, Buffer>();

  constructor(private readonly key: Buffer) {}

  /** The chunk's id if it is all zeros, undefined otherwise (or when it is too small to be worth the check). */
  idOf(chunk: Uint8Array): Buffer | undefined {
    if (chunk.byteLength < SMALLEST || !isAllZeros(chunk)) return undefined;
    let id = this.ids.get(chunk.byteLength);
    if (id === undefined) {
      if (this.ids.size >= LENGTHS) this.ids.clear();
      id = computeBlobId(this.key, chunk);
      this.ids.set(chunk.byteLength, id);
    }
    return id;
  }
}
