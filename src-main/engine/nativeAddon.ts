import { createRequire } from 'node:module';

/**
 * hindsight-file-flags (native/file-flags): our own N-API addon of a few dozen lines of C, for system
 * calls Node does not expose: file flags (Linux's FS_IOC_GETFLAGS/SETFLAGS ioctls, the BSD and macOS
 * st_flags), on macOS setting a creation time (setattrlist), and giving the C heap's free pages back
 * (glibc's malloc_trim). No maintained npm package offers these: `ioctl` is a generic NAN binding (rebuilt
 * per Electron ABI, not released for years) that takes file descriptors only; `utimes` sets creation
 * times but fetches prebuilt binaries at install and has no flags; spawning lsattr/chattr would cost a
 * process per file. N-API loads unchanged in Node and Electron, and node-gyp already builds
 * better-sqlite3, keytar and zstd-napi at install, so the addon brings no new tool. It is an optional
 * dependency: where it is not built, these are not done.
 */
export interface NativeAddon {
  /** Each answers minus the errno on failure. */
  get(path: Buffer): number;
  getFd(fd: number): number;
  set(path: Buffer, flags: number, mask: number): number;
  /** macOS only; -ENOSYS elsewhere. */
  setBirthtime(path: Buffer, seconds: number, nanoseconds: number): number;
  /** glibc only: 1 when free pages were given back, 0 when none; -ENOSYS elsewhere. */
  trimHeap(): number;
  /**
   * The lstat of each entry named in `names` (concatenated, `ends[i]` where name i ends) relative to
   * `folder`, into `stats` (entryStat.ts's packing) or its errno into `errors` (0 where it worked). Linux
   * and macOS; -ENOSYS elsewhere. Absent from a build of an older addon.
   */
  lstatAt?(folder: Buffer, names: Buffer, ends: Uint32Array, stats: BigInt64Array, errors: Int32Array): number;
  /** Whose file flags the addon reads: Linux's, the BSDs' (macOS), or none. */
  readonly kind: string;
}

let addon: NativeAddon | null | undefined;

/** The addon, or null where it is not built. */
export function nativeAddon(): NativeAddon | null {
  if (addon === undefined) {
    try {
      addon = createRequire(import.meta.url)('hindsight-file-flags') as NativeAddon;
    } catch {
      addon = null;
    }
  }
  return addon;
}
