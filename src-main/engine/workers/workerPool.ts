import { Worker } from 'node:worker_threads';
import { workerScript, type WorkerName } from './workerScript.js';

interface PooledWorker<Answer> {
  readonly worker: Worker;
  /** Answers pending from this worker, oldest first (a worker answers its requests in order). */
  readonly waiting: { resolve(answer: Answer): void; reject(err: unknown): void }[];
}

/**
 * Worker threads that each answer their requests in order: a request goes whole to the worker with the
 * fewest waiting. A worker that fails rejects what it had waiting.
 */
export class WorkerPool<Request, Answer> {
  private readonly workers: PooledWorker<Answer>[] = [];

  constructor(name: WorkerName, size: number, workerData: unknown) {
    for (let i = 0; i < Math.max(1, size); i++) {
      const pooled: PooledWorker<Answer> = { worker: new Worker(workerScript(name), { workerData }), waiting: [] };
      pooled.worker.unref();
      pooled.worker.on('message', (answer: Answer) => pooled.waiting.shift()?.resolve(answer));
      pooled.worker.on('error', (err) => {
        for (const waiter of pooled.waiting.splice(0)) waiter.reject(err);
      });
      this.workers.push(pooled);
    }
  }

  /** The worker with the fewest requests waiting: by its number, for a caller that keeps sending to it (`ask`'s `to`). */
  leastBusy(): number {
    let best = 0;
    for (const [i, pooled] of this.workers.entries()) if (pooled.waiting.length < (this.workers[best] as PooledWorker<Answer>).waiting.length) best = i;
    return best;
  }

  /** Sends `request` to worker `to` (by default the least busy), handing over the buffers of `handed` (each must be the whole of its ArrayBuffer). */
  ask(request: Request, handed: readonly ArrayBufferView[], to = this.leastBusy()): Promise<Answer> {
    const pooled = this.workers[to] as PooledWorker<Answer>;
    const answer = new Promise<Answer>((resolve, reject) => pooled.waiting.push({ resolve, reject }));
    pooled.worker.postMessage(
      request,
      handed.filter((bytes) => bytes.byteLength > 0).map((bytes) => bytes.buffer as ArrayBuffer),
    );
    return answer;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((pooled) => pooled.worker.terminate()));
  }
}

