import type { Backend, ObjectHandle, ObjectWriter } from '../backend/backend.js';
import type { BufferPool } from '../bufferPool.js';

/**
 * Where a pack's sealed bytes go as they are produced: held in memory until
 * the pack is stored whole (`MemoryPackBody`), or written on to the backend as
 * they come (`StreamedPackBody`, for a backend that offers `createWriter`).
 */
export interface PackBody {
  /** `length` bytes are about to be put, for one blob: a buffer grows once for them, not slice by slice. */
  reserve(length: number): void;
  /** Copies `bytes` to the end of the pack; `bytes` may be reused once this returns. */
  put(bytes: Uint8Array): void;
  /** True while too many bytes are on their way to the backend, or after writing them failed: `ready` tells when to go on. */
  readonly congested: boolean;
  /** Resolves once the pack is no longer congested; rejects with the backend's error when writing failed. */
  ready(): Promise<void>;
  /** Ends the pack with `tail` (its header and trailer) and stores it durably. */
  store(tail: readonly Buffer[]): Promise<void>;
  /** Frees the pack's memory and gives up a pack that was not stored. Call once, after `store` settles or instead of it. */
  release(): Promise<void>;
}

/**
 * The pack in one buffer taken from `buffers` (grown when a blob does not
 * fit), written with one `Backend.write` and then handed back for the next
 * pack. Remote and replicated targets take a pack whole: a write can be
 * retried, and goes to every replica.
 */
export class MemoryPackBody implements PackBody {
  private buffer: Buffer | undefined;
  private bytes = 0;

  /** `packSize`: the size the pack is expected to reach, what its buffer is first taken for. */
  constructor(
    private readonly backend: Backend,
    private readonly handle: ObjectHandle,
    private readonly buffers: BufferPool,
    private readonly packSize: number,
  ) {}

  reserve(length: number): void {
    const needed = this.bytes + length;
    if (this.buffer && this.buffer.length >= needed) return;
    const grown = this.buffers.take(Math.max(needed, this.packSize + 64 * 1024, 2 * (this.buffer?.length ?? 0)));
    if (this.buffer) {
      this.buffer.copy(grown, 0, 0, this.bytes);
      this.buffers.give(this.buffer);
    }
    this.buffer = grown;
  }

  put(bytes: Uint8Array): void {
    this.reserve(bytes.byteLength);
    (this.buffer as Buffer).set(bytes, this.bytes);
    this.bytes += bytes.byteLength;
  }

  readonly congested = false;

  ready(): Promise<void> {
    return Promise.resolve();
  }

  // The pack goes out as its pieces, written back to back: it is never concatenated.
  store(tail: readonly Buffer[]): Promise<void> {
    return this.backend.write(this.handle, [...(this.buffer ? [this.buffer.subarray(0, this.bytes)] : []), ...tail]);
  }

  release(): Promise<void> {
    if (this.buffer) this.buffers.give(this.buffer);
    this.buffer = undefined;
    return Promise.resolve();
  }
}

/** Sealed bytes are gathered into stages of this size and appended a stage at a time. */
export const STAGE_BYTES = 1024 * 1024;
/** Stages on their way to the disk at most, per pack, before the pack waits for them. */
const STAGES_IN_FLIGHT = 4;

/**
 * The pack appended to the backend a stage (1 MiB) at a time while it fills,
 * and committed (fsync'd and renamed into place) when stored. A backup of a
 * local disk held up to four 16 MiB packs in memory (filling, waiting for a
 * write slot, two being written): ~55 MB of its peak at 1 GiB. A stage goes
 * back to `stages` once written, for the next.
 */
export class StreamedPackBody implements PackBody {
  private stage: Buffer | undefined;
  private filled = 0;
  /** Appends queued or running, oldest first; each leaves the queue when it is done. */
  private readonly inFlight: Promise<void>[] = [];
  private last: Promise<void> = Promise.resolve();
  private failure: { error: unknown } | undefined;
  private stored = false;

  constructor(
    private readonly writer: ObjectWriter,
    private readonly stages: BufferPool,
  ) {}

  reserve(): void {}

  put(bytes: Uint8Array): void {
    for (let from = 0; from < bytes.byteLength; ) {
      this.stage ??= this.stages.take(STAGE_BYTES);
      const length = Math.min(bytes.byteLength - from, this.stage.length - this.filled);
      this.stage.set(bytes.subarray(from, from + length), this.filled);
      this.filled += length;
      from += length;
      if (this.filled === this.stage.length) this.send();
    }
  }

  get congested(): boolean {
    return this.inFlight.length > STAGES_IN_FLIGHT || this.failure !== undefined;
  }

  async ready(): Promise<void> {
    while (this.inFlight.length > STAGES_IN_FLIGHT) await this.inFlight[0];
    if (this.failure) throw this.failure.error;
  }

  async store(tail: readonly Buffer[]): Promise<void> {
    for (const bytes of tail) this.put(bytes);
    if (this.filled > 0) this.send();
    await this.last;
    if (this.failure) throw this.failure.error;
    await this.writer.commit();
    this.stored = true;
  }

  async release(): Promise<void> {
    if (this.stage) this.stages.give(this.stage);
    this.stage = undefined;
    // The writer's calls must not overlap: appends still running finish (or fail) before the abort.
    await this.last;
    if (!this.stored) await this.writer.abort();
  }

  /** Queues the current stage's bytes for appending, after those queued before. */
  private send(): void {
    const stage = this.stage as Buffer;
    const bytes = stage.subarray(0, this.filled);
    this.stage = undefined;
    this.filled = 0;
    const append = this.last.then(async () => {
      try {
        // After a failed append the pack is given up: the ones queued behind it are not written.
        if (!this.failure) await this.writer.append(bytes);
      } catch (error) {
        this.failure ??= { error };
      } finally {
        this.stages.give(stage);
        this.inFlight.shift();
      }
    });
    this.inFlight.push(append);
    this.last = append;
  }
}
