import type { KeyObject } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { BLOB_ID_LENGTH } from '../crypto/blobId.js';
import { ByteBudget } from '../concurrency.js';
import type { MemoryIndex } from '../repository/memoryIndex.js';
import { CHUNK_FIELDS, putIndexedChunk, type PackedChunks } from '../workers/packedChunks.js';
import type { PackVerifierData, VerifyRequest, VerifyResults } from '../workers/packVerifier.js';
import { WorkerPool } from '../workers/workerPool.js';

const MiB = 1024 * 1024;

/** A piece's bytes and the table of its blobs, in shared buffers reused piece after piece. */
interface Slot {
  bytes: SharedArrayBuffer;
  table: PackedChunks;
}

/**
 * Threads that open and check a pack's blobs for `check --read-data`, one per core, while the main
 * thread reads the next pack. On one thread, opening every blob kept one core busy and left the other
 * idle.
 *
 * Pieces of packs are read straight into a few shared buffers, reused piece after piece, which the
 * threads read in place. Handed over (transferred) instead, each 16 MiB pack stayed in its thread until
 * that thread's next garbage collection: 409 MB peak RSS checking a 255 MB repository, against 237 MB
 * on one thread; read into new buffers, the main thread's garbage peaked at ~75 MB.
 *
 * The table of a piece's blobs goes the same way. As an object per blob, structured clone took ~2 us to
 * send and ~3 us to receive each (83,330 blobs in the linux tree's repository); as arrays made for each
 * piece, the verifier threads, which allocate little else and so are seldom collected, held their dead
 * ArrayBuffers: peak RSS 196-203 -> 216-232 MB.
 */
export class PackVerifierPool {
  private readonly pool: WorkerPool<VerifyRequest, VerifyResults>;
  /** Packs at once: one per thread, and one more being read. */
  readonly size = availableParallelism() + 1;
  private readonly free: Slot[] = [];
  private readonly slots = new ByteBudget(this.size);

  constructor(blobIdKey: Buffer) {
    this.pool = new WorkerPool('packVerifier', availableParallelism(), { blobIdKey: new Uint8Array(blobIdKey) } satisfies PackVerifierData);
  }

  /**
   * Reads `length` bytes of a pack from its offset `start` into a shared buffer with `read`, then checks
   * the blobs `entries` of `index` (sealed with `key`) in them: the blobs that failed, by their place in
   * `entries`, or what `read` threw.
   */
  async verify(length: number, read: (into: Uint8Array) => Promise<Uint8Array>, key: KeyObject, index: MemoryIndex, entries: readonly number[], start: number): Promise<VerifyResults | { readonly unreadable: unknown }> {
    await this.slots.acquire(1);
    const slot = this.slotFor(length, entries.length);
    try {
      try {
        await read(new Uint8Array(slot.bytes, 0, length));
      } catch (unreadable) {
        return { unreadable };
      }
      for (let i = 0; i < entries.length; i++) putIndexedChunk(slot.table, i, 0, index.offsetOf(entries[i] as number) - start, index, entries[i] as number);
      return await this.pool.ask({ shared: slot.bytes, length, keys: [key], blobs: slot.table, count: entries.length }, []);
    } finally {
      this.free.push(slot);
      this.slots.release(1);
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  /** A free slot with room for `length` bytes and `count` blobs, grown if it has not. */
  private slotFor(length: number, count: number): Slot {
    const slot = this.free.pop() ?? { bytes: new SharedArrayBuffer(0), table: { chunks: new Float64Array(0), ids: new Uint8Array(0) } };
    // Whole MiBs: pieces are cut at blob ends, so most are a little under 4 MiB, each a few bytes longer or
    // shorter than the last. Grown to each one's exact length, a check of the linux tree's repository made
    // 17 buffers of ~4 MiB for 3 slots, and the replaced ones lived on until the verifier threads, which
    // allocate little, were next collected: 20 MB more at the peak.
    if (slot.bytes.byteLength < length) slot.bytes = new SharedArrayBuffer(Math.ceil(length / MiB) * MiB);
    if (slot.table.chunks.length < CHUNK_FIELDS * count) {
      // Room for twice as many: a pack of small blobs after one of large ones does not grow it again at once.
      slot.table = {
        chunks: new Float64Array(new SharedArrayBuffer(Float64Array.BYTES_PER_ELEMENT * CHUNK_FIELDS * 2 * count)),
        ids: new Uint8Array(new SharedArrayBuffer(BLOB_ID_LENGTH * 2 * count)),
      };
    }
    return slot;
  }
}
