import type { KeyObject } from 'node:crypto';
import { readFileSync, renameSync, unlinkSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { BufferPool } from '../bufferPool.js';
import { BlobNotOpened, openSealedBlob, type SealedBlob } from '../repository/sealedBlobs.js';
import { FileAppender, RESTORE_STAGE_BYTES } from '../restorer/fileAppender.js';
import { createFile } from './fileCreation.js';
import { PackedChunk } from './packedChunks.js';
import { packedChunks, packedFile, type FileToWrite, type PackedFiles } from './packedFiles.js';
import { isAllZeros } from '../zeroBytes.js';
import { YoungGarbage } from '../youngGarbage.js';

/** A file whose bytes the main thread loaded itself (its chunks could not be opened where a batch found them). */
export interface WriteRequest {
  /** See FileToWrite. Copies, so that each travels as its own small buffer. */
  readonly temp: Uint8Array | undefined;
  readonly path: Uint8Array;
  readonly content: Uint8Array;
  readonly size: number;
  readonly mode: number;
  readonly owner: { readonly uid: number; readonly gid: number } | undefined;
  readonly mtime: number;
}

/** Small files whose chunks are sealed in `sealed`. */
export interface WriteBatch {
  readonly kind: 'files';
  readonly files: PackedFiles;
  /** The sealed chunks that the files' chunks point into, and their packs' keys. */
  readonly sealed: Uint8Array;
  readonly keys: readonly KeyObject[];
}

/** Files whose bytes come with them (see WriteRequest). */
export interface LoadedFiles {
  readonly kind: 'loaded';
  readonly files: readonly WriteRequest[];
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

/** A piece of a large file: a chunk sealed in the message's buffer, a chunk known to hold only zeros (a hole), or a chunk's bytes loaded by the main thread. */
export type FilePiece = { readonly blob: SealedBlob } | { readonly zeros: number } | { readonly bytes: Uint8Array };

/**
 * The next pieces of a large file, appended in order. The file is open on the main thread, which keeps
 * its descriptors open until its `FileEnd` is answered: a number closed and reused for another file
 * meanwhile would be written into.
 */
export interface FileSegment {
  readonly kind: 'segment';
  /** The main thread's number for the file, the same in each of its messages, which all go to this writer. */
  readonly file: number;
  readonly fd: number;
  /** The same file opened with O_DIRECT (see FileAppender), if it could be. */
  readonly direct: number | undefined;
  readonly pieces: readonly FilePiece[];
  readonly sealed: Uint8Array;
  readonly keys: readonly KeyObject[];
}

export interface SegmentWritten {
  /** Pieces appended, from the first: all of them, unless `error` says why the next one was not. */
  readonly appended: number;
  /** Pieces that held only zeros (left as holes), for the main thread to know those chunks by their id. */
  readonly zeros: readonly number[];
  readonly error?: string;
  /** The piece that stopped the segment was a chunk that could not be opened: the main thread loads it itself, from another copy where the repository has one. */
  readonly unopened?: boolean;
}

/** A large file's last message: what is staged is written and the file's state dropped, or only dropped (`discard`). */
export interface FileEnd {
  readonly kind: 'end';
  readonly file: number;
  readonly discard: boolean;
}

/** The file's size once written; `error` when its last writes failed. */
export interface FileEnded {
  readonly size: number;
  readonly error?: string;
}

export type WriterMessage = WriteBatch | LoadedFiles | FileSegment | FileEnd;

export interface FileWriterData {
  readonly blobIdKey: Uint8Array;
  /** Large files a restore writes at once: each writer keeps that many aligned stages. */
  readonly largeFiles: number;
}

const { blobIdKey: blobIdKeyBytes, largeFiles: largeFilesAtOnce } = workerData as FileWriterData;
const blobIdKey = Buffer.from(blobIdKeyBytes);
/** Plaintext of the file or chunk being written: one buffer, grown as needed, serves them all, so no chunk's plaintext is a fresh allocation (and its page faults). */
let scratch = new Uint8Array(64 * 1024);
/** Stages of large files' uncached writes, page-aligned; made with the first large file. */
const stages = new BufferPool(largeFilesAtOnce, RESTORE_STAGE_BYTES);
/** Large files being written, by the main thread's number, with the stage each holds. */
const largeFiles = new Map<number, { readonly appender: FileAppender; readonly stage: Buffer | undefined }>();
/** What decrypting leaves behind, freed as it goes (see YoungGarbage). */
const garbage = new YoungGarbage();
/** The process's umask (see createMode), where it can be read without changing it: Linux's /proc. */
const umask = readUmask();

/** The umask from /proc/self/status, or undefined (process.umask() reads it by setting it twice, racing with any thread creating a file meanwhile). */
function readUmask(): number | undefined {
  try {
    const line = /^Umask:\s*([0-7]+)$/m.exec(readFileSync('/proc/self/status', 'latin1'));
    return line ? parseInt(line[1] as string, 8) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The mode to create a restored file with, and whether it must still be set after. A file is created
 * with its own permission bits when the umask leaves them whole and it has no set-user-ID, set-group-ID
 * or sticky bit (which a change of owner would clear, or which are not the creator's to set): nearly
 * every file, which is then spared an fchmod (78,579 of them restoring the linux tree). Otherwise
 * owner-only, and its mode set once it is written and owned.
 */
function createMode(mode: number): { readonly create: number; readonly chmod: boolean } {
  const permissions = mode & 0o7777;
  if (umask === undefined || (permissions & ~0o777) !== 0 || (permissions & umask) !== 0) return { create: 0o600, chmod: true };
  return { create: permissions, chmod: false };
}

/**
 * Worker thread: opens the chunks of whole small files (decrypt, decompress, check each against its
 * id) and writes the files with synchronous calls (create with O_EXCL|O_NOFOLLOW under the temporary
 * name, write, mode, owner, times, rename), so each file costs its system calls and no event-loop round
 * trips, and the chunks' CPU work is spread over the writers instead of queued on the main thread. The
 * main thread has already checked the folder and read the sealed chunks. Large files come a segment at
 * a time (`appendSegment`), each file to one writer, into a file the main thread has opened.
 */
parentPort?.on('message', (message: WriterMessage) => {
  if (message.kind === 'segment') parentPort?.postMessage(appendSegment(message) satisfies SegmentWritten);
  else if (message.kind === 'end') parentPort?.postMessage(endFile(message) satisfies FileEnded);
  else if (message.kind === 'loaded') parentPort?.postMessage(writeLoadedFiles(message) satisfies WriteResults);
  else parentPort?.postMessage(writeFiles(message) satisfies WriteResults);
});

function writeFiles({ files, sealed, keys }: WriteBatch): WriteResults {
  const unopened: number[] = [];
  const errors: (string | undefined)[] = [];
  const chunk = new PackedChunk(files);
  for (let i = 0; i < files.count; i += 1) {
    const file = packedFile(files, i);
    let content: Uint8Array;
    try {
      content = openContent(file.size, packedChunks(files, i), chunk, sealed, keys);
    } catch (err) {
      if (!(err instanceof BlobNotOpened)) throw err;
      unopened.push(i);
      errors.push(err.message);
      continue;
    }
    errors.push(writeFile(file, content));
  }
  return { errors, unopened };
}

function writeLoadedFiles({ files }: LoadedFiles): WriteResults {
  const asBuffer = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const errors = files.map((request) => writeFile({ ...request, path: asBuffer(request.path), temp: request.temp && asBuffer(request.temp) }, request.content));
  return { errors, unopened: [] };
}

/**
 * Opens a large file's chunks into the scratch buffer and appends them. Done here, the main thread only
 * reads the packs: it had decrypted, decompressed and hashed every chunk of every large file itself,
 * into a fresh buffer each (page faults, and dead buffers that waited for a full collection).
 */
function appendSegment({ file, fd, direct, pieces, sealed, keys }: FileSegment): SegmentWritten {
  let state = largeFiles.get(file);
  if (!state) {
    const stage = direct === undefined ? undefined : stages.take(RESTORE_STAGE_BYTES);
    state = { appender: new FileAppender(fd, direct, stage), stage };
    largeFiles.set(file, state);
  }
  const zeros: number[] = [];
  for (const [i, piece] of pieces.entries()) {
    try {
      if ('zeros' in piece) {
        state.appender.skip(piece.zeros);
        continue;
      }
      let data: Uint8Array;
      if ('bytes' in piece) data = piece.bytes;
      else {
        data = openSealedBlob(keys, blobIdKey, sealed, piece.blob, scratchOf(piece.blob.rawLength));
        garbage.made(piece.blob.length);
      }
      if (isAllZeros(data)) {
        zeros.push(i);
        state.appender.skip(data.byteLength);
      } else state.appender.append(data);
    } catch (err) {
      return { appended: i, zeros, error: (err as Error).message, unopened: err instanceof BlobNotOpened };
    }
  }
  return { appended: pieces.length, zeros };
}

function endFile({ file, discard }: FileEnd): FileEnded {
  const state = largeFiles.get(file);
  if (!state) return { size: 0 };
  largeFiles.delete(file);
  try {
    return { size: discard ? 0 : state.appender.finish() };
  } catch (err) {
    return { size: 0, error: (err as Error).message };
  } finally {
    if (state.stage) stages.give(state.stage);
  }
}

/** The scratch buffer, grown (at least doubled) to hold `size` bytes first if it is smaller. */
function scratchOf(size: number): Uint8Array {
  if (scratch.byteLength < size) scratch = new Uint8Array(Math.max(size, scratch.byteLength * 2));
  return scratch;
}

/** A file's chunks, `count` from number `first` of the batch, opened one after the other into the scratch buffer. */
function openContent(size: number, { first, count }: { first: number; count: number }, chunk: PackedChunk, sealed: Uint8Array, keys: readonly KeyObject[]): Uint8Array {
  const into = scratchOf(size);
  let at = 0;
  for (let number = first; number < first + count; number += 1) {
    const blob = chunk.moveTo(number);
    if (at + blob.rawLength > size) throw new BlobNotOpened(`its chunks hold more than the ${size} bytes the snapshot says`);
    at += openSealedBlob(keys, blobIdKey, sealed, blob, into.subarray(at)).byteLength;
    garbage.made(blob.length);
  }
  if (at !== size) throw new BlobNotOpened(`the snapshot says ${size} bytes but its chunks hold ${at}`);
  return into.subarray(0, at);
}

function writeFile(request: FileToWrite, content: Uint8Array): string | undefined {
  const { path, temp } = request;
  const mode = createMode(request.mode);
  const failure = createFile({ path: temp ?? path, content, createMode: mode.create, owner: request.owner, chmod: mode.chmod ? request.mode : undefined, mtime: request.mtime });
  try {
    if (failure) {
      if (!failure.created) return `could not create the file: ${failure.message}`;
      throw new Error(failure.message);
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
