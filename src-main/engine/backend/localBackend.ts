import { randomBytes } from 'node:crypto';
import { constants as fsConstants, type Dirent } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import {
  BackendError,
  OBJECT_TYPES,
  isValidObjectName,
  objectPath,
  type Backend,
  type ByteRange,
  type ObjectHandle,
  type ObjectInfo,
  type ObjectType,
  type ObjectWriter,
  type WriterOptions,
  type TemporaryFiles,
} from './backend.js';
import { DirectWriter, writeAll } from '../directWrites.js';
import { nodeFileSystem, type LocalFile, type LocalFileSystem } from './localFileSystem.js';
import { PackReadHandles } from './packReadHandles.js';

const TEMP_PREFIX = '.tmp-';

/**
 * A repository in a folder: an external disk, a NAS mount, or a folder on
 * this machine. Writes go to a temporary file in the destination folder,
 * which is fsync'd, renamed into place, and then the folder itself is
 * fsync'd, so a crash or power loss leaves either the old state or the
 * complete object. Every folder that gains or loses an entry (a new object,
 * a deleted one, a new folder) is fsync'd before the call resolves: the
 * engine orders its writes (packs, then the index naming them, then the
 * snapshot; a forgotten snapshot gone before prune deletes its data), and
 * that order only holds across a power cut if each step is durable before
 * the next begins. docs/RELIABILITY.md has the model this is tested against.
 */
export class LocalBackend implements Backend {
  readonly location: string;
  readonly cheapReads: boolean = true;
  private readonly root: string;
  private readonly openPacks = new PackReadHandles((path) => this.openForReading(path));

  constructor(
    root: string,
    private readonly fs: LocalFileSystem = nodeFileSystem,
  ) {
    this.root = resolve(root);
    this.location = this.root;
  }

  async create(): Promise<void> {
    const existing = await this.fs.lstat(join(this.root, 'config')).catch(() => undefined);
    if (existing) {
      throw new BackendError('E_ALREADY_EXISTS', `There is already a Hindsight repository at ${this.root}.`);
    }
    try {
      await this.makeFolder(this.root);
      for (const type of OBJECT_TYPES) {
        if (type !== 'config') await this.fs.mkdir(join(this.root, type), { recursive: true, mode: 0o700 });
      }
      for (let i = 0; i < 256; i++) {
        await this.fs.mkdir(join(this.root, 'data', i.toString(16).padStart(2, '0')), { recursive: true, mode: 0o700 });
      }
      await this.syncDirectory(join(this.root, 'data'));
      await this.syncDirectory(this.root);
    } catch (err) {
      throw await this.translate(err, 'create the repository in');
    }
  }

  async *list(type: ObjectType): AsyncIterable<ObjectInfo> {
    if (type === 'config') {
      const info = await this.stat({ type, name: 'config' }).catch((err: unknown) => {
        if (err instanceof BackendError && err.code === 'E_NOT_FOUND') return undefined;
        throw err;
      });
      if (info) yield info;
      return;
    }
    await this.assertRootExists();
    const folders =
      type === 'data'
        ? (await this.readFolder(join(this.root, 'data')))
            .filter((entry) => entry.isDirectory() && /^[0-9a-f]{2}$/.test(entry.name))
            .map((entry) => join(this.root, 'data', entry.name))
        : [join(this.root, type)];
    for (const folder of folders) {
      for (const entry of await this.readFolder(folder)) {
        if (!entry.isFile() || !isValidObjectName(type, entry.name)) continue;
        const info = await this.fs.lstat(join(folder, entry.name)).catch(() => undefined);
        // A concurrent delete between readdir and lstat simply means the object is gone.
        if (info) yield { name: entry.name, size: info.size };
      }
    }
  }

  async stat(handle: ObjectHandle): Promise<ObjectInfo> {
    const path = this.pathOf(handle);
    try {
      const info = await this.fs.lstat(path);
      return { name: handle.name, size: info.size };
    } catch (err) {
      throw await this.translate(err, 'read', handle);
    }
  }

  async read(handle: ObjectHandle, range?: ByteRange): Promise<Buffer> {
    return this.readAt(handle, range, (length) => Buffer.allocUnsafe(length)) as Promise<Buffer>;
  }

  async readInto(handle: ObjectHandle, range: ByteRange, into: Uint8Array): Promise<Uint8Array> {
    if (into.byteLength < range.length) throw new RangeError(`a buffer of ${into.byteLength} bytes cannot hold ${range.length}`);
    return this.readAt(handle, range, (length) => into.subarray(0, length));
  }

  async readScattered(handle: ObjectHandle, offset: number, parts: readonly Uint8Array[]): Promise<void> {
    return this.withOpenObject(handle, (file, size) => readScatteredFrom(handle, file, size, offset, parts));
  }

  private readAt(handle: ObjectHandle, range: ByteRange | undefined, bufferFor: (length: number) => Uint8Array): Promise<Uint8Array> {
    return this.withOpenObject(handle, (file, size) => readRange(handle, file, size, range, bufferFor));
  }

  /** Runs `read` on the object open for reading (a pack through the handles kept open), with its size; errors translated. */
  private async withOpenObject<T>(handle: ObjectHandle, read: (file: LocalFile, size: number) => Promise<T>): Promise<T> {
    const path = this.pathOf(handle);
    try {
      if (handle.type === 'data') return await this.openPacks.use(path, read);
      const file = await this.openForReading(path);
      try {
        return await read(file, (await file.stat()).size);
      } finally {
        await file.close();
      }
    } catch (err) {
      throw await this.translate(err, 'read', handle);
    }
  }

  private openForReading(path: string): Promise<LocalFile> {
    return this.fs.open(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  }
  async write(handle: ObjectHandle, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    const writer = this.createWriter(handle);
    try {
      await writer.append(data);
      await writer.commit();
    } finally {
      await writer.abort();
    }
  }

  /**
   * `uncached` (packs): whole blocks are written through a `DirectWriter` (O_DIRECT, around the page
   * cache), the rest (a pack's last, partial stage) through the file's descriptor, whose fsync at
   * commit makes both durable.
   */
  createWriter(handle: ObjectHandle, options: WriterOptions = {}): ObjectWriter & { append(data: Uint8Array | readonly Uint8Array[]): Promise<void> } {
    const path = this.pathOf(handle);
    const folder = dirname(path);
    const temp = join(folder, TEMP_PREFIX + randomBytes(8).toString('hex'));
    let file: LocalFile | undefined;
    // Opened with the first whole-block append; null when not wanted or not to be had.
    let direct: DirectWriter | null | undefined = options.uncached ? undefined : null;
    let position = 0;
    let state: 'open' | 'committed' | 'failed' = 'open';
    const assertOpen = () => {
      if (state !== 'open') throw new BackendError('E_IO', `The write of ${handle.type}/${handle.name} was already ${state === 'failed' ? 'given up' : 'finished'}.`);
    };
    const closeDirect = async () => {
      const open = direct;
      direct = null;
      await open?.close();
    };
    const discard = async () => {
      state = 'failed';
      await closeDirect().catch(() => undefined);
      await file?.close().catch(() => undefined);
      file = undefined;
      await this.fs.unlink(temp).catch(() => undefined);
    };
    const fail = async (err: unknown): Promise<never> => {
      await discard();
      throw await this.translate(err, 'write to', handle);
    };
    return {
      append: async (data) => {
        assertOpen();
        try {
          file ??= await this.openTemp(temp, folder);
          const parts = Array.isArray(data) ? (data as readonly Uint8Array[]) : [data as Uint8Array];
          const whole = parts.length === 1 ? (parts[0] as Uint8Array) : undefined;
          if (whole && direct !== null && DirectWriter.fits(position, whole.byteLength)) {
            direct ??= (await DirectWriter.open(temp, file, (path, flags) => this.fs.open(path, flags))) ?? null;
            if (direct) {
              position = await direct.writeAt(whole, position, file);
              return;
            }
          }
          position = await writeAll(file, parts, position);
        } catch (err) {
          return fail(err);
        }
      },
      commit: async () => {
        assertOpen();
        try {
          file ??= await this.openTemp(temp, folder);
          await closeDirect();
          // One fsync per file, whichever descriptor wrote: it flushes the cached part, the file's size
          // and block map, and the disk's write cache (which may still hold what O_DIRECT sent).
          await file.sync();
          await file.close();
          file = undefined;
          await this.fs.rename(temp, path);
          state = 'committed';
          // A pack written again (repaired from another copy) is read anew, not through a handle of the one it replaced.
          if (handle.type === 'data') await this.openPacks.forget(path);
          await this.syncDirectory(folder);
        } catch (err) {
          // Once renamed the object is whole under its name; only the folder's fsync failed.
          if (state === 'committed') throw await this.translate(err, 'write to', handle);
          return fail(err);
        }
      },
      abort: async () => {
        if (state === 'open') await discard();
      },
    };
  }

  private async openTemp(temp: string, folder: string): Promise<LocalFile> {
    try {
      return await this.fs.open(temp, 'wx', 0o600);
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
      await this.assertRootExists();
      await this.makeFolder(folder);
      return await this.fs.open(temp, 'wx', 0o600);
    }
  }

  async delete(handle: ObjectHandle): Promise<void> {
    const path = this.pathOf(handle);
    if (handle.type === 'data') await this.openPacks.forget(path);
    try {
      await this.fs.unlink(path);
      await this.syncDirectory(dirname(path));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return;
      throw await this.translate(err, 'delete from', handle);
    }
  }

  async close(): Promise<void> {
    await this.openPacks.closeAll();
  }

  async sweepTemporaryFiles(dryRun: boolean): Promise<TemporaryFiles> {
    await this.assertRootExists();
    // Not locks/: a process taking a lock writes there without holding one.
    const dataFolders = (await this.readFolder(join(this.root, 'data'))).filter((entry) => entry.isDirectory()).map((entry) => join(this.root, 'data', entry.name));
    let files = 0;
    let bytes = 0;
    for (const folder of [...dataFolders, join(this.root, 'index'), join(this.root, 'snapshots')]) {
      for (const entry of await this.readFolder(folder)) {
        if (!entry.isFile() || !entry.name.startsWith(TEMP_PREFIX)) continue;
        const path = join(folder, entry.name);
        const info = await this.fs.lstat(path).catch(() => undefined);
        if (!info) continue;
        if (!dryRun) {
          try {
            await this.fs.unlink(path);
          } catch (err) {
            if (isErrno(err, 'ENOENT')) continue;
            throw await this.translate(err, 'delete an unfinished write from');
          }
        }
        files += 1;
        bytes += info.size;
      }
    }
    return { files, bytes };
  }

  private pathOf(handle: ObjectHandle): string {
    return join(this.root, objectPath(handle));
  }

  /** mkdir -p whose new folders survive a power cut: every folder that gained an entry is fsync'd. */
  private async makeFolder(path: string): Promise<void> {
    const first = await this.fs.mkdir(path, { recursive: true, mode: 0o700 });
    if (first === undefined) return;
    for (let folder = dirname(path); ; folder = dirname(folder)) {
      await this.syncDirectory(folder);
      if (folder === dirname(first) || folder === dirname(folder)) return;
    }
  }

  private async syncDirectory(path: string): Promise<void> {
    const folder = await this.fs.open(path, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
    try {
      await folder.sync();
    } finally {
      await folder.close();
    }
  }

  private async readFolder(folder: string): Promise<Dirent[]> {
    try {
      return await this.fs.readdir(folder, { withFileTypes: true });
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return [];
      throw await this.translate(err, 'list');
    }
  }

  private async assertRootExists(): Promise<void> {
    const info = await this.fs.stat(this.root).catch(() => undefined);
    if (!info) {
      throw new BackendError(
        'E_TARGET_MISSING',
        `The backup target ${this.root} does not exist. If it is on an external disk, connect and mount the disk.`,
      );
    }
    if (!info.isDirectory()) {
      throw new BackendError('E_TARGET_MISSING', `The backup target ${this.root} is not a folder.`);
    }
  }

  /** Turns an operating-system error into one a person can act on. */
  private async translate(err: unknown, action: string, handle?: ObjectHandle): Promise<BackendError> {
    if (err instanceof BackendError) return err;
    const what = handle ? `${handle.type === 'config' ? 'config' : `${handle.type}/${handle.name}`} in ${this.root}` : this.root;
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    switch (code) {
      case 'ENOENT':
      case 'ENOTDIR':
        try {
          await this.assertRootExists();
        } catch (missing) {
          return missing as BackendError;
        }
        return new BackendError('E_NOT_FOUND', `${what} does not exist.`, { cause: err });
      case 'ELOOP':
        return new BackendError('E_IO', `${what} is a symbolic link; repository objects must be regular files.`, { cause: err });
      case 'EACCES':
      case 'EPERM':
        return new BackendError('E_PERMISSION', `Cannot ${action} ${what}: permission denied.`, { cause: err });
      case 'EROFS':
        return new BackendError('E_PERMISSION', `Cannot ${action} ${what}: the disk is read-only.`, { cause: err });
      case 'ENOSPC':
      case 'EDQUOT':
        return new BackendError(
          'E_NO_SPACE',
          `The backup target ${this.root} is full. Free some space there (or choose another target) and run the backup again; nothing already saved was lost.`,
          { cause: err },
        );
      default:
        return new BackendError('E_IO', `Cannot ${action} ${what}: ${(err as Error | undefined)?.message ?? String(err)}`, {
          cause: err,
        });
    }
  }
}

function isErrno(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === code;
}

/** Fails with E_INVALID_RANGE unless bytes `offset` to `offset + length` lie within an object of `size` bytes. */
function checkRange(handle: ObjectHandle, size: number, offset: number, length: number): void {
  if (offset < 0 || length < 0 || offset + length > size) {
    throw new BackendError(
      'E_INVALID_RANGE',
      `Cannot read bytes ${offset}–${offset + length} of ${handle.type}/${handle.name}: the object has only ${size} bytes (it may be truncated).`,
    );
  }
}

/** Buffers one readv takes at most (Linux's IOV_MAX); libuv would read only this many and return short. */
const IOV_MAX = 1024;

/** Reads `parts` in turn from `offset` on, of an object open as `file` whose size is `size` (see Backend.readScattered). */
async function readScatteredFrom(handle: ObjectHandle, file: LocalFile, size: number, offset: number, parts: readonly Uint8Array[]): Promise<void> {
  const length = parts.reduce((sum, part) => sum + part.byteLength, 0);
  checkRange(handle, size, offset, length);
  let position = offset;
  let rest = parts.filter((part) => part.byteLength > 0);
  while (rest.length > 0) {
    const batch = rest.slice(0, IOV_MAX);
    let { bytesRead } = await file.readv(batch, position);
    if (bytesRead === 0) throw new BackendError('E_INVALID_RANGE', `${handle.type}/${handle.name} became shorter while it was read.`);
    position += bytesRead;
    // Drop the parts filled; a part filled in part goes on from where the read stopped.
    let filled = 0;
    while (filled < rest.length && bytesRead >= (rest[filled] as Uint8Array).byteLength) bytesRead -= (rest[filled++] as Uint8Array).byteLength;
    rest = rest.slice(filled);
    if (bytesRead > 0) rest[0] = (rest[0] as Uint8Array).subarray(bytesRead);
  }
}

/** Reads `range` (or all) of an object open as `file`, whose size is `size`, into the buffer `bufferFor` gives. */
async function readRange(handle: ObjectHandle, file: LocalFile, size: number, range: ByteRange | undefined, bufferFor: (length: number) => Uint8Array): Promise<Uint8Array> {
  const offset = range?.offset ?? 0;
  const length = range?.length ?? size - offset;
  checkRange(handle, size, offset, length);
  const buffer = bufferFor(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await file.read(buffer, done, length - done, offset + done);
    if (bytesRead === 0) {
      throw new BackendError('E_INVALID_RANGE', `${handle.type}/${handle.name} became shorter while it was read.`);
    }
    done += bytesRead;
  }
  return buffer;
}
