/** Pooled buffers are whole powers of two from this size up, so one fits many requests. */
const SMALLEST = 256 * 1024;
/** Larger buffers are made for one use and left to the collector: kept, a rare large batch would hold its memory for the rest of the run. */
const LARGEST_KEPT = 4 * 1024 * 1024;

/**
 * Buffers over SharedArrayBuffers, for bytes handed to a worker thread and given back once it has
 * answered. Posted, they are shared, neither copied nor transferred, so one buffer serves batch after
 * batch. Made afresh for each batch (and transferred), the sealed chunks of a restore's small files were
 * 250 MB of ArrayBuffers in a 78,579-file restore, and their growth set off most of the main thread's
 * full collections.
 */
export class SharedBufferPool {
  private readonly free: SharedArrayBuffer[] = [];

  /** `keep`: buffers kept for reuse at most (about how many are in use at once). */
  constructor(private readonly keep: number) {}

  /** A buffer of exactly `size` bytes: a view of a free pooled one that is large enough, else of a new one. */
  take(size: number): Uint8Array {
    if (size === 0) return new Uint8Array(0);
    const at = this.free.findIndex((buffer) => buffer.byteLength >= size);
    if (at >= 0) return new Uint8Array(this.free.splice(at, 1)[0] as SharedArrayBuffer, 0, size);
    let capacity = SMALLEST;
    while (capacity < size) capacity *= 2;
    return new Uint8Array(new SharedArrayBuffer(capacity), 0, size);
  }

  /** Gives back a buffer from `take`; nothing may read or write it afterwards. Others are ignored. */
  give(view: Uint8Array): void {
    const buffer = view.buffer;
    if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength > LARGEST_KEPT) return;
    if (this.free.length < this.keep && !this.free.includes(buffer)) this.free.push(buffer);
  }
}
