import { Worker, type Transferable } from 'node:worker_threads';

interface Job<Res> {
  readonly message: unknown;
  readonly transfer: readonly Transferable[];
  resolve(result: Res): void;
  reject(err: unknown): void;
}

interface Slot<Res> {
  readonly worker: Worker;
  job: Job<Res> | undefined;
}

/**
 * A fixed set of worker threads running one script; each takes one job at a
 * time from a shared queue. A worker that crashes fails its job and is
 * replaced, so one bad input cannot stall a backup.
 */
export class WorkerPool<Req, Res> {
  private readonly slots: Slot<Res>[] = [];
  private readonly queue: Job<Res>[] = [];
  private closed = false;

  constructor(
    private readonly script: URL,
    size: number,
    private readonly workerData?: unknown,
  ) {
    for (let i = 0; i < Math.max(1, size); i++) this.slots.push(this.spawn());
  }

  get size(): number {
    return this.slots.length;
  }

  run(request: Req, transfer: readonly Transferable[] = []): Promise<Res> {
    if (this.closed) return Promise.reject(new Error('worker pool is closed'));
    return new Promise<Res>((resolve, reject) => {
      this.queue.push({ message: request, transfer, resolve, reject });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new Error('worker pool is closed'));
    await Promise.all(this.slots.map((slot) => slot.worker.terminate()));
  }

  private spawn(): Slot<Res> {
    const slot: Slot<Res> = { worker: new Worker(this.script, { workerData: this.workerData }), job: undefined };
    slot.worker.unref();
    slot.worker.on('message', (result: Res) => {
      const job = slot.job;
      slot.job = undefined;
      job?.resolve(result);
      this.dispatch();
    });
    slot.worker.on('error', (err) => {
      slot.job?.reject(err);
      slot.job = undefined;
      if (this.closed) return;
      const index = this.slots.indexOf(slot);
      if (index >= 0) this.slots[index] = this.spawn();
      this.dispatch();
    });
    return slot;
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.job || this.queue.length === 0) continue;
      const job = this.queue.shift() as Job<Res>;
      slot.job = job;
      slot.worker.postMessage(job.message, job.transfer);
    }
  }
}
