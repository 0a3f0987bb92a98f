import type { KeyObject } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { BackendError, readChecked, type Backend, type ObjectHandle, type ObjectInfo } from '../backend/backend.js';
import { forEachInOrder, mapConcurrent, type LoadAhead } from '../concurrency.js';
import { AuthenticationFailure, NonceKind, TAG_LENGTH, makeNonce, open } from '../crypto/aead.js';
import { blobIdOfParts, computeBlobId } from '../crypto/blobId.js';
import { MasterKey } from '../crypto/masterKey.js';
import { DEFAULT_ARGON2, type Argon2Params } from '../crypto/passwordKey.js';
import { compressBlob, openBlob, openBlobReader, treeLevel, type PlaintextReader, type PreparedBlob } from './blobCodec.js';
import { newConfig, openConfig, sealConfig, type ConfigOptions, type RepositoryConfig } from './config.js';
import { decodeIndexFile, decodeSupersedes, encodeIndexFile, forEachIndexedPack, type IndexFileContent, type IndexedPack } from './indexFile.js';
import { createKeyFile, parseKeyFile, unwrapKeyFile, type KeyFile } from './keyFile.js';
import { DEFAULT_LOCK_TIMING, acquireLock, listLocks, retryLock, type LockInfo, type LockOwner, type LockTiming, type LockWait, type RepositoryLock } from './lock.js';
import { MemoryIndex, type BlobLocation } from './memoryIndex.js';
import { ENTRY_LENGTH, FormatViolation, TRAILER_LENGTH, decodePackHeader, type BlobType, type PackedBlob } from './packFormat.js';
import { BufferPool } from '../bufferPool.js';
import { MemoryPackBody, STAGE_BYTES, StreamedPackBody, type PackBody } from './packBody.js';
import { MAX_BLOBS_PER_PACK, PackWriter } from './packWriter.js';
import { RepositoryError, damaged } from './repositoryError.js';
import { openObject, sealObject, storageId, type SealedObjectType } from './sealedObject.js';

/**
 * An index file is written once this many blobs await one, however few packs hold them. Until then each
 * blob is an object in memory (its id, place, lengths): a first backup of the 115,993-file gcc tree, its
 * packs full of small files, held ~106,000 of them, 17 MB of its main thread's heap, until the end
 * (heap snapshot 12 s in). restic writes an index file every 50,000 blobs.
 */
const BLOBS_PER_INDEX = 16_384;
/**
 * Index files read ahead of the one being decoded into the index, each held until its turn: up to 8 at
 * once, as long as they hold at most 2 MiB together (a full file holds 754 KB). Each file read and
 * decrypted is a buffer of its size, freed only once V8 collects it; more of them alive at once spread
 * them over glibc's heap, which then kept what they had taken for the rest of the command. No-change
 * backup of a million small files (63 full index files), main thread's heap at the peak: 8 files ahead
 * 62-70 MB, 3 (by 3 MiB) 47-63 MB, 1 or 2 (by 1 or 2 MiB) 12.5-12.9 MB. Against reading them all first,
 * 3 alternating rounds: peak RSS 235-244 -> 193-196 MB, 2.99-3.10 s against 2.96-3.12.
 */
const INDEX_FILES_AHEAD: LoadAhead<ObjectInfo> = { items: 8, weight: 2 * 1024 * 1024, weigh: listedSize };

/** The names of the index files an index file's plaintext says it supersedes. */
function supersededBy(plaintext: Buffer): string[] {
  return decodeSupersedes(plaintext).map((id) => id.toString('hex'));
}

/** An object's size as its listing gave it, 0 where the listing gave none that is usable. */
function listedSize({ size }: ObjectInfo): number {
  return Number.isSafeInteger(size) && size > 0 ? size : 0;
}

export interface InitOptions extends ConfigOptions {
  readonly password: string;
  readonly kdf?: Argon2Params;
}

export interface RepositoryOptions {
  /** Packs uploaded at once while saving blobs (default 2). */
  readonly uploadConcurrency?: number;
  /** Write an index file after this many new packs, so an interrupted backup loses little (default 16). */
  readonly packsPerIndex?: number;
  readonly lockTiming?: LockTiming;
}

export interface KeyInfo {
  readonly id: string;
  readonly current: boolean;
  readonly created: string;
  readonly host: string;
  readonly username: string;
  readonly kdf: Argon2Params;
}

export interface SaveResult {
  readonly id: Buffer;
  /** False when the repository already had the blob (deduplicated). */
  readonly stored: boolean;
}

/**
 * An open repository: the master key, the config, and the index of every
 * blob. Saving blobs fills packs in memory and uploads each one when it
 * reaches the configured size; `flush` uploads the rest and writes the index
 * files that name them. Packs are always written before the index that names
 * them, so a crash leaves only unreferenced packs, never dangling index entries.
 */
export class Repository {
  private memoryIndex = new MemoryIndex();
  /** The index file names `memoryIndex` was loaded from, while it holds nothing else. */
  private loadedIndexListing: string | undefined;
  /** One open pack per blob type: trees never share a pack with file data, so losing a data pack never hides which files it held (as in restic). */
  private readonly openPacks = new Map<BlobType, PackWriter>();
  /** Blobs in the open pack or in packs being uploaded, by pendingKey. */
  private readonly pending = new Set<string>();
  private readonly uploads = new Set<Promise<void>>();
  /** Open packs (data and trees), one waiting for an upload slot, and those uploading: what is in memory at most. */
  private readonly packBuffers: BufferPool;
  /** Stages of packs streamed to the target: a few per pack on their way, for the open packs and those finishing. */
  private readonly stageBuffers = new BufferPool(16, STAGE_BYTES);
  /** Full packs taken out of `openPacks` and waiting for an upload slot, and who waits for them to leave. */
  private finishing = 0;
  private readonly finishingWaiters: (() => void)[] = [];
  private uploadError: unknown;
  private unindexed: IndexedPack[] = [];
  /** Blobs of the packs in `unindexed`: an index file is written once they are BLOBS_PER_INDEX. */
  private unindexedBlobs = 0;
  /** The shared lock that overlapping `withLock(false)` calls hold together, and how many hold it. */
  private sharedLease: { holders: number; readonly ready: Promise<RepositoryLock> } | undefined;
  private closed = false;

  private constructor(
    readonly backend: Backend,
    private readonly master: MasterKey,
    readonly config: RepositoryConfig,
    private currentKeyId: string,
    private readonly options: Required<RepositoryOptions>,
  ) {
    this.packBuffers = new BufferPool(options.uploadConcurrency + 3);
  }

  /** Creates a new repository on `backend`, protected by `password`, and opens it. */
  static async init(backend: Backend, init: InitOptions, options: RepositoryOptions = {}): Promise<Repository> {
    const config = newConfig(init);
    await backend.create();
    const master = MasterKey.generate();
    const key = await createKeyFile(master, init.password, init.kdf ?? DEFAULT_ARGON2, currentOwner());
    // The key is written first: a repository is only a repository once its config exists.
    await backend.write({ type: 'keys', name: key.id }, key.bytes);
    await backend.write({ type: 'config', name: 'config' }, sealConfig(master, config));
    return new Repository(backend, master, config, key.id, withDefaults(options));
  }

  /** Opens an existing repository; tries every key file against the password. */
  static async open(backend: Backend, password: string, options: RepositoryOptions = {}): Promise<Repository> {
    let storedConfig: Buffer;
    try {
      storedConfig = await backend.read({ type: 'config', name: 'config' });
    } catch (err) {
      if (err instanceof BackendError && err.code === 'E_NOT_FOUND') {
        throw new RepositoryError('E_REPO_NOT_FOUND', `There is no Hindsight repository at ${backend.location}. Create one with "hindsight init".`);
      }
      throw err;
    }
    let tried = 0;
    let damagedKey: RepositoryError | undefined;
    let configError: unknown;
    for await (const { name } of backend.list('keys')) {
      let file: KeyFile;
      try {
        file = await readChecked(backend, { type: 'keys', name }, undefined, (bytes) => parseKeyFile(name, bytes));
      } catch (err) {
        if (err instanceof RepositoryError) {
          damagedKey ??= err;
          continue;
        }
        throw err;
      }
      tried += 1;
      const master = await unwrapKeyFile(file, password);
      if (!master) continue;
      let config: RepositoryConfig;
      try {
        config = openConfig(master, storedConfig);
      } catch (err) {
        // A key left behind by an interrupted init of another repository unwraps, but cannot open this config.
        configError = err;
        continue;
      }
      const repository = new Repository(backend, master, config, name, withDefaults(options));
      await repository.reloadIndex();
      return repository;
    }
    if (configError) throw configError;
    if (damagedKey && tried === 0) throw damagedKey;
    if (tried === 0) throw new RepositoryError('E_REPO_NOT_FOUND', `The repository at ${backend.location} has no key files; it cannot be opened.`);
    throw new RepositoryError(
      'E_WRONG_PASSWORD',
      `Wrong password for the repository at ${backend.location}` + (damagedKey ? ` (and ${damagedKey.message})` : '.'),
    );
  }

  /** Every blob the repository knew when the index was last loaded, plus what this session saved. */
  get index(): MemoryIndex {
    return this.memoryIndex;
  }

  /**
   * Loads the index again. Call it after taking a lock: another process may
   * have added or pruned data between opening the repository and getting the
   * lock, and a backup must not deduplicate against blobs a prune removed.
   */
  async reloadIndex(): Promise<void> {
    if ([...this.openPacks.values()].some((pack) => pack.count > 0) || this.uploads.size > 0 || this.unindexed.length > 0) {
      throw new RepositoryError('E_INVALID_ARGUMENT', 'The index cannot be reloaded while new data is waiting to be flushed.');
    }
    const files = await this.listIndexInfos();
    // Index files are named by their content: the same names are the same index, not worth reading
    // again (a backup reloads right after opening, once it holds its lock).
    const listing = files.map(({ name }) => name).join(' ');
    if (listing === this.loadedIndexListing) return;
    let loaded = await this.loadIndex(files);
    // A file named as superseded by another is not in force (prune writes the replacement first and
    // deletes the old files after): rare, and then the index is loaded again without them.
    if (files.some(({ name }) => loaded.superseded.has(name))) {
      const superseded = loaded.superseded;
      loaded = await this.loadIndex(files.filter(({ name }) => !superseded.has(name)));
    }
    this.memoryIndex = loaded.index;
    this.loadedIndexListing = listing;
  }

  /**
   * The index `files` hold, and the files they name as superseded. Each file is decoded into the index as
   * its turn comes, a few read ahead (INDEX_FILES_AHEAD), rather than all read first and then decoded.
   * The index is sized for the files' bytes before any is read: they are not compressed, so every
   * ENTRY_LENGTH bytes hold at most one entry, and it need not grow (grown, it leaves its outgrown arrays
   * to the collector; see MemoryIndex).
   */
  private async loadIndex(files: readonly ObjectInfo[]): Promise<{ index: MemoryIndex; superseded: Set<string> }> {
    const index = new MemoryIndex(files.reduce((entries, file) => entries + Math.floor(listedSize(file) / ENTRY_LENGTH), 0));
    const superseded = new Set<string>();
    await forEachInOrder(files, INDEX_FILES_AHEAD, ({ name }) => this.loadObject('index', name), (plaintext, { name }) =>
      decodeOrThrow(name, () => {
        for (const old of supersededBy(plaintext)) superseded.add(old);
        forEachIndexedPack(plaintext, (pack) => index.addEntries(plaintext, pack));
      }),
    );
    return { index, superseded };
  }

  get keyId(): string {
    return this.currentKeyId;
  }

  get blobIdKey(): Buffer {
    return this.master.blobIdKey;
  }

  get chunkerSeed(): Buffer {
    return this.master.chunkerSeed;
  }

  /** The key a pack's blobs are sealed with, for a thread that opens them (see gatherSealedBlobs). */
  packKey(pack: string): KeyObject {
    return this.master.packKey(Buffer.from(pack, 'hex'));
  }

  // ---- keys -------------------------------------------------------------

  async listKeys(): Promise<KeyInfo[]> {
    const keys: KeyInfo[] = [];
    for await (const { name } of this.backend.list('keys')) {
      const file = await readChecked(this.backend, { type: 'keys', name }, undefined, (bytes) => parseKeyFile(name, bytes));
      const { memoryKiB, iterations, parallelism } = file.kdf;
      keys.push({ id: name, current: name === this.currentKeyId, created: file.created, host: file.host, username: file.username, kdf: { memoryKiB, iterations, parallelism } });
    }
    return keys.sort((a, b) => a.created.localeCompare(b.created));
  }

  /** Adds a key file for another password; returns its id. */
  async addKey(password: string, kdf: Argon2Params = DEFAULT_ARGON2): Promise<string> {
    const key = await createKeyFile(this.master, password, kdf, currentOwner());
    await this.backend.write({ type: 'keys', name: key.id }, key.bytes);
    return key.id;
  }

  /** Removes a key by id or unique id prefix; the key this session opened with cannot be removed. */
  async removeKey(idOrPrefix: string): Promise<string> {
    const id = await this.resolveKey(idOrPrefix);
    if (id === this.currentKeyId) {
      throw new RepositoryError(
        'E_KEY_IN_USE',
        `Key ${id.slice(0, 8)} is the one this password opened; it cannot remove itself. Open the repository with another key's password to remove it, or use "key passwd".`,
      );
    }
    await this.backend.delete({ type: 'keys', name: id });
    return id;
  }

  /** Replaces the current key with one for a new password; the new key is written before the old one is removed. */
  async changePassword(password: string, kdf: Argon2Params = DEFAULT_ARGON2): Promise<string> {
    const old = this.currentKeyId;
    const id = await this.addKey(password, kdf);
    this.currentKeyId = id;
    await this.backend.delete({ type: 'keys', name: old });
    return id;
  }

  private async resolveKey(idOrPrefix: string): Promise<string> {
    const prefix = idOrPrefix.toLowerCase();
    const matches: string[] = [];
    for await (const { name } of this.backend.list('keys')) if (name.startsWith(prefix)) matches.push(name);
    if (matches.length === 1 && prefix.length > 0) return matches[0] as string;
    throw new RepositoryError(
      'E_KEY_NOT_FOUND',
      matches.length === 0 || prefix.length === 0 ? `No key matches "${idOrPrefix}". Run "hindsight key list" to see the keys.` : `"${idOrPrefix}" matches ${matches.length} keys; give more of the id.`,
    );
  }

  // ---- locks ------------------------------------------------------------

  /**
   * Runs `work` under a lock, with the index read again once the lock is held (another process may have
   * added or pruned data since the repository was opened), and releases the lock afterwards. Shared
   * calls that overlap share one lock and one reload: the browser asks for a folder's page and its
   * subfolders at once, and each lock is a list, a write, a second list and a delete on the backend
   * (five requests on S3). The lock goes as soon as the last of them ends, so it never outlives the work.
   * With `wait`, a lock another process holds is waited for as `lock` does.
   */
  async withLock<T>(exclusive: boolean, work: () => Promise<T>, wait?: LockWait): Promise<T> {
    if (exclusive) {
      const lock = await this.lock(true, wait);
      try {
        await this.reloadIndex();
        return await work();
      } finally {
        await lock.release();
      }
    }
    let lease = this.sharedLease;
    if (!lease) {
      const ready = this.lock(false, wait).then(async (lock) => {
        try {
          await this.reloadIndex();
        } catch (err) {
          await lock.release();
          throw err;
        }
        return lock;
      });
      lease = this.sharedLease = { holders: 0, ready };
    }
    lease.holders += 1;
    try {
      await lease.ready;
      return await work();
    } finally {
      lease.holders -= 1;
      if (lease.holders === 0) {
        if (this.sharedLease === lease) this.sharedLease = undefined;
        await lease.ready.then(
          (lock) => lock.release(),
          () => undefined,
        );
      }
    }
  }

  /** Takes a lock; with `wait`, keeps trying while another process holds a conflicting one. */
  lock(exclusive: boolean, wait?: LockWait): Promise<RepositoryLock> {
    const attempt = () => acquireLock(this.backend, this.master, exclusive, currentOwner(), this.options.lockTiming);
    return wait ? retryLock(attempt, wait) : attempt();
  }

  listLocks(): Promise<{ locks: LockInfo[]; unreadable: string[] }> {
    return listLocks(this.backend, this.master, this.options.lockTiming, currentOwner());
  }

  /** Removes stale (or, with `all`, every) lock; returns what was removed. */
  async unlock(all = false): Promise<LockInfo[]> {
    const { locks } = await this.listLocks();
    const removed = locks.filter((lock) => all || lock.stale);
    for (const lock of removed) await this.backend.delete({ type: 'locks', name: lock.id });
    return removed;
  }

  // ---- blobs ------------------------------------------------------------

  hasBlob(id: Uint8Array): boolean {
    return this.index.has(id) || (this.pending.size > 0 && this.pending.has(pendingKey(id)));
  }

  /** Stores a blob unless the repository already has it, compressing on this thread. Waits when too many packs are uploading (backpressure). */
  async saveBlob(type: BlobType, plaintext: Uint8Array): Promise<SaveResult> {
    this.assertUsable();
    const id = computeBlobId(this.master.blobIdKey, plaintext);
    if (!this.reserveBlob(id)) return { id, stored: false };
    const { level } = this.config.compression;
    await this.addPreparedBlob(type, id, compressBlob(plaintext, type === 'tree' ? treeLevel(level) : level), plaintext.byteLength);
    return { id, stored: true };
  }

  /**
   * Claims a blob id for saving: true if the repository neither has it nor is
   * saving it already, in which case the caller must follow with
   * `addPreparedBlob` (or `releaseBlob` if it cannot).
   */
  reserveBlob(id: Buffer): boolean {
    if (this.index.has(id)) return false;
    const key = pendingKey(id);
    if (this.pending.has(key)) return false;
    this.pending.add(key);
    return true;
  }

  releaseBlob(id: Buffer): void {
    this.pending.delete(pendingKey(id));
  }

  /** Encrypts a reserved, already compressed blob into the open pack; returns its stored size. */
  async addPreparedBlob(type: BlobType, id: Buffer, prepared: PreparedBlob, rawLength: number): Promise<number> {
    this.assertUsable();
    // Backpressure: while a full pack waits for an upload slot, no new pack fills up behind it. Without
    // this, every blob but the one that filled a pack went on into a new pack, so on a slow target full
    // packs piled up in memory (5 of 16 MiB seen on a local disk; without bound on a slow line). A pack
    // written as it fills holds blobs back too, while its bytes wait for a slow disk. The condition is
    // tested again after every wait, and nothing waits between the last test and the add below:
    // callers come in bursts (a worker's batch of chunks), and each must see what the one before did.
    for (;;) {
      while (this.finishing > 0) await new Promise<void>((resolve) => this.finishingWaiters.push(resolve));
      if (this.uploadError !== undefined) await this.throwUploadError();
      const open = this.openPacks.get(type);
      if (!open?.congested) break;
      await open.ready().catch((err: unknown) => {
        this.uploadError ??= err;
      });
    }
    // Start a new pack rather than let one blob push a pack well past its target size.
    const incoming = prepared.body.byteLength;
    const open = this.openPacks.get(type);
    if (open && ((open.count > 0 && open.size + incoming > this.config.packSize) || !open.fits(incoming))) await this.finishPack(type);
    // A call that waited above may wake after a failed backup closed the repository: a pack it opened
    // now would be written in part and never removed.
    this.assertUsable();
    const pack = this.openPackFor(this.openPacks, type);
    const blob = pack.add(type, id, prepared, rawLength);
    if (pack.isFull(this.config.packSize)) await this.finishPack(type);
    return blob.length;
  }

  /**
   * addPreparedBlob without waiting, for the common case: when no pack is being finished, uploads have
   * not failed, and the open pack takes the blob without being held back or filled by it, the blob is
   * encrypted into it now and its stored size returned. Otherwise nothing is done and the result is
   * undefined: the caller goes through addPreparedBlob, which waits and starts packs as needed.
   */
  addPreparedBlobAtOnce(type: BlobType, id: Buffer, prepared: PreparedBlob, rawLength: number): number | undefined {
    this.assertUsable();
    if (this.finishing > 0 || this.uploadError !== undefined) return undefined;
    const open = this.openPacks.get(type);
    if (!open || open.congested || !open.fits(prepared.body.byteLength) || open.fullWith(prepared.body.byteLength, this.config.packSize)) return undefined;
    return open.add(type, id, prepared, rawLength).length;
  }

  /** Loads and verifies a blob: authenticated decryption, then its id recomputed from the plaintext. */
  async loadBlob(id: Uint8Array): Promise<Buffer> {
    const location = this.index.get(id);
    if (!location) {
      throw new RepositoryError('E_BLOB_NOT_FOUND', `Blob ${Buffer.from(id).toString('hex').slice(0, 16)} is not in the repository index.`);
    }
    return readChecked(this.backend, { type: 'data', name: location.pack }, { offset: location.offset, length: location.length }, (sealed) => this.openBlobAt(location, sealed));
  }

  /**
   * Reads a blob a part at a time (see openBlobReader), for a caller that goes through it once and keeps
   * less than all of it (a folder listing from its tree): `consume` reads the plaintext from the reader
   * it is given, what it leaves unread is read here, and the whole is verified as loadBlob verifies it
   * before `consume`'s result is returned. Damage throws, whatever `consume` made of the bytes.
   */
  async readBlob<T>(id: Uint8Array, consume: (reader: PlaintextReader) => T): Promise<T> {
    const location = this.index.get(id);
    if (!location) {
      throw new RepositoryError('E_BLOB_NOT_FOUND', `Blob ${Buffer.from(id).toString('hex').slice(0, 16)} is not in the repository index.`);
    }
    return readChecked(this.backend, { type: 'data', name: location.pack }, { offset: location.offset, length: location.length }, (sealed) => {
      const what = `Blob ${location.id.toString('hex').slice(0, 16)} in pack data/${location.pack}`;
      const fault = (err: unknown) => damaged(what, err instanceof AuthenticationFailure ? 'authentication failed' : (err as Error).message, err);
      let reader: PlaintextReader;
      try {
        reader = openBlobReader(this.master.packKey(Buffer.from(location.pack, 'hex')), location, sealed);
      } catch (err) {
        throw fault(err);
      }
      const hash = blobIdOfParts(this.master.blobIdKey);
      let length = 0;
      const verified: PlaintextReader = {
        read(into) {
          let count: number;
          try {
            count = reader.read(into);
          } catch (err) {
            throw fault(err);
          }
          hash.update(into.subarray(0, count));
          length += count;
          return count;
        },
      };
      let result: { value: T } | { error: unknown };
      try {
        result = { value: consume(verified) };
      } catch (error) {
        result = { error };
      }
      const rest = Buffer.allocUnsafe(64 * 1024);
      while (verified.read(rest) > 0);
      if (length !== location.rawLength) throw damaged(what, `decompressed to ${length} bytes, expected ${location.rawLength}`);
      if (!hash.digest().equals(location.id)) throw damaged(what, 'its content does not match its id');
      if ('error' in result) throw result.error;
      return result.value;
    });
  }

  /** Decrypts a blob read from `location` and checks it is the blob the index says. */
  openBlobAt(location: BlobLocation, sealed: Uint8Array): Buffer {
    return this.verifyBlobAt(location, sealed).plaintext;
  }

  /** Decrypts and verifies a blob; returns its stored (possibly compressed) form too. */
  private verifyBlobAt(location: BlobLocation, sealed: Uint8Array): { body: Buffer; plaintext: Buffer } {
    const what = `Blob ${location.id.toString('hex').slice(0, 16)} in pack data/${location.pack}`;
    let opened: { body: Buffer; plaintext: Buffer };
    try {
      opened = openBlob(this.master.packKey(Buffer.from(location.pack, 'hex')), location, sealed);
    } catch (err) {
      throw damaged(what, err instanceof AuthenticationFailure ? 'authentication failed' : (err as Error).message, err);
    }
    if (!computeBlobId(this.master.blobIdKey, opened.plaintext).equals(location.id)) throw damaged(what, 'its content does not match its id');
    return opened;
  }

  /** Reads and authenticates a pack's own header: the list of blobs it holds. `whole`: the pack's bytes, when the caller has read them. */
  async readPackHeader(pack: string, whole?: Buffer): Promise<PackedBlob[]> {
    const what = `Pack data/${pack}`;
    const size = whole?.length ?? (await this.backend.stat({ type: 'data', name: pack })).size;
    if (size < TRAILER_LENGTH + TAG_LENGTH) throw damaged(what, 'too short to be a pack');
    // Given the whole pack (check --read-data has it already), nothing more is read.
    const tailLength = whole ? size : Math.min(size, 64 * 1024);
    let tail = whole ?? (await this.backend.read({ type: 'data', name: pack }, { offset: size - tailLength, length: tailLength }));
    const headerLength = tail.readUInt32LE(tail.length - TRAILER_LENGTH);
    const headerStart = size - TRAILER_LENGTH - headerLength;
    if (headerLength < TAG_LENGTH || headerStart < 0) throw damaged(what, 'header length out of range');
    if (headerStart < size - tailLength) {
      tail = await this.backend.read({ type: 'data', name: pack }, { offset: headerStart, length: headerLength + TRAILER_LENGTH });
    }
    const sealedHeader = tail.subarray(tail.length - TRAILER_LENGTH - headerLength, tail.length - TRAILER_LENGTH);
    try {
      const header = open(this.master.packKey(Buffer.from(pack, 'hex')), makeNonce(NonceKind.PackHeader, 0), sealedHeader);
      return decodePackHeader(header, headerStart);
    } catch (err) {
      if (err instanceof AuthenticationFailure) throw damaged(what, 'header authentication failed', err);
      if (err instanceof FormatViolation) throw damaged(what, err.message, err);
      throw err;
    }
  }

  /** Uploads the open pack, waits for every upload, and writes the index files that name the new packs. */
  async flush(): Promise<void> {
    this.assertUsable();
    for (const type of [...this.openPacks.keys()]) await this.finishPack(type);
    while (this.uploads.size > 0) await Promise.all(this.uploads);
    if (this.uploadError !== undefined) await this.throwUploadError();
    if (this.unindexed.length > 0) await this.writeIndex();
  }

  private async finishPack(type: BlobType): Promise<void> {
    const pack = this.openPacks.get(type);
    this.openPacks.delete(type);
    if (!pack || pack.count === 0) return;
    this.finishing += 1;
    try {
      while (this.uploads.size >= this.options.uploadConcurrency) await Promise.race(this.uploads);
    } finally {
      this.finishing -= 1;
      if (this.finishing === 0) for (const wake of this.finishingWaiters.splice(0)) wake();
    }
    // No await between taking the slot and filling it, or a waiting pack could take the same slot.
    if (this.uploadError !== undefined) {
      // This pack is no longer open, so giving up the open packs would not reach it.
      await pack.release();
      await this.throwUploadError();
    }
    const upload = pack
      .store()
      .then(({ size, blobs }) => {
        this.memoryIndex.addPack(pack.id, size, blobs);
        // The index in memory is now ahead of the files: the next reload reads them all again.
        this.loadedIndexListing = undefined;
        for (const blob of blobs) this.pending.delete(pendingKey(blob.id));
        this.unindexed.push({ id: pack.id, size, blobs });
        this.unindexedBlobs += blobs.length;
      })
      .catch((err: unknown) => {
        this.uploadError ??= err;
      })
      .finally(async () => {
        await pack.release();
        this.uploads.delete(upload);
      });
    this.uploads.add(upload);
    if (this.unindexed.length >= this.options.packsPerIndex || this.unindexedBlobs >= BLOBS_PER_INDEX) await this.writeIndex();
  }

  private async writeIndex(): Promise<void> {
    const packs = this.unindexed;
    this.unindexed = [];
    this.unindexedBlobs = 0;
    await this.saveObject('index', encodeIndexFile({ supersedes: [], packs }));
  }

  /**
   * After a failed upload: the open packs are given up with it, and the error thrown. Callers test
   * `uploadError` first, so that without an error nothing waits (see finishPack).
   */
  private async throwUploadError(): Promise<void> {
    const err = this.uploadError;
    this.uploadError = undefined;
    await this.abandonOpenPacks();
    throw err;
  }

  /** Drops the open packs and their blobs; a pack already partly written to the target is removed there. */
  private async abandonOpenPacks(): Promise<void> {
    const packs = [...this.openPacks.values()];
    this.openPacks.clear();
    this.pending.clear();
    await Promise.all(packs.map((pack) => pack.release()));
  }

  /**
   * Every index file that is in force: files named in another file's
   * `supersedes` are skipped (prune writes the replacement first and deletes
   * the old files after, so both may exist for a while).
   */
  async readIndexFiles(): Promise<{ id: string; content: IndexFileContent }[]> {
    return (await this.readIndexesInForce()).map(({ id, plaintext }) => ({ id, content: decodeIndexFileOrThrow(plaintext, id) }));
  }

  /** The index files and their sizes, by name. */
  private async listIndexInfos(): Promise<ObjectInfo[]> {
    const files: ObjectInfo[] = [];
    for await (const file of this.backend.list('index')) files.push(file);
    return files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** The decrypted bytes of every index file in force (see readIndexFiles), not yet decoded. */
  private async readIndexesInForce(): Promise<{ id: string; plaintext: Buffer }[]> {
    const files = await mapConcurrent(await this.listIndexInfos(), 8, async ({ name: id }) => ({ id, plaintext: await this.loadObject('index', id) }));
    const superseded = new Set(files.flatMap((file) => decodeOrThrow(file.id, () => supersededBy(file.plaintext))));
    return files.filter((file) => !superseded.has(file.id));
  }

  /**
   * Writes a complete replacement for the index files `replaces`: the new
   * files go first, the last of them naming the old ones as superseded, and
   * only then are the old files deleted, so an interruption at any point
   * leaves an index that names every pack still needed.
   */
  async replaceIndex(packs: readonly IndexedPack[], replaces: readonly string[]): Promise<string[]> {
    const perFile = 256;
    const written: string[] = [];
    const batches: IndexedPack[][] = [];
    for (let i = 0; i < packs.length; i += perFile) batches.push(packs.slice(i, i + perFile));
    if (batches.length === 0) batches.push([]);
    for (const [i, batch] of batches.entries()) {
      const supersedes = i === batches.length - 1 ? replaces.map((id) => Buffer.from(id, 'hex')) : [];
      written.push(await this.saveObject('index', encodeIndexFile({ supersedes, packs: batch })));
    }
    for (const id of replaces) await this.backend.delete({ type: 'index', name: id });
    return written;
  }

  /**
   * Copies blobs into new packs (prune's repack): each source pack is read
   * once, every blob is authenticated and its id rechecked, and its
   * compressed form is re-encrypted under the new pack's key. Returns the new
   * packs; they are in no index until the caller writes one. `beforePack` runs
   * before each source pack is read: what it throws stops the repack there
   * (packs already stored stay, in no index, for the next prune to remove).
   */
  async repackBlobs(blobs: readonly BlobLocation[], onPack?: (bytes: number) => void, beforePack?: () => void): Promise<IndexedPack[]> {
    const bySource = new Map<string, BlobLocation[]>();
    for (const blob of blobs) bySource.set(blob.pack, [...(bySource.get(blob.pack) ?? []), blob]);
    const written: IndexedPack[] = [];
    // As when saving: trees and data go to packs of their own.
    const open = new Map<BlobType, PackWriter>();
    const flushPack = async (type: BlobType) => {
      const pack = open.get(type);
      open.delete(type);
      if (!pack || pack.count === 0) return;
      let stored: Awaited<ReturnType<PackWriter['store']>>;
      try {
        stored = await pack.store();
      } finally {
        await pack.release();
      }
      const { size, blobs: packed } = stored;
      written.push({ id: pack.id, size, blobs: packed });
      onPack?.(size);
    };
    try {
      for (const [source, members] of bySource) {
        beforePack?.();
        const bytes = await this.backend.read({ type: 'data', name: source });
        for (const blob of members) {
          const sealed = bytes.subarray(blob.offset, blob.offset + blob.length);
          if (sealed.length !== blob.length) throw damaged(`Pack data/${source}`, 'shorter than its index says');
          const { body } = this.verifyBlobAt(blob, sealed);
          const current = open.get(blob.type);
          if (current && (current.size + body.length > this.config.packSize || current.count >= MAX_BLOBS_PER_PACK) && current.count > 0) await flushPack(blob.type);
          const pack = this.openPackFor(open, blob.type);
          pack.add(blob.type, blob.id, { body, compressed: blob.compressed }, blob.rawLength);
          await pack.ready();
        }
      }
      for (const type of [...open.keys()]) await flushPack(type);
    } catch (err) {
      // Packs partly written to the target are removed there; the caller indexes none of them.
      await Promise.all([...open.values()].map((pack) => pack.release()));
      throw err;
    }
    return written;
  }

  private openPackFor(open: Map<BlobType, PackWriter>, type: BlobType): PackWriter {
    let pack = open.get(type);
    if (!pack) {
      pack = new PackWriter(this.master, (handle) => this.packBody(handle));
      open.set(type, pack);
    }
    return pack;
  }

  /** A pack streams to a target that can append (a local disk); anything else gets it whole, from memory. */
  private packBody(handle: ObjectHandle): PackBody {
    if (this.backend.createWriter) return new StreamedPackBody(this.backend.createWriter(handle, { uncached: true }), this.stageBuffers);
    return new MemoryPackBody(this.backend, handle, this.packBuffers, this.config.packSize);
  }

  // ---- small sealed objects -----------------------------------------------

  /** Seals and stores an index, snapshot or similar object; returns its id (the SHA-256 of the stored bytes). */
  async saveObject(type: Exclude<SealedObjectType, 'config' | 'locks'>, plaintext: Uint8Array): Promise<string> {
    const bytes = sealObject(this.master, type, plaintext, type === 'snapshots' ? this.config.compression.level || undefined : undefined);
    const id = storageId(bytes);
    await this.backend.write({ type, name: id }, bytes);
    return id;
  }

  /** Reads a sealed object, checking its name against its content and authenticating it. */
  async loadObject(type: Exclude<SealedObjectType, 'config' | 'locks'>, id: string): Promise<Buffer> {
    const what = `${type === 'index' ? 'Index' : 'Snapshot'} file ${type}/${id}`;
    return readChecked(this.backend, { type, name: id }, undefined, (bytes) => {
      if (storageId(bytes) !== id) throw damaged(what, 'its content does not match its name');
      return openObject(this.master, type, bytes, what);
    });
  }

  /**
   * Throws `damaged` unless `bytes` are a sound copy of the object: the
   * config opens with this repository's key, key, index and snapshot files
   * hash to their names, a pack's header and every blob it lists
   * authenticate. Used to choose a good copy among several targets.
   */
  async verifyObject(handle: ObjectHandle, bytes: Buffer): Promise<void> {
    switch (handle.type) {
      case 'config':
        openConfig(this.master, bytes);
        return;
      case 'data':
        for (const blob of await this.readPackHeader(handle.name, bytes)) {
          if (blob.offset + blob.length > bytes.length) throw damaged(`Pack data/${handle.name}`, 'a blob lies beyond its end');
          this.verifyBlobAt({ ...blob, pack: handle.name }, bytes.subarray(blob.offset, blob.offset + blob.length));
        }
        return;
      case 'locks':
        return;
      default:
        if (storageId(bytes) !== handle.name) throw damaged(`${handle.type}/${handle.name}`, 'its content does not match its name');
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    // After a failed backup packs may still be on their way: they settle (and a pack written in part is
    // removed) before the backend closes under them.
    await Promise.allSettled([...this.uploads]);
    await this.abandonOpenPacks();
    await this.backend.close();
  }

  private assertUsable(): void {
    if (this.closed) throw new RepositoryError('E_CLOSED', 'The repository has been closed.');
  }
}

function decodeIndexFileOrThrow(plaintext: Buffer, name: string) {
  return decodeOrThrow(name, () => decodeIndexFile(plaintext));
}

function decodeOrThrow<T>(name: string, decode: () => T): T {
  try {
    return decode();
  } catch (err) {
    if (err instanceof FormatViolation) throw damaged(`Index file index/${name}`, err.message, err);
    throw err;
  }
}

function withDefaults(options: RepositoryOptions): Required<RepositoryOptions> {
  return {
    uploadConcurrency: options.uploadConcurrency ?? 2,
    packsPerIndex: options.packsPerIndex ?? 16,
    lockTiming: options.lockTiming ?? DEFAULT_LOCK_TIMING,
  };
}

function currentOwner(): LockOwner {
  let username = 'unknown';
  try {
    username = userInfo().username;
  } catch {
    // Containers may run as a uid with no passwd entry.
  }
  return { host: hostname(), username, pid: process.pid };
}

/**
 * A blob id as a key of Repository.pending: its 32 bytes as a latin1 string, half the length of hex and
 * made without a lookup table. A first backup asks for one to three per new blob (has it, reserve it,
 * stored); as hex they were ~3% of the main thread's time with 100,000 small files (V8 profile).
 */
function pendingKey(id: Uint8Array): string {
  return Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('latin1');
}
