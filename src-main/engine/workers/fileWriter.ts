import { closeSync, constants as fsConstants, fchmodSync, fchownSync, futimesSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';

export interface WriteRequest {
  /**
   * A name in the file's folder that nothing has; the file is written there, then renamed to `path`, so
   * an existing file is replaced only by a complete one. Undefined when the folder is new: the file is
   * created at `path` itself (still O_EXCL), sparing a rename that costs as much as half a create.
   */
  readonly temp: Uint8Array | undefined;
  readonly path: Uint8Array;
  readonly content: Uint8Array;
  readonly mode: number;
  /** Owner to set (restores run as root only); undefined keeps the restoring user. */
  readonly owner: { readonly uid: number; readonly gid: number } | undefined;
  /** Access and modification time, in float seconds. */
  readonly mtime: number;
}

export interface WriteBatch {
  readonly files: readonly WriteRequest[];
}

/** One answer per file, in order: undefined when written, else why not. */
export interface WriteResults {
  readonly errors: readonly (string | undefined)[];
}

/**
 * Worker thread: writes whole small files with synchronous calls (create
 * with O_EXCL|O_NOFOLLOW under the temporary name, write, mode, owner, times,
 * rename), so each file costs its system calls and no event-loop round trips.
 * The main thread has already checked the folder and loaded and verified the
 * content.
 */
parentPort?.on('message', ({ files }: WriteBatch) => {
  const results: WriteResults = { errors: files.map(writeFile) };
  parentPort?.postMessage(results);
});

function writeFile(request: WriteRequest): string | undefined {
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
      for (let done = 0; done < request.content.byteLength; ) done += writeSync(fd, request.content, done, request.content.byteLength - done, done);
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
