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
 * dependency: where it is not built, these are not done. It also seals and opens AES-256-GCM blobs
 * through the OpenSSL that Node carries, without node:crypto's cipher object per blob (see aead.c and
 * crypto/aead.ts, which falls back to node:crypto where this is unavailable).
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
  /**
   * For each entry named as lstatAt takes them, the length of its extended attributes' name list (0: none),
   * never through a symbolic link, or minus the errno, into `sizes`. Linux and macOS; -ENOSYS elsewhere.
   * Absent from a build of an older addon.
   */
  xattrSizesAt?(folder: Buffer, names: Buffer, ends: Uint32Array, sizes: Int32Array): number;
  /**
   * The entries of `folder` but "." and "..", sorted as Buffer.compare sorts their names, each with its
   * lstat relative to the open folder: the names concatenated (a Buffer of its own), where each ends, the
   * stats packed as lstatAt packs them, and each entry's errno (0 where it was examined); or minus the
   * errno when the folder cannot be opened or read. Linux and macOS; -ENOSYS elsewhere. Absent from a
   * build of an older addon.
   */
  listAt?(folder: Buffer): [names: Buffer, ends: Uint32Array, stats: BigInt64Array, errors: Int32Array] | number;
  /**
   * Opens a file to read it (never through a symbolic link, never waiting on a FIFO) and reads up to
   * `readLength` bytes of a regular file from its start into `block`. Answers 0, or minus the errno of the
   * open or its fstat; into `out`: device, mode, size, modification time's seconds and nanoseconds, a
   * regular file's flags (or minus the errno), the read's bytes (or minus its errno), and the descriptor,
   * -1 when the read reached the size the fstat gave and the file was closed. Absent from a build of an
   * older addon.
   */
  openRead?(path: Buffer, block: Uint8Array, readLength: number, out: Float64Array): number;
  /** Closes a descriptor openRead left open (Node's fs warns about closing one it did not open); 0, or minus the errno. Present where openRead is. */
  closeFd?(fd: number): number;
  /**
   * Creates a file (O_EXCL, never through a symbolic link) with `createMode`, writes `content`, gives it
   * the owner (unless uid is -1, or it was created with that owner), then the mode (unless chmodMode is
   * -1) and `mtime` (float seconds, as libuv takes them) as access and modification time, and closes it. Answers 0, or minus the errno of
   * the step that failed (its number into failure[0]: 0 open, 1 write, 2 fchown, 3 fchmod, 4 futimens,
   * 5 close), the file closed and left. Absent from a build of an older addon.
   */
  createFile?(path: Buffer, content: Uint8Array, createMode: number, uid: number, gid: number, chmodMode: number, mtime: number, failure: Int32Array): number;
  /** Whether aeadSeal and aeadOpen can be called: the process exports OpenSSL's cipher functions. Absent from a build of an older addon. */
  readonly aeadAvailable?: boolean;
  /** AES-256-GCM: the ciphertext and then the 16-byte tag into `out`; their length, or -1. */
  aeadSeal?(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, out: Uint8Array, aad: Uint8Array | null): number;
  /** The plaintext into `out`; its length, -2 when the tag does not match (`out` then holds nothing to use), or -1. */
  aeadOpen?(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, out: Uint8Array, aad: Uint8Array | null): number;
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
