import { BackendError, isTransient, sweepTemporaryFiles, type Backend, type ByteRange, type ObjectHandle, type ObjectInfo, type ObjectType, type TemporaryFiles } from './backend.js';

export interface RetryPolicy {
  /** Tries per call, the first included (default 6). */
  readonly attempts?: number;
  /** Ceiling of the first wait (default 250 ms); each retry doubles it. */
  readonly baseDelayMs?: number;
  /** No wait is longer than this (default 30 s). */
  readonly maxDelayMs?: number;
  /** Told about every retry, for progress lines and logs. */
  readonly onRetry?: (event: RetryEvent) => void;
  /** Injected in tests; default Math.random. */
  readonly random?: () => number;
}

export interface RetryEvent {
  readonly location: string;
  readonly operation: string;
  readonly attempt: number;
  readonly delayMs: number;
  readonly error: unknown;
}

/**
 * Retries calls that failed with a transient error (BackendError.transient:
 * a timeout, a dropped connection, a server error) with exponential backoff
 * and full jitter: the wait before retry n is uniform in
 * [0, min(max, base * 2^n)], so many clients hitting the same outage do not
 * come back in step. Permanent errors (authentication, a missing bucket, an
 * unknown host, a missing object) go straight through. Every operation of
 * the contract is safe to repeat: writes are atomic and replace, deletes are
 * idempotent; a listing that fails part-way resumes without repeating names.
 * A ranged read that returns fewer bytes than asked is retried too.
 */
export class RetryingBackend implements Backend {
  readonly location: string;

  constructor(
    readonly inner: Backend,
    private readonly policy: RetryPolicy = {},
  ) {
    this.location = inner.location;
  }

  create(): Promise<void> {
    return this.retry('create', () => this.inner.create());
  }

  async *list(type: ObjectType): AsyncIterable<ObjectInfo> {
    const seen = new Set<string>();
    for (let attempt = 1; ; attempt++) {
      try {
        for await (const info of this.inner.list(type)) {
          if (seen.has(info.name)) continue;
          seen.add(info.name);
          yield info;
        }
        return;
      } catch (err) {
        await this.backOff(`list ${type}`, attempt, err);
      }
    }
  }

  stat(handle: ObjectHandle): Promise<ObjectInfo> {
    return this.retry('stat', () => this.inner.stat(handle));
  }

  read(handle: ObjectHandle, range?: ByteRange): Promise<Buffer> {
    return this.retry('read', async () => {
      const bytes = await this.inner.read(handle, range);
      // A body cut off in transit must not reach the decryption as "damaged data": it is another try's job.
      if (range && bytes.length !== range.length) {
        throw new BackendError('E_IO', `Reading ${handle.type}/${handle.name} from ${this.location} returned ${bytes.length} of ${range.length} bytes.`, { transient: true });
      }
      return bytes;
    });
  }

  write(handle: ObjectHandle, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    return this.retry('write', () => this.inner.write(handle, data));
  }

  delete(handle: ObjectHandle): Promise<void> {
    return this.retry('delete', () => this.inner.delete(handle));
  }

  // Safe to repeat: a file deleted by an attempt that then failed is simply not found again.
  sweepTemporaryFiles(dryRun: boolean): Promise<TemporaryFiles> {
    return this.retry('clean up', () => sweepTemporaryFiles(this.inner, dryRun));
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private async retry<T>(operation: string, call: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (err) {
        await this.backOff(operation, attempt, err);
      }
    }
  }

  /** Waits before the next attempt, or rethrows when the error is permanent or the attempts are used up. */
  private async backOff(operation: string, attempt: number, err: unknown): Promise<void> {
    if (!isTransient(err) || attempt >= (this.policy.attempts ?? 6)) throw err;
    const ceiling = Math.min(this.policy.maxDelayMs ?? 30_000, (this.policy.baseDelayMs ?? 250) * 2 ** (attempt - 1));
    const delayMs = Math.floor((this.policy.random ?? Math.random)() * ceiling);
    this.policy.onRetry?.({ location: this.location, operation, attempt, delayMs, error: err });
    await new Promise((resolve) => setTimeout(resolve, delayMs));
  }
}
