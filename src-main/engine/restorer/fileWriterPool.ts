import { Worker } from 'node:worker_threads';
import type { WriteBatch, WriteRequest, WriteResults } from '../workers/fileWriter.js';
import { workerScript } from '../workers/workerScript.js';

interface Writer {
  readonly worker: Worker;
  /** Answers pending from this worker, oldest first (a worker answers its batches in order). */
  readonly waiting: { resolve(results: WriteResults): void; reject(err: unknown): void }[];
}

/**
 * File writer threads for a restore: each batch of small files goes whole to the writer with the
 * fewest batches waiting, so two threads do not create files in one folder at once.
 */
export class FileWriterPool {
  private readonly writers: Writer[] = [];

  constructor(size: number) {
    for (let i = 0; i < Math.max(1, size); i++) {
      const writer: Writer = { worker: new Worker(workerScript('fileWriter')), waiting: [] };
      writer.worker.unref();
      writer.worker.on('message', (results: WriteResults) => writer.waiting.shift()?.resolve(results));
      writer.worker.on('error', (err) => {
        for (const waiter of writer.waiting.splice(0)) waiter.reject(err);
      });
      this.writers.push(writer);
    }
  }

  /** Writes the files; one entry per file, in order: undefined when written, else why not. */
  async write(files: readonly WriteRequest[]): Promise<(string | undefined)[]> {
    const writer = this.writers.reduce((best, candidate) => (candidate.waiting.length < best.waiting.length ? candidate : best));
    const batch: WriteBatch = { files };
    const answer = new Promise<WriteResults>((resolve, reject) => writer.waiting.push({ resolve, reject }));
    writer.worker.postMessage(batch, files.map((file) => file.content.buffer as ArrayBuffer));
    return [...(await answer).errors];
  }

  async close(): Promise<void> {
    await Promise.all(this.writers.map((writer) => writer.worker.terminate()));
  }
}
