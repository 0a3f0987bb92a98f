import { BackendError, objectPath, sweepTemporaryFiles, type Backend, type ByteRange, type ObjectHandle, type ObjectInfo, type ObjectType, type TemporaryFiles } from './backend.js';

/** What the engine knows about one target of a replicated repository, for the CLI and the UI. */
export interface TargetStatus {
  readonly location: string;
  /** False once a call to it failed in this session; undefined until it was used. */
  readonly reachable: boolean | undefined;
  /** True when it missed a write or delete in this session and needs `repair`. */
  readonly behind: boolean;
  /** When it last completed a call. */
  readonly lastSuccess: Date | undefined;
  readonly lastError: string | undefined;
}

export type ReplicationEvent =
  /** A target failed; it gets no more writes in this session and is behind from now on. */
  | { readonly kind: 'target-down'; readonly location: string; readonly error: string }
  /** An object was missing or damaged on one target (or the target was down) and was read from another. */
  | { readonly kind: 'read-fallback'; readonly object: string; readonly failed: string; readonly reason: string; readonly readFrom: string | undefined };

interface TargetState {
  readonly backend: Backend;
  down: boolean;
  behind: boolean;
  used: boolean;
  lastSuccess: Date | undefined;
  lastError: string | undefined;
}

/**
 * One repository stored whole on several targets. Writes and deletes go to
 * every target at once and succeed when at least one target took them; a
 * target that fails is marked down and behind, gets nothing more in this
 * session, and `repair` brings it level later. Reads go to the first target
 * that is up and fall back to the next when the object is missing there,
 * the target fails, or (through `readChecked`) the bytes fail
 * authentication; each fallback is reported. Listings are the union of
 * every reachable target, so an object one target lacks is still found.
 * An invalid object name is refused before any target is asked, so no
 * target is marked down for a mistake every target would refuse alike.
 */
export class ReplicatedBackend implements Backend {
  readonly location: string;
  private readonly states: TargetState[];

  constructor(
    targets: readonly Backend[],
    private readonly onEvent: (event: ReplicationEvent) => void = () => undefined,
  ) {
    if (targets.length === 0) throw new RangeError('A replicated repository needs at least one target.');
    this.states = targets.map((backend) => ({ backend, down: false, behind: false, used: false, lastSuccess: undefined, lastError: undefined }));
    this.location = targets.map((t) => t.location).join(' + ');
  }

  /** As the target reads go to first: the first one not found down. */
  get cheapReads(): boolean | undefined {
    return this.states.find((s) => !s.down)?.backend.cheapReads;
  }

  get targets(): readonly Backend[] {
    return this.states.map((s) => s.backend);
  }

  status(): TargetStatus[] {
    return this.states.map((s) => ({
      location: s.backend.location,
      reachable: s.used ? !s.down : undefined,
      behind: s.behind,
      lastSuccess: s.lastSuccess,
      lastError: s.lastError,
    }));
  }

  /** Every target must take the new repository: a replica that starts incomplete would only be behind from the first moment. */
  async create(): Promise<void> {
    const results = await Promise.allSettled(this.states.map((s) => this.track(s, () => s.backend.create())));
    const failed = results.findIndex((r) => r.status === 'rejected');
    if (failed >= 0) throw (results[failed] as PromiseRejectedResult).reason;
  }

  async *list(type: ObjectType): AsyncIterable<ObjectInfo> {
    const seen = new Map<string, ObjectInfo>();
    let listed = 0;
    let firstError: unknown;
    for (const state of this.live()) {
      try {
        await this.track(state, async () => {
          for await (const info of state.backend.list(type)) if (!seen.has(info.name)) seen.set(info.name, info);
        });
        listed += 1;
      } catch (err) {
        firstError ??= err;
        this.markDown(state, err);
      }
    }
    if (listed === 0) throw firstError ?? this.noTargetLeft(undefined);
    yield* seen.values();
  }

  async stat(handle: ObjectHandle): Promise<ObjectInfo> {
    objectPath(handle);
    return this.firstGood(handle, (backend) => backend.stat(handle), (info) => info);
  }

  async read(handle: ObjectHandle, range?: ByteRange): Promise<Buffer> {
    return this.readChecked(handle, range, (bytes) => bytes);
  }

  async readChecked<T>(handle: ObjectHandle, range: ByteRange | undefined, accept: (bytes: Buffer) => T): Promise<T> {
    objectPath(handle);
    return this.firstGood(handle, (backend) => backend.read(handle, range), accept);
  }

  async write(handle: ObjectHandle, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    objectPath(handle);
    await this.everywhere((backend) => backend.write(handle, data));
  }

  async delete(handle: ObjectHandle): Promise<void> {
    objectPath(handle);
    await this.everywhere((backend) => backend.delete(handle));
  }

  /** Sweeps every target that is up and can; a failure on any of them fails the sweep. */
  async sweepTemporaryFiles(dryRun: boolean): Promise<TemporaryFiles> {
    let files = 0;
    let bytes = 0;
    for (const { backend } of this.live()) {
      const swept = await sweepTemporaryFiles(backend, dryRun);
      files += swept.files;
      bytes += swept.bytes;
    }
    return { files, bytes };
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.states.map((s) => s.backend.close()));
  }

  private live(): TargetState[] {
    return this.states.filter((s) => !s.down);
  }

  private async everywhere(call: (backend: Backend) => Promise<void>): Promise<void> {
    const live = this.live();
    const results = await Promise.allSettled(live.map((s) => this.track(s, () => call(s.backend))));
    let succeeded = 0;
    results.forEach((result, i) => {
      const state = live[i] as TargetState;
      if (result.status === 'fulfilled') succeeded += 1;
      else this.markDown(state, result.reason);
    });
    for (const state of this.states) if (state.down) state.behind = true;
    if (succeeded === 0) throw this.noTargetLeft(results.find((r) => r.status === 'rejected')?.reason);
  }

  /**
   * Tries each live target in turn until one returns an object that `accept`
   * takes. A missing or damaged copy is reported and skipped; a failing
   * target is marked down. When no copy is good, the most telling error is
   * thrown: damage over absence, absence over a dead target.
   */
  private async firstGood<R, T>(handle: ObjectHandle, fetch: (backend: Backend) => Promise<R>, accept: (value: R) => T): Promise<T> {
    const object = handle.type === 'config' ? 'config' : `${handle.type}/${handle.name}`;
    const live = this.live();
    let damage: unknown;
    let missing: unknown;
    let failure: unknown;
    const failures: { location: string; reason: string }[] = [];
    for (const state of live) {
      let value: R;
      try {
        value = await this.track(state, () => fetch(state.backend));
      } catch (err) {
        if (err instanceof BackendError && (err.code === 'E_NOT_FOUND' || err.code === 'E_INVALID_RANGE')) {
          missing ??= err;
          failures.push({ location: state.backend.location, reason: err.code === 'E_NOT_FOUND' ? 'missing' : 'truncated' });
        } else {
          failure ??= err;
          this.markDown(state, err);
          failures.push({ location: state.backend.location, reason: `unreachable: ${(err as Error).message}` });
        }
        continue;
      }
      try {
        const accepted = accept(value);
        this.reportFallbacks(object, failures, state.backend.location);
        return accepted;
      } catch (err) {
        damage ??= err;
        failures.push({ location: state.backend.location, reason: `damaged: ${(err as Error).message}` });
      }
    }
    if (live.length > 1) this.reportFallbacks(object, failures, undefined);
    throw damage ?? missing ?? failure ?? this.noTargetLeft(undefined);
  }

  private reportFallbacks(object: string, failures: readonly { location: string; reason: string }[], readFrom: string | undefined): void {
    // A lock left on one target by a backup that could not reach the other is stale and harmless: not worth a warning.
    if (object.startsWith('locks/')) return;
    for (const { location, reason } of failures) this.onEvent({ kind: 'read-fallback', object, failed: location, reason, readFrom });
  }

  private async track<T>(state: TargetState, call: () => Promise<T>): Promise<T> {
    state.used = true;
    const value = await call();
    state.lastSuccess = new Date();
    return value;
  }

  private markDown(state: TargetState, err: unknown): void {
    state.lastError = (err as Error | undefined)?.message ?? String(err);
    if (state.down) return;
    state.down = true;
    state.behind = true;
    this.onEvent({ kind: 'target-down', location: state.backend.location, error: state.lastError });
  }

  private noTargetLeft(cause: unknown): BackendError {
    const detail = this.states.map((s) => `${s.backend.location}: ${s.lastError ?? 'not tried'}`).join('; ');
    return new BackendError('E_UNREACHABLE', `No target of the repository could be used (${detail}).`, { cause });
  }
}
