import { computeBlobId } from '../crypto/blobId.js';
import { compressBlob, type PreparedBlob } from '../repository/blobCodec.js';
import type { Repository } from '../repository/repository.js';

export interface BlobSaverStats {
  dataBlobsAdded: number;
  treeBlobsAdded: number;
  /** Bytes written to packs (compressed and encrypted). */
  bytesAdded: number;
}

/**
 * Saves a backup's blobs: the dedup decision against the index (and against
 * blobs this run is still saving), then encryption into the open pack on
 * this thread. File chunks arrive already hashed and compressed from the
 * file workers; trees are small and compressed here.
 */
export class BlobSaver {
  readonly stats: BlobSaverStats = { dataBlobsAdded: 0, treeBlobsAdded: 0, bytesAdded: 0 };

  constructor(private readonly repository: Repository) {}

  /** Stores one chunk of file content unless the repository has it or is saving it already. */
  async saveChunk(id: Buffer, chunk: PreparedBlob, rawLength: number): Promise<void> {
    if (!this.repository.reserveBlob(id)) return;
    // Await first, then add: `x += await …` would read x before the wait and lose concurrent updates.
    const stored = await this.add('data', id, chunk, rawLength);
    this.stats.bytesAdded += stored;
    this.stats.dataBlobsAdded += 1;
  }

  /** Trees are small; they are compressed on this thread. */
  async saveTree(plaintext: Uint8Array): Promise<Buffer> {
    const id = computeBlobId(this.repository.blobIdKey, plaintext);
    if (!this.repository.reserveBlob(id)) return id;
    const stored = await this.add('tree', id, compressBlob(plaintext, this.repository.config.compression.level), plaintext.byteLength);
    this.stats.bytesAdded += stored;
    this.stats.treeBlobsAdded += 1;
    return id;
  }

  /** Flushes the repository: the open packs, then the index that names them. */
  async flush(): Promise<void> {
    await this.repository.flush();
  }

  private async add(type: 'data' | 'tree', id: Buffer, prepared: PreparedBlob, rawLength: number): Promise<number> {
    try {
      return await this.repository.addPreparedBlob(type, id, prepared, rawLength);
    } catch (err) {
      this.repository.releaseBlob(id);
      throw err;
    }
  }
}
