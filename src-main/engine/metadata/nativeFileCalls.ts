import { createRequire } from 'node:module';

/**
 * hindsight-file-flags (native/file-flags): our own N-API addon of a few dozen lines of C, for what
 * Node's fs does not expose: file flags (Linux's FS_IOC_GETFLAGS/SETFLAGS ioctls, the BSD and macOS
 * st_flags) and, on macOS, setting a creation time (setattrlist). No maintained npm package offers these:
 * `ioctl` is a generic NAN binding (rebuilt per Electron ABI, not released for years) that takes file
 * descriptors only; `utimes` sets creation times but fetches prebuilt binaries at install and has no
 * flags; spawning lsattr/chattr would cost a process per file. N-API loads unchanged in Node and
 * Electron, and node-gyp already builds better-sqlite3, keytar and zstd-napi at install, so the addon
 * brings no new tool. It is an optional dependency: where it is not built, these are not kept.
 */
export interface FileCalls {
  /** Each answers minus the errno on failure. */
  get(path: Buffer): number;
  getFd(fd: number): number;
  set(path: Buffer, flags: number, mask: number): number;
  /** macOS only; -ENOSYS elsewhere. */
  setBirthtime(path: Buffer, seconds: number, nanoseconds: number): number;
  /** Whose flags these are. */
  readonly kind: 'linux' | 'bsd';
}

let calls: FileCalls | null | undefined;

/** The addon, or null where it is not built or was built for a system without flags. */
export function fileCalls(): FileCalls | null {
  if (calls === undefined) {
    try {
      const loaded = createRequire(import.meta.url)('hindsight-file-flags') as Omit<FileCalls, 'kind'> & { kind: string };
      calls = loaded.kind === 'linux' || loaded.kind === 'bsd' ? (loaded as FileCalls) : null;
    } catch {
      calls = null;
    }
  }
  return calls;
}
