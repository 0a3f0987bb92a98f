import { HindsightError } from '../../../src-shared/errors.js';

/** The kinds of object a repository stores; each lives under its own folder/prefix. */
export type ObjectType = 'config' | 'keys' | 'data' | 'index' | 'snapshots' | 'locks';

export const OBJECT_TYPES: readonly ObjectType[] = ['config', 'keys', 'data', 'index', 'snapshots', 'locks'];

/** Names an object: `config` has the single name "config"; all others are 64 lower-case hex digits. */
export interface ObjectHandle {
  readonly type: ObjectType;
  readonly name: string;
}

export interface ObjectInfo {
  readonly name: string;
  readonly size: number;
}

export interface ByteRange {
  readonly offset: number;
  readonly length: number;
}

/**
 * Raw storage of a repository's objects. The contract every backend keeps
 * (and the shared backend test suite checks):
 *
 * - `write` is atomic: a reader sees either no object or the whole object,
 *   never a partial one, even if the process dies mid-write. Writing an
 *   existing name replaces it atomically. After `write` resolves the object is
 *   durable (fsync'd or acknowledged by the server).
 * - `read` returns exactly the requested range or fails with E_NOT_FOUND or
 *   E_INVALID_RANGE; it never returns fewer bytes silently.
 * - `list` reports each complete object of a type exactly once, never
 *   temporary files of an unfinished write.
 * - `delete` of a missing object succeeds (deletes are idempotent).
 * - Failures are `BackendError`s with a code from `BackendErrorCode`, and a
 *   message that names the target and what a person can do about it.
 */
export interface Backend {
  /** Where the repository lives, for messages (a path or URL without secrets). */
  readonly location: string;
  /**
   * A read costs about what it copies, with no round trip to amortise (the local disk): a reader then
   * reads what it needs rather than gathering neighbours it may not use (see TreeLoader's windows).
   */
  readonly cheapReads?: boolean;
  /** Creates the empty layout; fails with E_ALREADY_EXISTS if a repository is there already. */
  create(): Promise<void>;
  list(type: ObjectType): AsyncIterable<ObjectInfo>;
  stat(handle: ObjectHandle): Promise<ObjectInfo>;
  read(handle: ObjectHandle, range?: ByteRange): Promise<Buffer>;
  /**
   * `read` of a range into the start of `into` (at least `range.length` long), returning that view: for
   * a caller that reuses one buffer for many reads. Offered where reading in place is what the backend
   * does anyway (the local disk); without it, `readRangeInto` copies what `read` returns.
   */
  readInto?(handle: ObjectHandle, range: ByteRange, into: Uint8Array): Promise<Uint8Array>;
  /**
   * Reads the object's bytes from `offset` on into `parts`, filling each in turn: one range scattered
   * into several places, as one vectored read (readv). A part may be a scratch buffer for bytes nobody
   * wants, and several parts may share it. Fails with E_INVALID_RANGE when the object ends first. Offered
   * where it costs no more than one read (the local disk).
   */
  readScattered?(handle: ObjectHandle, offset: number, parts: readonly Uint8Array[]): Promise<void>;
  /** Writes the object; `data` may be given in parts, written back to back (packs are never concatenated in memory). */
  write(handle: ObjectHandle, data: Uint8Array | readonly Uint8Array[]): Promise<void>;
  delete(handle: ObjectHandle): Promise<void>;
  close(): Promise<void>;
  /**
   * Reads an object and hands it to `accept`, which throws when the bytes
   * fail authentication. A backend holding several copies (replication)
   * tries the next copy then; one with a single copy lets the error through.
   */
  readChecked?<T>(handle: ObjectHandle, range: ByteRange | undefined, accept: (bytes: Buffer) => T): Promise<T>;
  /**
   * Writes an object piece by piece as it is produced, so a pack need not be held in memory whole.
   * The object keeps `write`'s contract: nothing of it is visible under its name until `commit`
   * resolves, then all of it is, durably. Offered where the storage itself can take an object in pieces
   * (the local disk, S3's multipart upload). The retry and replication wrappers do not pass it on: what
   * was appended is gone and cannot be sent again, so a backup to a remote target hands packs to `write`
   * whole; `hindsight server` streams its uploads through the raw backend's writer (its client retries).
   */
  createWriter?(handle: ObjectHandle, options?: WriterOptions): ObjectWriter;
  /**
   * Finds the temporary files of writes that never finished (a process killed or a power cut mid-write):
   * never listed or read, they only take space. Deletes them unless `dryRun`. Call only while no other
   * process writes to the repository (under the exclusive lock, as prune is).
   */
  sweepTemporaryFiles?(dryRun: boolean): Promise<TemporaryFiles>;
}

export interface TemporaryFiles {
  readonly files: number;
  readonly bytes: number;
}

export interface WriterOptions {
  /**
   * Nothing will read the object soon (a pack): the backend may write it around its cache, so a backup
   * does not push what other programs have cached out of memory. An append of whole 4 KiB blocks at a
   * 4 KiB boundary, from memory that starts on a page boundary (`BufferPool` with an aligned size),
   * can then skip the cache; anything else is written as usual.
   */
  readonly uncached?: boolean;
}

/** An object being written by `Backend.createWriter`. Calls must not overlap: each waits for the one before. */
export interface ObjectWriter {
  /** Adds bytes at the end; the caller may reuse `data` once this resolves. */
  append(data: Uint8Array): Promise<void>;
  /** Makes the object whole and durable under its name (replacing one there), as `write` would. */
  commit(): Promise<void>;
  /** Gives the object up, leaving nothing behind; never rejects. Does nothing after `commit` resolved. */
  abort(): Promise<void>;
}

/** Reads through `readChecked` where the backend has it, so a damaged copy can be replaced by a good one. */
export async function readChecked<T>(backend: Backend, handle: ObjectHandle, range: ByteRange | undefined, accept: (bytes: Buffer) => T): Promise<T> {
  if (backend.readChecked) return backend.readChecked(handle, range, accept);
  return accept(await backend.read(handle, range));
}

/** A range of an object read into the start of `into`, in place where the backend can (see `Backend.readInto`). */
export async function readRangeInto(backend: Backend, handle: ObjectHandle, range: ByteRange, into: Uint8Array): Promise<Uint8Array> {
  if (backend.readInto) return backend.readInto(handle, range, into);
  const bytes = await backend.read(handle, range);
  into.set(bytes);
  return into.subarray(0, bytes.length);
}

/**
 * Bytes of an object from `offset` on, scattered into `parts` in turn (see `Backend.readScattered`): in
 * place where the backend can, otherwise read as one range and copied out.
 */
export async function readScattered(backend: Backend, handle: ObjectHandle, offset: number, parts: readonly Uint8Array[]): Promise<void> {
  if (backend.readScattered) return backend.readScattered(handle, offset, parts);
  const length = parts.reduce((sum, part) => sum + part.byteLength, 0);
  const bytes = await backend.read(handle, { offset, length });
  if (bytes.byteLength < length) throw new BackendError('E_INVALID_RANGE', `${handle.type}/${handle.name} ended before byte ${offset + length}.`);
  let at = 0;
  for (const part of parts) {
    part.set(bytes.subarray(at, at + part.byteLength));
    at += part.byteLength;
  }
}

/** Sweeps through `sweepTemporaryFiles` where the backend has it; one without leaves no temporary files to sweep. */
export async function sweepTemporaryFiles(backend: Backend, dryRun: boolean): Promise<TemporaryFiles> {
  return (await backend.sweepTemporaryFiles?.(dryRun)) ?? { files: 0, bytes: 0 };
}

export type BackendErrorCode =
  | 'E_NOT_FOUND'
  | 'E_INVALID_RANGE'
  | 'E_INVALID_NAME'
  | 'E_ALREADY_EXISTS'
  | 'E_TARGET_MISSING'
  | 'E_PERMISSION'
  | 'E_NO_SPACE'
  | 'E_UNREACHABLE'
  | 'E_AUTH'
  | 'E_HOST_KEY'
  | 'E_IO';

export class BackendError extends HindsightError {
  declare readonly code: BackendErrorCode;
  /**
   * True when trying again may succeed (a timeout, a reset connection, a
   * server error); the retry wrapper retries only these. Authentication, a
   * missing bucket or an unknown host stay false and fail at once.
   */
  readonly transient: boolean;

  constructor(code: BackendErrorCode, message: string, options?: { cause?: unknown; transient?: boolean }) {
    super(code, message, options);
    this.transient = options?.transient ?? false;
  }
}

export function isTransient(err: unknown): boolean {
  return err instanceof BackendError && err.transient;
}

const OBJECT_NAME = /^[0-9a-f]{64}$/;

export function isValidObjectName(type: ObjectType, name: string): boolean {
  return type === 'config' ? name === 'config' : OBJECT_NAME.test(name);
}

/** The relative path of an object inside a repository: `data/ab/ab12…`, `index/…`, `config`. */
export function objectPath(handle: ObjectHandle): string {
  if (!isValidObjectName(handle.type, handle.name)) {
    throw new BackendError('E_INVALID_NAME', `"${handle.name}" is not a valid name for a ${handle.type} object`);
  }
  if (handle.type === 'config') return 'config';
  if (handle.type === 'data') return `data/${handle.name.slice(0, 2)}/${handle.name}`;
  return `${handle.type}/${handle.name}`;
}

/** How messages name an object: `config`, `data/ab12…`, `index/…`. */
export function describeObject(handle: ObjectHandle): string {
  return handle.type === 'config' ? 'config' : `${handle.type}/${handle.name}`;
}

/** A read of bytes the object at `location` does not have (of `size` bytes, when known). */
export function rangeError(location: string, handle: ObjectHandle, range: ByteRange, size?: number): BackendError {
  return new BackendError(
    'E_INVALID_RANGE',
    `Cannot read bytes ${range.offset}–${range.offset + range.length} of ${describeObject(handle)} at ${location}: the object is shorter${size === undefined ? '' : ` (${size} bytes)`}; it may be truncated.`,
  );
}
