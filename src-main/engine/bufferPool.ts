/**
 * Large buffers handed back once used and reused, instead of allocated per use: what packs are
 * encrypted into, and the stages that packs and restored files go to the disk in. A blob is encrypted
 * into its pack's buffer a slice at a time (`sealInSlices`), so what node:crypto allocates dies young
 * and is freed by the next minor collection. Before, each blob's ciphertext was kept until its pack
 * was written: it outlived two minor collections, and V8 frees old buffers only in a full collection,
 * which it starts only once 64 MB more external memory is held; on a 1 GiB backup the main thread's
 * malloc heap held ~150 MB, much of it such dead buffers.
 */
export class BufferPool {
  private readonly free: Buffer[] = [];
  /** The memory of the aligned buffers once made; null if it could not be. */
  private aligned: ArrayBuffer | null | undefined;

  /**
   * `keep`: buffers kept for reuse; more than that in use at once are allocated and dropped.
   * `alignedSize`: the first `keep` buffers are this size (a multiple of 64 KiB) and start on a page
   * boundary, which a backend needs to write them around its cache (`WriterOptions.uncached`); they
   * are made with the first `take`.
   */
  constructor(
    private readonly keep: number,
    private readonly alignedSize?: number,
  ) {}

  /** A buffer of at least `size` bytes: the smallest free one that fits (an aligned one among equals), else a new one. */
  take(size: number): Buffer {
    if (this.aligned === undefined && this.alignedSize !== undefined) this.makeAligned(this.alignedSize);
    let best = -1;
    for (const [i, buffer] of this.free.entries()) {
      if (buffer.length >= size && (best < 0 || buffer.length < (this.free[best] as Buffer).length)) best = i;
    }
    if (best >= 0) return this.free.splice(best, 1)[0] as Buffer;
    return Buffer.allocUnsafeSlow(size);
  }

  /** Hands a buffer back; nothing may read or write it afterwards. */
  give(buffer: Buffer): void {
    if (buffer.buffer === this.aligned) this.free.unshift(buffer);
    else if (this.free.length < this.keep) this.free.push(buffer);
  }

  private makeAligned(size: number): void {
    this.aligned = alignedMemory(this.keep * size);
    if (!this.aligned) return;
    for (let i = 0; i < this.keep; i++) this.free.unshift(Buffer.from(this.aligned, i * size, size));
  }
}

/** The one JavaScript allocation whose address is known to start on a page boundary: V8 maps a WebAssembly memory with mmap. */
interface WasmMemoryConstructor {
  new (descriptor: { initial: number; maximum: number }): { readonly buffer: ArrayBuffer };
}

const WASM_PAGE = 64 * 1024;

/** `bytes` (a multiple of 64 KiB) of page-aligned memory, or null where WebAssembly memory cannot be had (a limit on address space). */
function alignedMemory(bytes: number): ArrayBuffer | null {
  const { WebAssembly } = globalThis as unknown as { WebAssembly?: { Memory: WasmMemoryConstructor } };
  if (!WebAssembly || bytes % WASM_PAGE !== 0) return null;
  try {
    return new WebAssembly.Memory({ initial: bytes / WASM_PAGE, maximum: bytes / WASM_PAGE }).buffer;
  } catch {
    return null;
  }
}
