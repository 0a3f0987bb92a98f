import { closeSync, constants as fsConstants, fstatSync, openSync, readSync } from 'node:fs';
import { flagsAnswered, readFlagsOfOpenFile, type FileFlags } from '../metadata/fileFlags.js';
import { nativeAddon, type NativeAddon } from '../nativeAddon.js';
import { systemCallError } from './systemCallError.js';

/** A file a backup's file worker opened to read, with what its fstat said and a first read's bytes. */
export interface OpenedFile {
  /** Its descriptor, or -1: the first read took the whole file, and it is closed already. Closed by closeFile. */
  readonly fd: number;
  /** Opened by the addon, so closed by it: Node's fs in a worker thread warns about closing what it did not open. */
  readonly byAddon: boolean;
  readonly regular: boolean;
  readonly size: bigint;
  readonly mtimeNs: bigint;
  readonly flags: FileFlags | undefined;
  /** Bytes the first read put at the start of the block (0 where none was asked for). */
  readonly firstRead: number;
}

// O_NONBLOCK: a name that became a named pipe since the walk looked at it would block the open until a
// writer comes, in a synchronous call that not even worker.terminate() interrupts. Regular files ignore it.
const OPEN_FLAGS = fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK;

/** What the addon's openRead writes: device, mode, size, modification seconds and nanoseconds, flags, first read, descriptor. */
const answer = new Float64Array(8);

/**
 * Opens the file at `path`, reads its stat and flags and (a regular file) up to `readLength` bytes from
 * its start into `block`; closes it when that read was the whole file. With the addon that is one call
 * (see its openRead): on a tree of small files, Node's five calls per file (open, a BigInt fstat, the
 * flags, read, close) cost ~11 µs outside the kernel, the one call ~5 (40,000 files of the linux tree,
 * 3 alternating rounds). A failure throws Node's own error (code and message), as the calls through Node
 * do: the addon's failed call is made again through Node for it.
 */
export function openForReading(path: Buffer, block: Uint8Array, readLength: number): OpenedFile {
  const openRead = nativeAddon()?.openRead;
  if (!openRead || openRead(path, block, readLength, answer) !== 0) return openThroughNode(path, block, readLength);
  if ((answer[6] as number) < 0) {
    nativeAddon()?.closeFd?.(answer[7] as number);
    return openThroughNode(path, block, readLength);
  }
  const regular = ((answer[1] as number) & fsConstants.S_IFMT) === fsConstants.S_IFREG;
  return {
    fd: answer[7] as number,
    byAddon: true,
    regular,
    size: BigInt(answer[2] as number),
    mtimeNs: BigInt(answer[3] as number) * 1_000_000_000n + BigInt(answer[4] as number),
    flags: regular ? flagsAnswered(answer[5] as number, BigInt(answer[0] as number)) : undefined,
    firstRead: answer[6] as number,
  };
}

function openThroughNode(path: Buffer, block: Uint8Array, readLength: number): OpenedFile {
  const fd = openSync(path, OPEN_FLAGS);
  try {
    const stat = fstatSync(fd, { bigint: true });
    const regular = stat.isFile();
    return {
      fd,
      byAddon: false,
      regular,
      size: stat.size,
      mtimeNs: stat.mtimeNs,
      flags: regular ? readFlagsOfOpenFile(fd, stat.dev) : undefined,
      firstRead: regular && readLength > 0 ? readSync(fd, block, 0, readLength, 0) : 0,
    };
  } catch (err) {
    try {
      closeSync(fd);
    } catch {
      // Closing after a failure: the failure is what is reported.
    }
    throw err;
  }
}

/** Closes the file, unless its first read closed it already. */
export function closeFile(file: OpenedFile): void {
  if (file.fd < 0) return;
  if (!file.byAddon) return closeSync(file.fd);
  const result = (nativeAddon() as NativeAddon & Required<Pick<NativeAddon, 'closeFd'>>).closeFd(file.fd);
  if (result < 0) throw systemCallError(result, 'close');
}
