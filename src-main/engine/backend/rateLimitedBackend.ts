import { readRangeInto, readScattered, sweepTemporaryFiles, type Backend, type ByteRange, type ObjectHandle, type ObjectInfo, type ObjectType, type TemporaryFiles } from './backend.js';

/**
 * Holds uploads to an average rate (a token bucket kept as the time the
 * next byte may go): up to one second's worth goes at once, after that each
 * object waits its turn before it is sent. The backend interface takes
 * whole objects, so the rate holds over several objects rather than within
 * one; with ~16 MiB packs that is over tens of seconds at typical limits.
 */
export class RateLimitedBackend implements Backend {
  readonly location: string;
  readonly cheapReads: boolean | undefined;
  /** When the bytes promised so far have all been sent at the rate, in ms since the epoch. */
  private drainedAt = 0;

  constructor(
    readonly inner: Backend,
    private readonly uploadBytesPerSecond: number,
  ) {
    if (!(uploadBytesPerSecond > 0)) throw new RangeError('The upload limit must be a positive number of bytes per second.');
    this.location = inner.location;
    this.cheapReads = inner.cheapReads;
  }

  create(): Promise<void> {
    return this.inner.create();
  }

  list(type: ObjectType): AsyncIterable<ObjectInfo> {
    return this.inner.list(type);
  }

  stat(handle: ObjectHandle): Promise<ObjectInfo> {
    return this.inner.stat(handle);
  }

  read(handle: ObjectHandle, range?: ByteRange): Promise<Buffer> {
    return this.inner.read(handle, range);
  }

  readInto(handle: ObjectHandle, range: ByteRange, into: Uint8Array): Promise<Uint8Array> {
    return readRangeInto(this.inner, handle, range, into);
  }

  readScattered(handle: ObjectHandle, offset: number, parts: readonly Uint8Array[]): Promise<void> {
    return readScattered(this.inner, handle, offset, parts);
  }

  async write(handle: ObjectHandle, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    const parts = Array.isArray(data) ? (data as readonly Uint8Array[]) : [data as Uint8Array];
    const bytes = parts.reduce((sum, part) => sum + part.byteLength, 0);
    const now = Date.now();
    this.drainedAt = Math.max(this.drainedAt, now) + (bytes / this.uploadBytesPerSecond) * 1000;
    const wait = this.drainedAt - 1000 - now;
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    await this.inner.write(handle, data);
  }

  delete(handle: ObjectHandle): Promise<void> {
    return this.inner.delete(handle);
  }

  sweepTemporaryFiles(dryRun: boolean): Promise<TemporaryFiles> {
    return sweepTemporaryFiles(this.inner, dryRun);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
