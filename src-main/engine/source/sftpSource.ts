import { constants } from 'node:fs';
import { posix } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Attributes, FileEntryWithStats, Stats } from 'ssh2';
import { HindsightError } from '../../../src-shared/errors.js';
import type { BlobSaver } from '../archiver/blobSaver.js';
import type { EntryStat } from '../archiver/entryStat.js';
import { CACHEDIR_SIGNATURE } from '../archiver/excludes.js';
import type { FileContent, FileFailure, FileSaverOptions, PreviousChunks } from '../archiver/fileSaver.js';
import { listingOf, type FolderListing, type FolderToList, type ListedEntry } from '../archiver/folderLister.js';
import type { ScanTotals } from '../archiver/scanner.js';
import { BackendError } from '../backend/backend.js';
import { sftpLocationName } from '../backend/backendNames.js';
import { SftpConnection, sftpCode, type SftpConnectionOptions, type SftpSession } from '../backend/sftpConnection.js';
import { Chunker } from '../chunker/fastCdc.js';
import { computeBlobId } from '../crypto/blobId.js';
import { compressBlob } from '../repository/blobCodec.js';
import { SourceUnavailable, type Source, type SourceLister, type SourceReader } from './source.js';

export interface SftpSourceOptions extends SftpConnectionOptions {
  /**
   * Give folders the id of the file system they are on (statvfs@openssh.com's f_fsid, one more request
   * per folder), for --one-file-system: SFTP's attributes carry no device number. Without it every
   * entry is on device 0.
   */
  readonly deviceIds?: boolean;
}

/** SFTP status codes (draft-ietf-secsh-filexfer-02 §7), as the errno codes the backup's warnings know. */
const STATUS_ERRNO: Record<number, string> = { 2: 'ENOENT', 3: 'EACCES', 4: 'EIO' };
/**
 * Reads of a file in flight at once, each of READ_BLOCK bytes (ssh2 splits a read into packets of the
 * server's largest, 256 KiB for OpenSSH): 2 MiB ahead per large file, besides the many small files the
 * backup has in flight, all pipelined over the one connection.
 */
const READ_BLOCK = 256 * 1024;
const READS_AHEAD = 8;
/** Folder listings in flight at once (each holds a handle on the server, which allows a few hundred). */
const LISTINGS_IN_FLIGHT = 16;
/** Listings asked for ahead and not yet taken, at most (as FolderLister's LISTED_AHEAD). */
const LISTED_AHEAD = 64;
/** Files read at once: more than the backup lets in (it holds them to 128 small and a few large ones) would only queue on the server. */
const FILES_IN_FLIGHT = 64;
/** Chunks of one file being stored at once: bounds the memory a large file holds (each up to 8 MiB). */
const CHUNKS_IN_FLIGHT = 4;
/** Waits before each new connection after one dropped: about 7 s in all before the backup gives up. */
const RECONNECT_DELAYS_MS = [500, 2000, 4500];
/**
 * SFTP (version 3) gives modification times in whole seconds and no change time: a file written again
 * within the second it was listed in, at the same size, would look unchanged next time. Such a file is
 * recorded with a change time no later listing gives (see remoteStat), so the next backup reads it again.
 */
const RACY_SECONDS = 2n;

/**
 * Another machine's files, read over SFTP through the same connection code as the SFTP backend (keys,
 * ssh-agent, known_hosts; an unknown host refused unless accepted, a changed key always). Folders are
 * listed with their entries' attributes in one request each, many at once; files are read in large
 * blocks, several at once, and cut into chunks on this thread (hashed, and compressed only when the
 * repository lacks them). An unchanged file is known by its listing alone (size, mtime), so a backup
 * of an unchanged tree reads no file. A dropped connection is made again; after RECONNECT_DELAYS_MS the
 * backup stops with SourceUnavailable, keeping what it saved, as a pause does.
 *
 * What SFTP cannot carry is not invented: no extended attributes or file flags, modification times to
 * the second, no inode numbers or link counts (hard links are saved as separate files), no device
 * numbers (so --one-file-system cannot tell mount points), and names and link targets that are not
 * UTF-8 (ssh2 decodes them as UTF-8) are left out with a warning.
 */
export class SftpSource implements Source {
  readonly host: string;
  readonly local = false;
  readonly cacheScope: string;
  readonly countsTotals = false;
  /** How messages name the machine: sftp://user@host[:port]. */
  readonly location: string;
  private readonly connection: SftpConnection;
  private readonly deviceIds: boolean;

  constructor(options: SftpSourceOptions) {
    this.deviceIds = options.deviceIds ?? false;
    this.host = options.host;
    this.location = sftpLocationName({ ...options, path: '/' }).replace(/\/$/, '');
    this.cacheScope = `sftp-${encodeURIComponent(`${options.username}@${options.host}:${options.port ?? 22}`)}`;
    this.connection = new SftpConnection(options, this.location);
  }

  /** Connects (checking the host key and logging in) and makes `path` absolute: a path under /~/ is in the user's home folder. */
  async resolve(path: string): Promise<string> {
    if (path.startsWith('/')) {
      await this.run(() => this.connection.connect());
      return posix.normalize(path);
    }
    return this.run(async (session) => session.call<string>((cb) => session.sftp.realpath(path === '' ? '.' : path, cb)));
  }

  /**
   * Runs `work` on the connection; when the connection drops, on a new one, after the waits in
   * RECONNECT_DELAYS_MS. SFTP errors about a file (no such file, permission denied) go to the caller as
   * they are; a login or host-key refusal ends the backup at once.
   */
  async run<T>(work: (session: SftpSession) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await work(await this.connection.connect());
      } catch (err) {
        if (sftpCode(err) !== undefined || !(err instanceof BackendError) || err.code !== 'E_UNREACHABLE') throw err;
        const delay = RECONNECT_DELAYS_MS[attempt];
        if (delay === undefined) {
          throw new SourceUnavailable(
            `Lost the connection to ${this.location} and could not connect again (${err.message}). The backup stopped; what it saved is kept, and the next run continues from there.`,
            { cause: err },
          );
        }
        await sleep(delay);
      }
    }
  }

  async lstat(path: string): Promise<EntryStat> {
    try {
      const stat = remoteStat(await this.run((session) => session.call<Stats>((cb) => session.sftp.lstat(path, cb))), nowSeconds());
      return stat.isDirectory() ? this.withDevice(path, stat) : stat;
    } catch (err) {
      throw asFileError(err);
    }
  }

  /** A folder's stat with the id of its file system as its device, when asked for (see SftpSourceOptions.deviceIds). */
  async withDevice(path: string, stat: EntryStat): Promise<EntryStat> {
    if (!this.deviceIds) return stat;
    // ssh2 names the field f_sid, and gives it as a number (exact as far as ids need: equal or not) or a BigInt.
    const info = await this.run((session) => session.call<{ f_sid?: number | bigint }>((cb) => session.sftp.ext_openssh_statvfs(path, cb)));
    return { ...stat, dev: BigInt(info.f_sid ?? 0) };
  }

  async readlink(path: Buffer): Promise<Buffer> {
    let target: string;
    try {
      target = await this.run((session) => session.call<string>((cb) => session.sftp.readlink(path.toString(), cb)));
    } catch (err) {
      throw asFileError(err);
    }
    if (target.includes('\ufffd')) throw Object.assign(new Error('its target is not UTF-8, which this SFTP client cannot carry back unchanged'), { code: 'EILSEQ' });
    return Buffer.from(target);
  }

  async isCacheDirectory(path: string): Promise<boolean> {
    const tag = `${path}/CACHEDIR.TAG`;
    try {
      return await this.run(async (session) => {
        // A regular file of its own: a link is not followed, as locally.
        if (!(await session.call<Stats>((cb) => session.sftp.lstat(tag, cb))).isFile()) return false;
        const handle = await session.call<Buffer>((cb) => session.sftp.open(tag, 'r', cb));
        try {
          const head = Buffer.alloc(CACHEDIR_SIGNATURE.length);
          const got = await session.call<number>((cb) => session.sftp.read(handle, head, 0, head.length, 0, cb));
          return got === head.length && head.equals(CACHEDIR_SIGNATURE);
        } finally {
          await session.call<void>((cb) => session.sftp.close(handle, cb)).catch(() => undefined);
        }
      });
    } catch (err) {
      if (err instanceof SourceUnavailable) throw err;
      return false;
    }
  }

  lister(): SourceLister {
    return new SftpLister(this);
  }

  reader(saver: BlobSaver, options: FileSaverOptions): SourceReader {
    return new SftpReader(this, saver, options);
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}

/** Lists remote folders: one readdir each (names with their attributes), several at once, some asked for ahead. */
class SftpLister implements SourceLister {
  private readonly ahead = new Map<string, Promise<FolderListing>>();
  private readonly slots = new Slots(LISTINGS_IN_FLIGHT);
  private closed = false;

  constructor(private readonly source: SftpSource) {}

  count(): Promise<ScanTotals> {
    return Promise.reject(new Error('an SFTP source does not count its totals ahead'));
  }

  async list(folder: Buffer, only?: Buffer): Promise<FolderListing> {
    const key = folder.toString('latin1');
    const listed = this.ahead.get(key);
    this.ahead.delete(key);
    const listing = await (listed ?? this.listNow(folder));
    if (!only || 'failed' in listing) return listing;
    return listingOf(listing.entries.filter((entry) => entry.name.equals(only)));
  }

  /** Listings come from the server, several at a time, whatever the walk does. */
  useThread(): void {}

  prefetch(folders: readonly FolderToList[]): void {
    for (const { folder } of folders) {
      if (this.ahead.size >= LISTED_AHEAD) return;
      const key = folder.toString('latin1');
      if (this.ahead.has(key)) continue;
      const listing = this.listNow(folder);
      listing.catch(() => undefined);
      this.ahead.set(key, listing);
    }
  }

  close(): void {
    this.closed = true;
    this.ahead.clear();
  }

  private async listNow(folder: Buffer): Promise<FolderListing> {
    await this.slots.acquire();
    try {
      if (this.closed) throw new Error('the folder lister is closed');
      const listed = nowSeconds();
      const path = folder.toString();
      let list: FileEntryWithStats[];
      try {
        list = await this.source.run((session) => session.call<FileEntryWithStats[]>((cb) => session.sftp.readdir(path, cb)));
      } catch (err) {
        if (sftpCode(err) === undefined) throw err;
        const { code, message } = asFileError(err);
        return { failed: { code, message } };
      }
      const entries = await Promise.all(
        list
          .filter(({ filename }) => filename !== '.' && filename !== '..')
          .map(async ({ filename, attrs }): Promise<ListedEntry> => {
            const name = Buffer.from(filename);
            const childPath = Buffer.from(path === '/' ? `/${filename}` : `${path}/${filename}`);
            // ssh2 decodes names as UTF-8; a name that is not could not be asked for again by the name it gave.
            if (filename.includes('\ufffd')) return { name, path: childPath, stat: undefined, error: { code: 'EILSEQ', message: 'its name is not UTF-8, which this SFTP client cannot carry back unchanged' } };
            const stat = remoteStat(attrs, listed);
            if (!stat.isDirectory()) return { name, path: childPath, stat };
            try {
              return { name, path: childPath, stat: await this.source.withDevice(childPath.toString(), stat) };
            } catch (err) {
              if (sftpCode(err) === undefined) throw err;
              const { code, message } = asFileError(err);
              return { name, path: childPath, stat: undefined, error: { code, message } };
            }
          }),
      );
      // No digest: SFTP gives no inode or change time, so an unchanged listing does not prove an unchanged folder.
      return listingOf(entries.sort((a, b) => Buffer.compare(a.name, b.name)));
    } finally {
      this.slots.release();
    }
  }
}

/**
 * Reads remote files and cuts them into chunks on this thread, as the file workers do with local ones
 * (without their recognition of a file's previous chunks: over a network, the read is the cost, and
 * every byte of a changed file is read either way).
 */
class SftpReader implements SourceReader {
  private readonly slots = new Slots(FILES_IN_FLIGHT);
  private closed = false;

  constructor(
    private readonly source: SftpSource,
    private readonly saver: BlobSaver,
    private readonly options: FileSaverOptions,
  ) {}

  startWorkers(): void {
    // Nothing to start: files are read on this thread.
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  async read(path: Buffer, size: number, _previous: PreviousChunks, onChunk: (rawLength: number) => void): Promise<FileContent | FileFailure> {
    await this.slots.acquire();
    try {
      if (this.closed) throw new Error('the file reader is closed');
      // A connection made again starts the file over: chunks saved the first time are found stored.
      return await this.source.run((session) => this.readOnce(session, path.toString(), size, onChunk));
    } catch (err) {
      if (sftpCode(err) === undefined) throw err;
      const { code, message } = asFileError(err);
      return { failed: { code, message } };
    } finally {
      this.slots.release();
    }
  }

  /** `listed`: the size the listing gave, which the first read asks for (and one byte more, so that a file still that size ends with it). */
  private async readOnce(session: SftpSession, path: string, listed: number, onChunk: (rawLength: number) => void): Promise<FileContent> {
    const { signal } = this.options;
    const handle = await session.call<Buffer>((cb) => session.sftp.open(path, 'r', cb));
    try {
      // Asked alongside the first reads: the attributes the file has as it is read (a file that is no longer one is not read).
      const opened = session.call<Stats>((cb) => session.sftp.fstat(handle, cb));
      opened.catch(() => undefined);
      const chunks = new ChunkStream(this.saver, this.options, onChunk);
      const inFlight: { asked: number; result: Promise<Buffer> }[] = [];
      const ask = (at: number, length = READ_BLOCK) => {
        const buffer = Buffer.allocUnsafe(length);
        const result = session.call<number>((cb) => session.sftp.read(handle, buffer, 0, length, at, cb)).then((got) => buffer.subarray(0, got));
        result.catch(() => undefined);
        inFlight.push({ asked: length, result });
      };
      // The first read goes with the fstat: a small file costs open, fstat and read together, and close.
      // Sized by the listing, not a whole block: a buffer of 256 KiB per small file kept the collector busy.
      ask(0, Math.min(READ_BLOCK, listed + 1));
      const before = await opened;
      if (!before.isFile()) throw Object.assign(new Error('it is no longer a regular file'), { code: 4 });
      // Reads go out ahead up to the size the file had when opened; past it, one at a time until the end.
      let next = (inFlight[0] as { asked: number }).asked;
      const fill = () => {
        while (inFlight.length < READS_AHEAD && (next < before.size || inFlight.length === 0)) {
          ask(next);
          next += READ_BLOCK;
        }
      };
      fill();
      let offset = 0;
      let reads = 0;
      for (;;) {
        signal?.throwIfAborted();
        const { asked, result } = inFlight.shift() as { asked: number; result: Promise<Buffer> };
        const block = await result;
        reads += 1;
        if (block.byteLength === 0) break;
        await chunks.push(block);
        offset += block.byteLength;
        if (block.byteLength < asked) {
          // A short read that reaches the size the file had when opened is its end (as in the file
          // workers); short before it, the reads asked after it are at the wrong offsets: ask again from here.
          if (offset >= before.size) break;
          inFlight.length = 0;
          next = offset;
        }
        fill();
      }
      const ids = await chunks.finish();
      // Looked at again after several reads, to tell a change while it was read (as the file workers do).
      const after = reads > 1 ? await session.call<Stats>((cb) => session.sftp.fstat(handle, cb)) : before;
      return { ids, bytes: offset, chunked: offset, size: BigInt(after.size), mtimeNs: BigInt(after.mtime) * 1_000_000_000n };
    } finally {
      await session.call<void>((cb) => session.sftp.close(handle, cb)).catch(() => undefined);
    }
  }
}

/** One file's bytes cut into chunks, hashed, and the new ones compressed and stored, in order. */
class ChunkStream {
  private readonly chunker: Chunker;
  private readonly ids: Buffer[] = [];
  /** Bytes of the chunk being cut, from the blocks read so far. */
  private pending: Buffer[] = [];
  private readonly saving = new Set<Promise<void>>();
  private failure: unknown;

  constructor(
    private readonly saver: BlobSaver,
    private readonly options: FileSaverOptions,
    private readonly onChunk: (rawLength: number) => void,
  ) {
    this.chunker = new Chunker(options.gear, options.chunker);
  }

  async push(block: Buffer): Promise<void> {
    let at = 0;
    for (const length of this.chunker.push(block)) {
      const have = this.pending.reduce((sum, b) => sum + b.byteLength, 0);
      const take = length - have;
      const chunk = Buffer.concat([...this.pending, block.subarray(at, at + take)], length);
      this.pending = [];
      at += take;
      await this.save(chunk);
    }
    // Each block is a buffer of its own, never reused: a view of its rest is safe to keep.
    if (at < block.byteLength) this.pending.push(block.subarray(at));
  }

  async finish(): Promise<Buffer[]> {
    const last = this.chunker.finish();
    if (last > 0) await this.save(Buffer.concat(this.pending, last));
    await Promise.all(this.saving);
    if (this.failure !== undefined) throw this.failure;
    return this.ids;
  }

  private async save(chunk: Buffer): Promise<void> {
    const id = computeBlobId(this.options.blobIdKey, chunk);
    this.ids.push(id);
    this.onChunk(chunk.byteLength);
    if (this.saver.has(id)) return;
    const task = this.saver.saveChunk(id, compressBlob(chunk, this.options.level), chunk.byteLength).catch((err: unknown) => {
      this.failure ??= err;
    });
    const tracked = task.finally(() => this.saving.delete(tracked));
    this.saving.add(tracked);
    while (this.saving.size >= CHUNKS_IN_FLIGHT) await Promise.race(this.saving);
    if (this.failure !== undefined) throw this.failure;
  }
}

/** A counting semaphore. */
class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(count: number) {
    this.free = count;
  }

  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free -= 1;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free += 1;
  }
}

function nowSeconds(): bigint {
  return BigInt(Math.floor(Date.now() / 1000));
}

/**
 * An SFTP entry's attributes as the archiver's stat. What SFTP does not carry is constant: no device or
 * inode (0), one link, no birth time. The change time is the modification time, except for an entry
 * modified in the RACY_SECONDS before `listedAt`, whose change time is set past it so that no later
 * listing matches it (see RACY_SECONDS).
 */
export function remoteStat(attrs: Attributes | Stats, listedAt: bigint): EntryStat {
  const mode = BigInt(attrs.mode ?? 0);
  const type = Number(mode) & constants.S_IFMT;
  const mtime = BigInt(attrs.mtime ?? 0);
  const mtimeNs = mtime * 1_000_000_000n;
  const racy = mtime + RACY_SECONDS > listedAt;
  return {
    dev: 0n,
    ino: 0n,
    mode,
    nlink: 1n,
    uid: BigInt(attrs.uid ?? 0),
    gid: BigInt(attrs.gid ?? 0),
    rdev: 0n,
    size: BigInt(attrs.size ?? 0),
    mtimeNs,
    ctimeNs: racy ? mtimeNs + 1n : mtimeNs,
    birthtimeNs: 0n,
    isFile: () => type === constants.S_IFREG,
    isDirectory: () => type === constants.S_IFDIR,
    isSymbolicLink: () => type === constants.S_IFLNK,
    isFIFO: () => type === constants.S_IFIFO,
    isSocket: () => type === constants.S_IFSOCK,
    isCharacterDevice: () => type === constants.S_IFCHR,
  };
}

/** An SFTP status as the errors the backup's warnings know (ENOENT: vanished; EACCES: permission denied). */
function asFileError(err: unknown): Error & { code: string | undefined } {
  if (err instanceof HindsightError) return err as HindsightError & { code: string };
  const status = sftpCode(err);
  if (status === undefined) return err as Error & { code: undefined };
  return Object.assign(new Error((err as Error).message), { code: STATUS_ERRNO[status] ?? 'EIO' });
}
