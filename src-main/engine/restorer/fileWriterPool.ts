import type { KeyObject } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { FileWriterData, WriteBatch, WriteRequest, WriteResults } from '../workers/fileWriter.js';
import { workerScript } from '../workers/workerScript.js';

interface Writer {
  readonly worker: Worker;
  /** Answers pending from this worker, oldest first (a worker answers its batches in order). */
  readonly waiting: { resolve(results: WriteResults): void; reject(err: unknown): void }[];
}

const NO_SEALED = new Uint8Array(0);

/**
 * File writer threads for a restore: each batch of small files goes whole to the writer with the
 * fewest batches waiting, so two threads do not create files in one folder at once.
 */
export class FileWriterPool {
  private readonly writers: Writer[] = [];

  constructor(size: number, blobIdKey: Buffer) {
    const workerData: FileWriterData = { blobIdKey: new Uint8Array(blobIdKey) };
    for (let i = 0; i < Math.max(1, size); i++) {
      const writer: Writer = { worker: new Worker(workerScript('fileWriter'), { workerData }), waiting: [] };
      writer.worker.unref();
      writer.worker.on('message', (results: WriteResults) => writer.waiting.shift()?.resolve(results));
      writer.worker.on('error', (err) => {
        for (const waiter of writer.waiting.splice(0)) waiter.reject(err);
      });
      this.writers.push(writer);
    }
  }

  /**
   * Writes the files, whose content is given or sealed in `sealed` (the buffers are handed over, not
   * copied). Answers one entry per file, in order: undefined when written, else why not; and which files
   * were not written because a chunk could not be opened.
   */
  async write(files: readonly WriteRequest[], sealed: { sealed: Uint8Array; keys: readonly KeyObject[] } = { sealed: NO_SEALED, keys: [] }): Promise<WriteResults> {
    const writer = this.writers.reduce((best, candidate) => (candidate.waiting.length < best.waiting.length ? candidate : best));
    const batch: WriteBatch = { files, sealed: sealed.sealed, keys: sealed.keys };
    const answer = new Promise<WriteResults>((resolve, reject) => writer.waiting.push({ resolve, reject }));
    const handed = files.flatMap((file) => (file.content instanceof Uint8Array ? [file.content.buffer as ArrayBuffer] : []));
    if (sealed.sealed.byteLength > 0) handed.push(sealed.sealed.buffer as ArrayBuffer);
    writer.worker.postMessage(batch, handed);
    return answer;
  }

  async close(): Promise<void> {
    await Promise.all(this.writers.map((writer) => writer.worker.terminate()));
  }
}
