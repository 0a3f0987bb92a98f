import { constants as osConstants } from 'node:os';
import { HindsightError } from '../../../src-shared/errors.js';
import { fileCalls } from './nativeFileCalls.js';

/**
 * File flags: Linux's inode attributes (`chattr`/`lsattr`: immutable, append-only, nodump, noatime,
 * no-copy-on-write…) or the BSD and macOS `st_flags` (`chflags`: hidden, uchg, schg, nodump…). `system`
 * says whose numbering `value` is in: the two share no bit meanings.
 */
export interface FileFlags {
  readonly system: FlagSystem;
  readonly value: number;
}

export type FlagSystem = 'linux' | 'bsd';

/**
 * The flags a restore gives back, per system; the others are the file system's own bookkeeping (ext4's
 * extents, inline data, encryption, verity; macOS's compressed, tracked, dataless) and cannot be set.
 * Linux: s u c S i a d A m j t D T C x P F (chattr's letters). BSD/macOS: nodump, uchg, uappnd, opaque,
 * hidden, arch, schg, sappnd, sunlnk.
 */
export const SETTABLE_FLAGS: Readonly<Record<FlagSystem, number>> = {
  linux: 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x20 | 0x40 | 0x80 | 0x400 | 0x4000 | 0x8000 | 0x10000 | 0x20000 | 0x800000 | 0x2000000 | 0x20000000 | 0x40000000,
  bsd: 0x1 | 0x2 | 0x4 | 0x8 | 0x8000 | 0x10000 | 0x20000 | 0x40000 | 0x100000,
};

/** File flags could not be read; `code` is the errno name. */
export class FileFlagsError extends HindsightError {}

const ERRNO_NAMES = new Map(Object.entries(osConstants.errno).map(([name, number]) => [number, name]));

/** What a system call's failure is called: its errno name (ENOTTY), from the minus-errno the addon answers. */
export function errnoName(result: number): string {
  return ERRNO_NAMES.get(-result) ?? `errno ${-result}`;
}

/** Errors meaning the file system (or this kind of entry) has no flags: ENOTTY is the ioctl's "no such request here". */
function isUnsupported(code: string): boolean {
  return code === 'ENOTTY' || code === 'EOPNOTSUPP' || code === 'ENOTSUP' || code === 'EINVAL' || code === 'ENOSYS';
}

/** Gone since it was listed, or replaced by a symbolic link (which has no flags of its own). */
function isGone(code: string): boolean {
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP';
}

/**
 * File systems (by device number) found to keep no flags: the first entry there that answers "not
 * supported" spares every later one its system calls (tmpfs before Linux 6.0, vfat, NFS, FUSE…).
 */
const unsupportedDevices = new Set<bigint>();

/** Whether flags are read and written on this system at all. */
export function flagsSupported(): boolean {
  return fileCalls() !== null;
}

function asFlags(kind: FlagSystem, raw: number): FileFlags | undefined {
  const value = raw & SETTABLE_FLAGS[kind];
  // `>>> 0`: bit 31 set makes `&` negative in JavaScript.
  return value === 0 ? undefined : { system: kind, value: value >>> 0 };
}

/**
 * The flags of the regular file or folder at `path` on device `dev`, undefined when it has none, when
 * its file system keeps none, or when it is gone. On Linux this opens the entry (open, ioctl, close),
 * so a backup calls it only where it cannot take the flags from the parent snapshot or from the file's
 * content read (readFlagsOfOpenFile). Throws FileFlagsError for other failures (an I/O error, say).
 */
export function readFlags(path: Buffer, dev: bigint): FileFlags | undefined {
  const calls = fileCalls();
  if (calls === null || unsupportedDevices.has(dev)) return undefined;
  const result = calls.get(path);
  if (result >= 0) return asFlags(calls.kind, result);
  const code = errnoName(result);
  if (isUnsupported(code)) {
    unsupportedDevices.add(dev);
    return undefined;
  }
  // Not readable: its content or listing is not either, and the backup warns about that already.
  if (isGone(code) || code === 'EACCES') return undefined;
  throw new FileFlagsError(code, `file flags could not be read (${code})`);
}

/**
 * The flags of a regular file open as `fd` on device `dev`: one system call, made where a backup reads
 * the file's content anyway. A failure to read them is taken as no flags: the content read goes on.
 */
export function readFlagsOfOpenFile(fd: number, dev: bigint): FileFlags | undefined {
  const calls = fileCalls();
  if (calls === null || unsupportedDevices.has(dev)) return undefined;
  return flagsAnswered(calls.getFd(fd), dev);
}

/** The flags in the addon's answer for a regular file open on device `dev` (getFd's, or openRead's), as readFlagsOfOpenFile takes them. */
export function flagsAnswered(result: number, dev: bigint): FileFlags | undefined {
  const calls = fileCalls();
  if (calls === null || unsupportedDevices.has(dev)) return undefined;
  if (result >= 0) return asFlags(calls.kind, result);
  if (isUnsupported(errnoName(result))) unsupportedDevices.add(dev);
  return undefined;
}

/**
 * Gives the entry at `path` its recorded flags (leaving the file system's own bits as they are). Called
 * last of all, once nothing more is written to it or into it: an immutable file refuses new times and
 * attributes, an append-only folder new entries. Answers the problem to report, or undefined.
 */
export function applyFlags(path: Buffer, flags: FileFlags): string | undefined {
  const calls = fileCalls();
  if (calls === null) return 'file flags not restored: this system keeps none';
  if (calls.kind !== flags.system) return `file flags not restored: they were recorded on ${flags.system === 'linux' ? 'Linux' : 'macOS or BSD'}, whose flags this system does not have`;
  const result = calls.set(path, flags.value, SETTABLE_FLAGS[flags.system]);
  if (result === 0) return undefined;
  const code = errnoName(result);
  if (isUnsupported(code)) return 'file flags not restored: the file system here does not keep them';
  if (code === 'EPERM' || code === 'EACCES') return 'file flags not restored: not permitted (immutable, append-only and system flags need root)';
  return `file flags not restored: ${code}`;
}

/** Flags as chattr's letters (Linux) or chflags' names (BSD, macOS), for people. */
export function describeFlags(flags: FileFlags): string {
  const names = flags.system === 'linux' ? LINUX_LETTERS : BSD_NAMES;
  const known = names.filter(([bit]) => (flags.value & bit) !== 0).map(([, name]) => name);
  return flags.system === 'linux' ? known.join('') : known.join(',');
}

const LINUX_LETTERS: readonly [number, string][] = [
  [0x1, 's'],
  [0x2, 'u'],
  [0x4, 'c'],
  [0x8, 'S'],
  [0x10, 'i'],
  [0x20, 'a'],
  [0x40, 'd'],
  [0x80, 'A'],
  [0x400, 'm'],
  [0x4000, 'j'],
  [0x8000, 't'],
  [0x10000, 'D'],
  [0x20000, 'T'],
  [0x800000, 'C'],
  [0x2000000, 'x'],
  [0x20000000, 'P'],
  [0x40000000, 'F'],
];

const BSD_NAMES: readonly [number, string][] = [
  [0x1, 'nodump'],
  [0x2, 'uchg'],
  [0x4, 'uappnd'],
  [0x8, 'opaque'],
  [0x8000, 'hidden'],
  [0x10000, 'arch'],
  [0x20000, 'schg'],
  [0x40000, 'sappnd'],
  [0x100000, 'sunlnk'],
];
