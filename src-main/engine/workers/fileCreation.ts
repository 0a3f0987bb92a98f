import { closeSync, constants as fsConstants, fchmodSync, fchownSync, futimesSync, openSync } from 'node:fs';
import { nativeAddon } from '../nativeAddon.js';
import { writeFully } from '../restorer/fileAppender.js';
import { systemCallError } from './systemCallError.js';

/** A small file a restore's writer thread creates whole. */
export interface FileToCreate {
  readonly path: Buffer;
  readonly content: Uint8Array;
  /** The mode it is created with (the umask applies). */
  readonly createMode: number;
  readonly owner: { readonly uid: number; readonly gid: number } | undefined;
  /** The mode given after the owner (whose change clears set-user-ID and set-group-ID), where creating with it was not enough. */
  readonly chmod: number | undefined;
  /** Access and modification time, in float seconds (see utimesSeconds). */
  readonly mtime: number;
}

/** Why a file was not created (`created` false: nothing was made), or not finished (it exists, to be removed): Node's words. */
export interface CreationFailure {
  readonly created: boolean;
  readonly message: string;
}

/** The system calls of createFile's steps, as Node names them in its errors. */
const STEPS = ['open', 'write', 'fchown', 'fchmod', 'futime', 'close'] as const;

const failedStep = new Int32Array(1);

/**
 * Creates `file` (O_EXCL, never through a symbolic link), writes its content, owner, mode and times, and
 * closes it. With the addon that is one call (see its createFile) instead of five to seven through Node,
 * each ~1-2 µs outside the kernel; a failure is told in Node's words all the same. Undefined when done.
 */
export function createFile(file: FileToCreate): CreationFailure | undefined {
  const create = nativeAddon()?.createFile;
  if (!create) return createThroughNode(file);
  const result = create(file.path, file.content, file.createMode, file.owner?.uid ?? -1, file.owner?.gid ?? -1, file.chmod ?? -1, file.mtime, failedStep);
  if (result === 0) return undefined;
  const step = STEPS[failedStep[0] as number] ?? 'open';
  return { created: step !== 'open', message: systemCallError(result, step, step === 'open' ? file.path : undefined).message };
}

function createThroughNode(file: FileToCreate): CreationFailure | undefined {
  let fd: number;
  try {
    fd = openSync(file.path, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, file.createMode);
  } catch (err) {
    return { created: false, message: (err as Error).message };
  }
  try {
    try {
      writeFully(fd, file.content, 0);
      if (file.owner) fchownSync(fd, file.owner.uid, file.owner.gid);
      if (file.chmod !== undefined) fchmodSync(fd, file.chmod);
      futimesSync(fd, file.mtime, file.mtime);
    } finally {
      closeSync(fd);
    }
    return undefined;
  } catch (err) {
    return { created: true, message: (err as Error).message };
  }
}
