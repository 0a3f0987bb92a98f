import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { FileEntryWithStats, Stats } from 'ssh2';
import { mapConcurrent } from '../concurrency.js';
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
  type TemporaryFiles,
} from './backend.js';
import { sftpLocationName } from './backendNames.js';
import { SftpConnection, sftpCode, type SftpConnectionOptions, type SftpSession as Session } from './sftpConnection.js';

export interface SftpOptions extends SftpConnectionOptions {
  /** The repository folder: absolute, or relative to the user's home folder on the server. */
  readonly path: string;
}

/** SFTP status codes (draft-ietf-secsh-filexfer-02 §7) the backend tells apart. */
const NO_SUCH_FILE = 2;
const PERMISSION_DENIED = 3;
const OP_UNSUPPORTED = 8;

/** Requests in flight per transfer: enough to keep a long link busy, few enough to be fair to other transfers. */
const PIPELINE = 32;
const CHUNK = 32 * 1024;
const TEMP_PREFIX = '.tmp-';

/**
 * A repository on an SSH server, through SFTP (ssh2, pure JavaScript). One
 * connection carries every request; requests are pipelined, so transfers
 * run concurrently over it. Writes go to a temporary name, are fsync'd
 * where the server offers fsync@openssh.com, and are renamed into place
 * with posix-rename@openssh.com, which replaces atomically. The server's
 * host key must be in known_hosts or be accepted explicitly; it is never
 * trusted silently.
 */
export class SftpBackend implements Backend {
  readonly location: string;
  private readonly root: string;
  private readonly connection: SftpConnection;

  constructor(private readonly options: SftpOptions) {
    this.root = options.path.replace(/\/+$/, '') || '/';
    this.location = sftpLocationName(options);
    this.connection = new SftpConnection(options, this.location);
  }

  async create(): Promise<void> {
    const session = await this.connect();
    if (await this.exists(session, this.pathOf({ type: 'config', name: 'config' }))) {
      throw new BackendError('E_ALREADY_EXISTS', `There is already a Hindsight repository at ${this.location}.`);
    }
    try {
      await this.makeFolders(session, this.root);
      for (const type of OBJECT_TYPES) if (type !== 'config') await this.makeFolder(session, posix.join(this.root, type));
      const shards = Array.from({ length: 256 }, (_, i) => posix.join(this.root, 'data', i.toString(16).padStart(2, '0')));
      await mapConcurrent(shards, PIPELINE, (folder) => this.makeFolder(session, folder));
    } catch (err) {
      throw this.translate(err, 'create the repository in');
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
    const session = await this.connect();
    await this.assertRootExists(session);
    const folders =
      type === 'data'
        ? (await this.readFolder(session, posix.join(this.root, 'data')))
            .filter((entry) => entry.attrs.isDirectory() && /^[0-9a-f]{2}$/.test(entry.filename))
            .map((entry) => posix.join(this.root, 'data', entry.filename))
        : [posix.join(this.root, type)];
    for (const folder of folders) {
      for (const entry of await this.readFolder(session, folder)) {
        if (entry.attrs.isFile() && isValidObjectName(type, entry.filename)) yield { name: entry.filename, size: entry.attrs.size };
      }
    }
  }

  /**
   * The file and folder names right below `path` (relative to the location's folder; none when it does
   * not exist): how `hindsight server --storage sftp://…` finds the repositories it keeps there. Not part of `Backend`.
   */
  async entriesBelow(path: readonly string[]): Promise<{ files: string[]; folders: string[] }> {
    const session = await this.connect();
    const entries = await this.readFolder(session, posix.join(this.root, ...path));
    return {
      files: entries.filter((entry) => entry.attrs.isFile()).map((entry) => entry.filename),
      folders: entries.filter((entry) => entry.attrs.isDirectory()).map((entry) => entry.filename),
    };
  }

  async stat(handle: ObjectHandle): Promise<ObjectInfo> {
    const path = this.pathOf(handle);
    const session = await this.connect();
    try {
      const info = await session.call<Stats>((cb) => session.sftp.stat(path, cb));
      return { name: handle.name, size: info.size };
    } catch (err) {
      throw await this.translateWithRoot(session, err, 'read', handle);
    }
  }

  async read(handle: ObjectHandle, range?: ByteRange): Promise<Buffer> {
    const path = this.pathOf(handle);
    const session = await this.connect();
    let file: Buffer | undefined;
    try {
      file = await session.call<Buffer>((cb) => session.sftp.open(path, 'r', cb));
      const opened = file;
      const size = (await session.call<Stats>((cb) => session.sftp.fstat(opened, cb))).size;
      const offset = range?.offset ?? 0;
      const length = range?.length ?? size - offset;
      if (offset < 0 || length < 0 || offset + length > size) {
        throw new BackendError(
          'E_INVALID_RANGE',
          `Cannot read bytes ${offset}–${offset + length} of ${describe(handle)} at ${this.location}: the object has only ${size} bytes (it may be truncated).`,
        );
      }
      const buffer = Buffer.allocUnsafe(length);
      const chunks = Array.from({ length: Math.ceil(length / CHUNK) }, (_, i) => i * CHUNK);
      await mapConcurrent(chunks, PIPELINE, async (start) => {
        const end = Math.min(start + CHUNK, length);
        let done = start;
        while (done < end) {
          const got = await session.call<number>((cb) => session.sftp.read(opened, buffer, done, end - done, offset + done, cb));
          if (got === 0) throw new BackendError('E_INVALID_RANGE', `${describe(handle)} at ${this.location} became shorter while it was read.`);
          done += got;
        }
      });
      return buffer;
    } catch (err) {
      throw await this.translateWithRoot(session, err, 'read', handle);
    } finally {
      if (file) await this.closeHandle(session, file);
    }
  }

  async write(handle: ObjectHandle, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    const path = this.pathOf(handle);
    const folder = posix.dirname(path);
    const temp = posix.join(folder, TEMP_PREFIX + randomBytes(8).toString('hex'));
    const session = await this.connect();
    let file: Buffer | undefined;
    try {
      try {
        file = await session.call<Buffer>((cb) => session.sftp.open(temp, 'wx', { mode: 0o600 }, cb));
      } catch (err) {
        if (sftpCode(err) !== NO_SUCH_FILE) throw err;
        await this.assertRootExists(session);
        await this.makeFolders(session, folder);
        file = await session.call<Buffer>((cb) => session.sftp.open(temp, 'wx', { mode: 0o600 }, cb));
      }
      const opened = file;
      const pieces: { part: Buffer; position: number }[] = [];
      let position = 0;
      // Indexing (rather than for-of) lets a caller's array-like fail part-way, as a dropped upload would.
      const parts = (Array.isArray(data) ? data : [data]) as readonly Uint8Array[];
      for (let i = 0; i < parts.length; i++) {
        const part = parts[i] as Uint8Array;
        const bytes = Buffer.from(part.buffer, part.byteOffset, part.byteLength);
        for (let start = 0; start < bytes.length; start += CHUNK) {
          pieces.push({ part: bytes.subarray(start, start + CHUNK), position: position + start });
        }
        position += bytes.length;
      }
      await mapConcurrent(pieces, PIPELINE, ({ part, position: at }) => session.call<void>((cb) => session.sftp.write(opened, part, 0, part.length, at, cb)));
      await session.call<void>((cb) => session.sftp.ext_openssh_fsync(opened, cb)).catch((err: unknown) => {
        // Servers without fsync@openssh.com still flush on close; nothing more can be asked of them.
        if (!isUnsupported(err)) throw err;
      });
      file = undefined;
      await session.call<void>((cb) => session.sftp.close(opened, cb));
      await this.renameIntoPlace(session, temp, path);
    } catch (err) {
      if (file) await this.closeHandle(session, file);
      await session.call<void>((cb) => session.sftp.unlink(temp, cb)).catch(() => undefined);
      throw await this.translateWithRoot(session, err, 'write to', handle);
    }
  }

  async delete(handle: ObjectHandle): Promise<void> {
    const path = this.pathOf(handle);
    const session = await this.connect();
    try {
      await session.call<void>((cb) => session.sftp.unlink(path, cb));
    } catch (err) {
      if (sftpCode(err) === NO_SUCH_FILE) return;
      throw this.translate(err, 'delete from', handle);
    }
  }

  async sweepTemporaryFiles(dryRun: boolean): Promise<TemporaryFiles> {
    const session = await this.connect();
    await this.assertRootExists(session);
    // Not locks/: a process taking a lock writes there without holding one.
    const dataFolders = (await this.readFolder(session, posix.join(this.root, 'data')))
      .filter((entry) => entry.attrs.isDirectory())
      .map((entry) => posix.join(this.root, 'data', entry.filename));
    let files = 0;
    let bytes = 0;
    for (const folder of [...dataFolders, posix.join(this.root, 'index'), posix.join(this.root, 'snapshots')]) {
      for (const entry of await this.readFolder(session, folder)) {
        if (!entry.attrs.isFile() || !entry.filename.startsWith(TEMP_PREFIX)) continue;
        if (!dryRun) {
          try {
            await session.call<void>((cb) => session.sftp.unlink(posix.join(folder, entry.filename), cb));
          } catch (err) {
            if (sftpCode(err) === NO_SUCH_FILE) continue;
            throw this.translate(err, 'delete an unfinished write from');
          }
        }
        files += 1;
        bytes += entry.attrs.size;
      }
    }
    return { files, bytes };
  }

  async close(): Promise<void> {
    await this.connection.close();
  }

  /** The shared connection, opened on first use and again after it drops. */
  private connect(): Promise<Session> {
    return this.connection.connect();
  }

  private async renameIntoPlace(session: Session, temp: string, path: string): Promise<void> {
    try {
      await session.call<void>((cb) => session.sftp.ext_openssh_rename(temp, path, cb));
    } catch (err) {
      if (!isUnsupported(err)) throw err;
      // Plain SFTP rename refuses to replace; objects are content-named, so an existing one is already right.
      if (await this.exists(session, path)) {
        if (posix.basename(path) !== 'config') {
          await session.call<void>((cb) => session.sftp.unlink(temp, cb));
          return;
        }
        await session.call<void>((cb) => session.sftp.unlink(path, cb));
      }
      await session.call<void>((cb) => session.sftp.rename(temp, path, cb));
    }
  }

  private pathOf(handle: ObjectHandle): string {
    return posix.join(this.root, objectPath(handle));
  }

  private async exists(session: Session, path: string): Promise<boolean> {
    try {
      await session.call<Stats>((cb) => session.sftp.stat(path, cb));
      return true;
    } catch (err) {
      if (sftpCode(err) === NO_SUCH_FILE) return false;
      throw this.translate(err, 'read');
    }
  }

  private async makeFolder(session: Session, path: string): Promise<void> {
    try {
      await session.call<void>((cb) => session.sftp.mkdir(path, { mode: 0o700 }, cb));
    } catch (err) {
      // mkdir of an existing folder is a generic FAILURE in SFTP v3; only a folder that is still missing is an error.
      const info = await session.call<Stats>((cb) => session.sftp.stat(path, cb)).catch(() => undefined);
      if (!info?.isDirectory()) throw err;
    }
  }

  private async makeFolders(session: Session, path: string): Promise<void> {
    const absolute = path.startsWith('/');
    let current = absolute ? '/' : '';
    for (const segment of path.split('/').filter(Boolean)) {
      current = current === '' ? segment : posix.join(current, segment);
      await this.makeFolder(session, current);
    }
  }

  private async readFolder(session: Session, folder: string) {
    try {
      return await session.call<FileEntryWithStats[]>((cb) => session.sftp.readdir(folder, cb));
    } catch (err) {
      if (sftpCode(err) === NO_SUCH_FILE) return [];
      throw this.translate(err, 'list');
    }
  }

  private async assertRootExists(session: Session): Promise<void> {
    const info = await session.call<Stats>((cb) => session.sftp.stat(this.root, cb)).catch((err: unknown) => {
      if (sftpCode(err) === NO_SUCH_FILE) return undefined;
      throw this.translate(err, 'read');
    });
    if (!info?.isDirectory()) {
      throw new BackendError('E_TARGET_MISSING', `The folder ${this.root} does not exist on ${this.options.host}${info ? ' (it is not a folder)' : ''}.`);
    }
  }

  private async closeHandle(session: Session, file: Buffer): Promise<void> {
    await session.call<void>((cb) => session.sftp.close(file, cb)).catch(() => undefined);
  }

  private async translateWithRoot(session: Session, err: unknown, action: string, handle?: ObjectHandle): Promise<BackendError> {
    if (sftpCode(err) === NO_SUCH_FILE) {
      try {
        await this.assertRootExists(session);
      } catch (missing) {
        if (missing instanceof BackendError) return missing;
      }
    }
    return this.translate(err, action, handle);
  }

  private translate(err: unknown, action: string, handle?: ObjectHandle): BackendError {
    if (err instanceof BackendError) return err;
    const what = handle ? `${describe(handle)} at ${this.location}` : this.location;
    switch (sftpCode(err)) {
      case NO_SUCH_FILE:
        return new BackendError('E_NOT_FOUND', `${what} does not exist.`, { cause: err });
      case PERMISSION_DENIED:
        return new BackendError('E_PERMISSION', `Cannot ${action} ${what}: the server denied permission.`, { cause: err });
      case undefined:
        // No SFTP status: the request never got an answer because the connection dropped.
        return new BackendError('E_UNREACHABLE', `The connection to ${this.options.host} was lost while trying to ${action} ${what}: ${(err as Error).message}`, {
          cause: err,
          transient: true,
        });
      default:
        return new BackendError('E_IO', `Cannot ${action} ${what}: ${(err as Error).message}`, { cause: err, transient: true });
    }
  }
}

function describe(handle: ObjectHandle): string {
  return handle.type === 'config' ? 'config' : `${handle.type}/${handle.name}`;
}


function isUnsupported(err: unknown): boolean {
  return sftpCode(err) === OP_UNSUPPORTED || /does not support/i.test((err as Error | undefined)?.message ?? '');
}

