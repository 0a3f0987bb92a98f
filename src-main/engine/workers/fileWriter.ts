import type { KeyObject } from 'node:crypto';
import { closeSync, constants as fsConstants, fchmodSync, fchownSync, futimesSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { BlobNotOpened, openSealedBlob, type SealedBlob } from '../repository/sealedBlobs.js';

export interface WriteRequest {
  /**
   * A name in the file's folder that nothing has; the file is written there, then renamed to `path`, so
   * an existing file is replaced only by a complete one. Undefined when the folder is new: the file is
   * created at `path` itself (still O_EXCL), sparing a rename that costs as much as half a create.
   */
  readonly temp: Uint8Array | undefined;
  readonly path: Uint8Array;
  /** The file's bytes, or its chunks in order, still sealed in the batch's `sealed` buffer. */
  readonly content: Uint8Array | readonly SealedBlob[];
  /** Length of the file. */
  readonly size: number;
  readonly mode: number;
  /** Owner to set (restores run as root only); undefined keeps the restoring user. */
  readonly owner: { readonly uid: number; readonly gid: number } | undefined;
  /** Access and modification time, in float seconds. */
  readonly mtime: number;
}

export interface WriteBatch {
  readonly files: readonly WriteRequest[];
  /** The sealed chunks that requests point into, and their packs' keys. */
  readonly sealed: Uint8Array;
  readonly keys: readonly KeyObject[];
}

/** One answer per file, in order. */
export interface WriteResults {
  /** Undefined when written, else why not. */
  readonly errors: readonly (string | undefined)[];
  /**
   * Files not written because a chunk could not be opened (damaged, or not what its id says): the main
   * thread loads those chunks itself, from another copy where the repository has one.
   */
  readonly unopened: readonly number[];
}

export interface FileWriterData {
  readonly blobIdKey: Uint8Array;
}

const blobIdKey = Buffer.from((workerData as FileWriterData).blobIdKey);
/** Plaintext of the file being written: small files only come here, so one buffer, grown as needed, serves them all. */
let scratch = new Uint8Array(64 * 1024);

/**
 * Worker thread: opens the chunks of whole small files (decrypt, decompress, check each against its
 * id) and writes the files with synchronous calls (create with O_EXCL|O_NOFOLLOW under the temporary
 * name, write, mode, owner, times, rename), so each file costs its system calls and no event-loop round
 * trips, and the chunks' CPU work is spread over the writers instead of queued on the main thread. The
 * main thread has already checked the folder and read the sealed chunks.
 */
parentPort?.on('message', ({ files, sealed, keys }: WriteBatch) => {
  const unopened: number[] = [];
  const errors = files.map((request, i) => {
    let content: Uint8Array;
    try {
      content = request.content instanceof Uint8Array ? request.content : openContent(request, sealed, keys);
    } catch (err) {
      if (!(err instanceof BlobNotOpened)) throw err;
      unopened.push(i);
      return err.message;
    }
    return writeFile(request, content);
  });
  parentPort?.postMessage({ errors, unopened } satisfies WriteResults);
});

function openContent(request: WriteRequest, sealed: Uint8Array, keys: readonly KeyObject[]): Uint8Array {
  if (scratch.byteLength < request.size) scratch = new Uint8Array(Math.max(request.size, scratch.byteLength * 2));
  let at = 0;
  for (const blob of request.content as readonly SealedBlob[]) {
    if (at + blob.rawLength > request.size) throw new BlobNotOpened(`its chunks hold more than the ${request.size} bytes the snapshot says`);
    at += openSealedBlob(keys, blobIdKey, sealed, blob, scratch.subarray(at)).byteLength;
  }
  if (at !== request.size) throw new BlobNotOpened(`the snapshot says ${request.size} bytes but its chunks hold ${at}`);
  return scratch.subarray(0, at);
}

function writeFile(request: WriteRequest, content: Uint8Array): string | undefined {
  const path = Buffer.from(request.path.buffer, request.path.byteOffset, request.path.byteLength);
  const temp = request.temp ? Buffer.from(request.temp.buffer, request.temp.byteOffset, request.temp.byteLength) : undefined;
  let fd: number;
  try {
    fd = openSync(temp ?? path, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o600);
  } catch (err) {
    return `could not create the file: ${(err as Error).message}`;
  }
  try {
    try {
      for (let done = 0; done < content.byteLength; ) done += writeSync(fd, content, done, content.byteLength - done, done);
      // Owner before mode: a change of owner clears the set-user-ID and set-group-ID bits.
      if (request.owner) fchownSync(fd, request.owner.uid, request.owner.gid);
      fchmodSync(fd, request.mode);
      futimesSync(fd, request.mtime, request.mtime);
    } finally {
      closeSync(fd);
    }
    if (temp) renameSync(temp, path);
    return undefined;
  } catch (err) {
    try {
      unlinkSync(temp ?? path);
    } catch {
      // Already gone; nothing more to clean up.
    }
    return `not restored: ${(err as Error).message}`;
  }
}
