/**
 * Buffers that packs are encrypted into, handed back once a pack is written
 * and reused for the next. A blob is encrypted into its pack's buffer a
 * slice at a time (`sealInSlices`), so what node:crypto allocates dies young and
 * is freed by the next minor collection. Before, each blob's ciphertext was
 * kept until its pack was written: it outlived two minor collections, and
 * V8 frees old buffers only in a full collection, which it starts only once
 * 64 MB more external memory is held; on a 1 GiB backup the main thread's
 * malloc heap held ~150 MB, much of it such dead buffers.
 */
export class PackBuffers {
  private readonly free: Buffer[] = [];

  /** `keep`: buffers kept for reuse; more than that in use at once are allocated and dropped. */
  constructor(private readonly keep: number) {}

  /** A buffer of at least `size` bytes: the smallest free one that fits, else a new one. */
  take(size: number): Buffer {
    let best = -1;
    for (const [i, buffer] of this.free.entries()) {
      if (buffer.length >= size && (best < 0 || buffer.length < (this.free[best] as Buffer).length)) best = i;
    }
    if (best >= 0) return this.free.splice(best, 1)[0] as Buffer;
    return Buffer.allocUnsafeSlow(size);
  }

  /** Hands a buffer back; nothing may read or write it afterwards. */
  give(buffer: Buffer): void {
    if (this.free.length < this.keep) this.free.push(buffer);
  }
}
