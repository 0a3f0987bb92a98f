import { availableParallelism } from 'node:os';
import { ByteBudget } from '../concurrency.js';
import { computeBlobId } from '../crypto/blobId.js';
import { compressBlob } from '../repository/blobCodec.js';
import type { Repository } from '../repository/repository.js';
import { WorkerPool } from '../workers/workerPool.js';
import type { CompressRequest, CompressResponse } from '../workers/compressWorker.js';

/** Chunks smaller than this are compressed on the calling thread (measured: a worker round trip costs more). */
const INLINE_BELOW = 64 * 1024;

export interface BlobSaverStats {
  dataBlobsAdded: number;
  treeBlobsAdded: number;
  /** Bytes written to packs (compressed and encrypted). */
  bytesAdded: number;
}

/**
 * Saves a backup's chunks. Hashing and the dedup decision happen at once on
 * the calling thread (keyed BLAKE3 runs at several GB/s), so a file's chunk
 * list is known without waiting; only new chunks go to the worker pool for
 * zstd, and come back to be encrypted into the current pack. A byte budget
 * bounds the chunks in flight, so memory stays flat whatever the input.
 */
export class BlobSaver {
  readonly stats: BlobSaverStats = { dataBlobsAdded: 0, treeBlobsAdded: 0, bytesAdded: 0 };
  private readonly pool: WorkerPool<CompressRequest, CompressResponse>;
  private readonly budget: ByteBudget;
  private readonly inFlight = new Set<Promise<void>>();
  private failure: unknown;

  constructor(
    private readonly repository: Repository,
    options: { workers?: number; maxInFlightBytes?: number } = {},
  ) {
    this.pool = new WorkerPool(new URL('../workers/compressWorker.js', import.meta.url), options.workers ?? availableParallelism());
    // 16 MiB measured both faster and leaner than 64 MiB on 1 GiB (2 cores): more in flight only queues behind the workers.
    this.budget = new ByteBudget(options.maxInFlightBytes ?? 16 * 1024 * 1024);
  }

  /**
   * Saves one chunk of file content. The chunk's memory is handed to a worker
   * (transferred), so the caller must not use `chunk` afterwards; it must own
   * its whole ArrayBuffer.
   */
  async saveData(chunk: Uint8Array): Promise<Buffer> {
    this.throwFailure();
    const id = computeBlobId(this.repository.blobIdKey, chunk);
    if (!this.repository.reserveBlob(id)) return id;
    const rawLength = chunk.byteLength;
    if (rawLength < INLINE_BELOW) {
      // Sending a small chunk to a worker costs more than compressing it here.
      this.stats.bytesAdded += await this.addInline('data', id, chunk);
      this.stats.dataBlobsAdded += 1;
      return id;
    }
    await this.budget.acquire(rawLength);
    const job = this.pool
      .run({ data: chunk, level: this.repository.config.compression.level }, [chunk.buffer as ArrayBuffer])
      .then(async (prepared) => {
        // Await first, then add: `x += await …` would read x before the wait and lose concurrent updates.
        const stored = await this.repository.addPreparedBlob('data', id, prepared, rawLength);
        this.stats.bytesAdded += stored;
        this.stats.dataBlobsAdded += 1;
      })
      .catch((err: unknown) => {
        this.repository.releaseBlob(id);
        this.failure ??= err;
      })
      .finally(() => {
        this.budget.release(rawLength);
        this.inFlight.delete(job);
      });
    this.inFlight.add(job);
    return id;
  }

  /** Trees are small; they are compressed on this thread. */
  async saveTree(plaintext: Uint8Array): Promise<Buffer> {
    this.throwFailure();
    const id = computeBlobId(this.repository.blobIdKey, plaintext);
    if (!this.repository.reserveBlob(id)) return id;
    const stored = await this.addInline('tree', id, plaintext);
    this.stats.bytesAdded += stored;
    this.stats.treeBlobsAdded += 1;
    return id;
  }

  private async addInline(type: 'data' | 'tree', id: Buffer, plaintext: Uint8Array): Promise<number> {
    try {
      return await this.repository.addPreparedBlob(type, id, compressBlob(plaintext, this.repository.config.compression.level), plaintext.byteLength);
    } catch (err) {
      this.repository.releaseBlob(id);
      throw err;
    }
  }

  /** Waits for every chunk in flight and flushes the repository (packs, then index). */
  async flush(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
    this.throwFailure();
    await this.repository.flush();
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  private throwFailure(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}
