import type { KeyObject } from 'node:crypto';
import type { FileWriterData, WriteBatch, WriteRequest, WriteResults } from '../workers/fileWriter.js';
import { WorkerPool } from '../workers/workerPool.js';

const NO_SEALED = new Uint8Array(0);

/**
 * File writer threads for a restore: each batch of small files goes whole to the writer with the
 * fewest batches waiting, so two threads do not create files in one folder at once.
 */
export class FileWriterPool {
  private readonly pool: WorkerPool<WriteBatch, WriteResults>;

  constructor(size: number, blobIdKey: Buffer) {
    this.pool = new WorkerPool('fileWriter', size, { blobIdKey: new Uint8Array(blobIdKey) } satisfies FileWriterData);
  }

  /**
   * Writes the files, whose content is given or sealed in `sealed` (the buffers are handed over, not
   * copied: each must be the whole of its ArrayBuffer; a `sealed` over a SharedArrayBuffer is shared,
   * and must not change until the answer comes). Answers one entry per file, in order: undefined
   * when written, else why not; and which files were not written because a chunk could not be opened.
   */
  write(files: readonly WriteRequest[], sealed: { sealed: Uint8Array; keys: readonly KeyObject[] } = { sealed: NO_SEALED, keys: [] }): Promise<WriteResults> {
    const handed = files.flatMap((file) => (file.content instanceof Uint8Array ? [file.content] : []));
    if (!(sealed.sealed.buffer instanceof SharedArrayBuffer)) handed.push(sealed.sealed);
    return this.pool.ask({ files, sealed: sealed.sealed, keys: sealed.keys }, handed);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
