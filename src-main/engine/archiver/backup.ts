import { createHash } from 'node:crypto';
import { availableParallelism, hostname, userInfo } from 'node:os';
import { join, posix, resolve as resolvePath, sep } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Progress, Warning } from '../../../src-shared/progress.js';
import { HindsightError } from '../../../src-shared/errors.js';
import { repositoryCacheDir } from '../cacheDir.js';
import { gearTable } from '../chunker/gearTable.js';
import { ByteBudget } from '../concurrency.js';
import { ProgressMeter } from '../progressMeter.js';
import type { RepositoryLock } from '../repository/lock.js';
import type { Repository } from '../repository/repository.js';
import { listSnapshots, saveSnapshot, type BackupSummary, type BackupType, type Snapshot } from '../snapshot/snapshot.js';
import { encodeTree, encodeTreeInOrder, type NodeType, type TreeNode, type TreeXattr } from '../snapshot/tree.js';
import { TreeLoader } from '../snapshot/treeLoader.js';
import { walkTree } from '../snapshot/walkTree.js';
import { BlobSaver } from './blobSaver.js';
import { ChangedPaths } from './changedPaths.js';
import { ExcludeRules, type ExcludeOptions } from './excludes.js';
import type { PreviousChunks } from './fileSaver.js';
import { FilesCache, type CachedFile, type CachedFolder } from './filesCache.js';
import { ParentTrees, type ParentDir } from './parentTrees.js';
import { ENTRY_NAME_OFFSET, locatedIsFile, type LocatedEntries } from '../snapshot/canonicalTree.js';
import type { EntryStat } from './entryStat.js';
import type { FolderToList, ListExtras, ListedEntry, ListedFolder } from './folderLister.js';
import { STAMP, type FolderRecord } from './folderRecord.js';
import { localSource } from '../source/localSource.js';
import { SourceUnavailable, type Source, type SourceLister, type SourceReader } from '../source/source.js';
import { onlyMetadataChanged } from '../metadata/metadataChange.js';
import { flagsSupported, readFlags, type FileFlags } from '../metadata/fileFlags.js';
import { XattrStore } from '../metadata/xattrStore.js';

export interface BackupOptions {
  /** Files or folders to back up; made absolute. */
  readonly paths: readonly string[];
  readonly type?: BackupType;
  readonly tags?: readonly string[];
  readonly excludes?: ExcludeOptions;
  /** Do not descend into other file systems (mount points are kept as empty folders). */
  readonly oneFileSystem?: boolean;
  /** Keep extended attributes (POSIX ACLs among them). Default true; false is `--no-xattrs`. */
  readonly xattrs?: boolean;
  readonly host?: string;
  /** Folder for the files cache; default: the user's cache folder for this repository. */
  readonly cacheDir?: string;
  /** File reading and compression worker threads; default: one per core. */
  readonly workers?: number;
  readonly onProgress?: (progress: Progress) => void;
  /**
   * Count the files and bytes to back up, in a second walk alongside the backup, for the progress
   * totals (percentage and ETA). Default true. Without it the totals are the parent snapshot's, or
   * unknown: worth it when nobody watches the progress (restic skips its scanner likewise when quiet).
   */
  readonly countTotals?: boolean;
  readonly onWarning?: (warning: Warning) => void;
  /**
   * Stops the backup at a safe point (pause or cancel): the packs finished so far and an index naming
   * them are written, so a rerun skips that work; no snapshot is written. Rejects with BackupInterrupted.
   */
  readonly signal?: AbortSignal;
  /**
   * Only these paths changed since the parent snapshot (what a file watcher saw): folders holding none of
   * them are taken whole from the parent snapshot without being read. Ignored when there is no parent.
   */
  readonly changedPaths?: readonly string[];
  /**
   * Where `paths` are: this computer (the default) or another machine (an SFTP source); the snapshot
   * records that machine's host name unless `host` is given.
   */
  readonly source?: Source;
}

/** The backup was stopped through its signal; the work finished so far is kept in the repository. */
export class BackupInterrupted extends HindsightError {
  constructor() {
    super('E_INTERRUPTED', 'The backup was stopped before it finished. What it saved is kept; the next run continues from there.');
  }
}

export interface BackupResult {
  readonly snapshot: Snapshot;
  readonly warnings: readonly Warning[];
  /** Folders taken whole from the parent snapshot, as the files cache recorded them (see folderTree). */
  readonly foldersUnchanged: number;
  /** Files of the other folders whose entries were taken from the parent snapshot's trees as they were (see reusedEntries). */
  readonly filesReused: number;
}

/** What a backup would add, found by doing all of its reading and none of its writing. */
export interface DryRunResult {
  /** The snapshot it compared with, as the backup would. */
  readonly parent: string | undefined;
  /** What the snapshot's summary would say; `bytesAdded` is the blobs' stored size, packs' headers and the index aside. */
  readonly summary: BackupSummary;
  /** The new blobs' bytes before compression. */
  readonly rawBytesAdded: number;
  readonly warnings: readonly Warning[];
}

/** A dry run stopped through its signal. */
export class DryRunInterrupted extends HindsightError {
  constructor() {
    super('E_INTERRUPTED', 'The dry run was stopped before it finished; nothing was written.');
  }
}

/** A walk of the sources done, its blobs saved (or, in a dry run, counted): what is left is the snapshot. */
interface Walked {
  readonly parent: Snapshot | undefined;
  readonly type: BackupType;
  readonly host: string;
  readonly started: number;
  readonly tree: Buffer;
}

/**
 * Files handed to the file workers at once, across all folders: small ones (sent in batches) and
 * large ones (one per worker at a time) have limits of their own. With one shared limit, the large
 * files of one folder held every slot while the workers crunched them, the walk of folders of small
 * files stalled, and later the main thread worked through those alone while the workers idled.
 * 128 small files (with batches of 32, fileSaver's BATCH_FILES) rather than 64 (batches of 16): half
 * the messages to and from the workers; first backup of the 1 GiB set's 10,100 small files, 5
 * alternating rounds, 1.03 -> 0.97 s (user CPU 1.31 -> 1.22 s); 256 and 64 gained nothing more.
 */
const SMALL_FILES_IN_FLIGHT = 128;
const SMALL_FILE = 64 * 1024;
const CACHEDIR_TAG = Buffer.from('CACHEDIR.TAG');
/**
 * Folders walked alongside the one being listed. Without this, the workers idle at the end of every
 * folder while its last file is read and the next folder is listed; with it, folders overlap. Beyond
 * the limit a folder is walked inline, so the walk never waits on itself.
 */
const FOLDERS_IN_FLIGHT = 8;
/**
 * What a backup writes into a tree, for the records of folders (FolderRecord): raise it when that
 * changes (a new field), so that folders recorded before are read again and their trees get it.
 */
const TREE_FORMAT = 1;

/** A source path and the intermediate folders above it, so several sources nest under their real paths as restic does. */
interface SourceNode {
  readonly children: Map<string, SourceNode>;
  isSource: boolean;
}

/**
 * Backs up `paths` into a new snapshot: walks them, reuses the chunk lists
 * of files that have not changed (files cache, then the parent snapshot),
 * chunks and saves the rest, writes one tree per folder bottom-up, and
 * writes the snapshot record last of all.
 */
export async function backup(repository: Repository, options: BackupOptions): Promise<BackupResult> {
  const run = new BackupRun(repository, options, false);
  return run.execute((walked) => run.commit(walked));
}

/**
 * What `backup` would do with these options, without writing anything to the repository or the files
 * cache (restic's `backup --dry-run`): files are read, chunked and hashed, and each chunk looked up in
 * the index, so new and changed files and the bytes to add are counted as a backup would count them.
 * Takes no lock (it writes nothing). Files the files cache or the parent snapshot show unchanged are not
 * read, as in a backup.
 */
export async function dryRunBackup(repository: Repository, options: BackupOptions): Promise<DryRunResult> {
  const run = new BackupRun(repository, options, true);
  return run.execute((walked) => run.countsFor(walked));
}

class BackupRun {
  private readonly sources: string[];
  private readonly type: BackupType;
  private readonly rules: ExcludeRules;
  private readonly meter: ProgressMeter;
  private readonly warnings: Warning[] = [];
  private readonly summary: { -readonly [K in keyof BackupSummary]: BackupSummary[K] } = {
    filesNew: 0,
    filesChanged: 0,
    filesUnchanged: 0,
    filesRead: 0,
    dirs: 0,
    otherEntries: 0,
    bytesRead: 0,
    totalFiles: 0,
    totalBytes: 0,
    bytesAdded: 0,
    dataBlobsAdded: 0,
    treeBlobsAdded: 0,
    warnings: 0,
    durationMs: 0,
  };
  private readonly gear: Uint32Array;
  /**
   * Hard-linked files read (or being read) in this run: device:inode → chunk ids and, if the read was
   * stable, the state they belong to; undefined if the read failed. Files are read concurrently, so the
   * other names wait for the first.
   */
  private readonly hardLinks = new Map<string, Promise<{ ids: readonly Buffer[]; state: CachedFile | undefined; flags: FileFlags | undefined } | undefined>>();
  private saver!: BlobSaver;
  private files!: SourceReader;
  private xattrStore!: XattrStore;
  private lister!: SourceLister;
  private readonly source: Source;
  /** The parent snapshot recorded file flags (see Snapshot's `flags`): an entry whose change time has not moved has the flags it recorded. */
  private parentHasFlags = false;
  /** The parent snapshot was made with the settings that shape a file's node as this backup's do (see unchangedFile). */
  private parentNodesReusable = false;
  private readonly keepFlags: boolean;
  /** Taken once the parent is known; `execute` releases it after the threads have stopped. */
  private lock: RepositoryLock | undefined;
  private readonly smallFileSlots = new ByteBudget(SMALL_FILES_IN_FLIGHT);
  /** One large file per worker, plus one waiting for each. */
  private readonly largeFileSlots: ByteBudget;
  private foldersInFlight = 0;
  private cache: FilesCache | undefined;
  /** Folders being saved, whose files read so far the files cache keeps if the backup is interrupted. */
  private readonly openFolders = new Set<CachedFolder>();
  private parents: ParentTrees | undefined;
  /** The parent snapshot's trees, read a pack window at a time for the whole run. */
  private readonly trees: TreeLoader;
  private changed: ChangedPaths | undefined;
  /** Per source: the settings that shape its trees besides the entries' lstat (see settingsOf). */
  private readonly settingsBySource = new Map<string, { readonly text: string; readonly digest: Buffer }>();
  private foldersUnchanged = 0;
  private filesReused = 0;

  constructor(
    private readonly repository: Repository,
    private readonly options: BackupOptions,
    private readonly dryRun: boolean,
  ) {
    if (options.paths.length === 0) throw new HindsightError('E_USAGE', 'Nothing to back up: give at least one file or folder.');
    this.source = options.source ?? localSource;
    // A remote source's paths are already absolute on that machine: resolving them here would make them this one's.
    this.sources = [...new Set(options.paths.map((p) => (this.source.local ? resolvePath(p) : posix.normalize(p))))].sort();
    this.keepFlags = this.source.local && flagsSupported();
    this.type = options.type ?? 'incremental';
    this.rules = new ExcludeRules(options.excludes ?? { patterns: [] });
    this.meter = new ProgressMeter('backup', options.onProgress);
    this.gear = gearTable(repository.chunkerSeed);
    this.trees = new TreeLoader(repository);
    this.largeFileSlots = new ByteBudget(2 * (options.workers ?? availableParallelism()));
  }

  /** Walks and saves the sources, then hands the result to `finish` (a snapshot, or a dry run's report). */
  async execute<T>(finish: (walked: Walked) => Promise<T>): Promise<T> {
    const started = Date.now();
    for (const source of this.sources) {
      await this.source.lstat(source).catch((err: NodeJS.ErrnoException) => {
        if (err instanceof SourceUnavailable) throw err;
        throw new HindsightError('E_SOURCE_MISSING', `Cannot back up ${source}: ${err.code === 'ENOENT' ? 'it does not exist' : err.message}.`);
      });
    }
    // The file threads start loading now, while the repository is locked and the parent looked up.
    this.lister = this.source.lister();
    this.saver = new BlobSaver(this.repository, { dryRun: this.dryRun });
    this.files = this.source.reader(this.saver, {
      workers: this.options.workers ?? availableParallelism(),
      blobIdKey: this.repository.blobIdKey,
      gear: this.gear,
      chunker: this.repository.config.chunker,
      level: this.repository.config.compression.level,
      ...(this.options.signal ? { signal: this.options.signal } : {}),
    });
    try {
      return await finish(await this.run(started));
    } catch (err) {
      // A source lost for good (a server gone mid-backup) ends the backup as a pause does, with its own message.
      const lost = err instanceof SourceUnavailable;
      if (!this.options.signal?.aborted && !lost) throw err;
      if (this.dryRun) throw lost ? err : new DryRunInterrupted();
      // Keep what is done: finished packs get an index, and the files cache learns the files read in full.
      await this.saver.flush();
      for (const folder of this.openFolders) this.cache?.save(folder);
      this.cache?.commit();
      throw lost ? err : new BackupInterrupted();
    } finally {
      this.cache?.close();
      // Nothing may reach the repository once the lock is gone: the file saver stops first.
      this.lister.close();
      await this.files.close();
      this.saver.releaseReserved();
      await this.lock?.release().catch(() => undefined);
    }
  }

  private async run(started: number): Promise<Walked> {
    const host = this.options.host ?? this.source.host ?? hostname();
    // A dry run writes nothing, not even a lock file, as restic's; a prune meanwhile only makes its counts stale.
    // The lock comes before the parent is chosen: the parent's trees and chunks are taken as they are (records,
    // unchanged files), which holds only while no prune can remove that snapshot's blobs.
    if (!this.dryRun) this.lock = await this.repository.lock(false);
    await this.repository.reloadIndex();
    const parent = this.type === 'full' ? undefined : await this.findParent(host);
    const type: BackupType = this.type === 'differential' && !parent ? 'full' : this.type;
    this.xattrStore = new XattrStore(this.repository, this.saver, this.options.xattrs !== false && this.source.local, parent?.xattrs === true);
    this.parentHasFlags = parent?.flags === true;
    this.parentNodesReusable = this.source.local && (parent?.xattrs === true) === (this.options.xattrs !== false) && this.parentHasFlags === this.keepFlags;
    // Without a parent every file is read: start all the file workers now, not with the first file.
    if (!parent) this.files.startWorkers();
    if (type === 'incremental') {
      const cacheDir = this.options.cacheDir ?? repositoryCacheDir(this.repository.config.id);
      this.cache = new FilesCache(this.source.cacheScope ? join(cacheDir, this.source.cacheScope) : cacheDir, { readOnly: this.dryRun });
    }
    if (parent) this.parents = new ParentTrees(this.repository, this.trees);
    if (parent && this.options.changedPaths) this.changed = new ChangedPaths(this.options.changedPaths);
    // Counting everything would undo the point of reading only what changed; the parent's totals are close.
    const estimate = this.changed !== undefined || this.options.countTotals === false || !this.source.countsTotals;
    const scan = estimate
      ? Promise.resolve().then(() => {
          this.meter.counts.filesTotal = parent?.summary?.totalFiles;
          this.meter.counts.bytesTotal = parent?.summary?.totalBytes;
        })
      : this.lister
          .count(this.sources, this.options.excludes ?? { patterns: [] }, this.options.oneFileSystem ?? false)
          .then((totals) => {
            this.meter.counts.filesTotal = totals.files;
            this.meter.counts.bytesTotal = totals.bytes;
          })
          // The totals only feed the progress line; a count that fails, or is cut short when a failed
          // backup stops the thread, must not surface as an unhandled rejection.
          .catch(() => undefined);
    this.meter.counts.phase = 'backing up';
    const trie = this.buildSourceTrie();
    const tree = await this.saveIntermediate('/', trie, parent ? Buffer.from(parent.tree, 'hex') : undefined);
    this.meter.counts.phase = 'finishing';
    this.meter.tick(true);
    await this.xattrStore.settled();
    await this.saver.flush();
    await scan;
    this.lock?.assertHeld();
    Object.assign(this.summary, {
      totalFiles: this.summary.filesNew + this.summary.filesChanged + this.summary.filesUnchanged,
      bytesAdded: this.saver.stats.bytesAdded,
      dataBlobsAdded: this.saver.stats.dataBlobsAdded,
      treeBlobsAdded: this.saver.stats.treeBlobsAdded,
      warnings: this.warnings.length,
      durationMs: Date.now() - started,
    });
    return { parent, type, host, started, tree };
  }

  /** Writes the snapshot record, last of all, and lets the files cache keep what this run read. */
  async commit({ parent, type, host, started, tree }: Walked): Promise<BackupResult> {
    const snapshot = await saveSnapshot(this.repository, {
      hindsight: 'snapshot',
      version: 1,
      time: new Date(started).toISOString(),
      host,
      username: currentUser(),
      paths: this.sources,
      tags: [...(this.options.tags ?? [])],
      // Without a parent, a backup that took nothing from the files cache read every file: a full one, and
      // the snapshot says so (the first one of a set of paths showed as "incremental").
      type: parent || this.summary.filesUnchanged > 0 ? type : 'full',
      ...(parent ? { parent: parent.id } : {}),
      tree: tree.toString('hex'),
      summary: { ...this.summary },
      ...(this.options.xattrs !== false && this.source.local ? { xattrs: true as const } : {}),
      ...(this.keepFlags ? { flags: true as const } : {}),
    });
    // Entries may be written earlier in batches: an entry is only trusted when all its chunks are in the index.
    this.cache?.commit();
    this.finished();
    return { snapshot, warnings: this.warnings, foldersUnchanged: this.foldersUnchanged, filesReused: this.filesReused };
  }

  /** A dry run's counts, in place of a snapshot. */
  async countsFor({ parent }: Walked): Promise<DryRunResult> {
    this.finished();
    return { parent: parent?.id, summary: { ...this.summary }, rawBytesAdded: this.saver.stats.rawBytesAdded, warnings: this.warnings };
  }

  private finished(): void {
    this.meter.counts.phase = 'done';
    this.meter.tick(true);
  }

  /** incremental: the latest snapshot of the same paths on this host; differential: the latest full one. */
  private async findParent(host: string): Promise<Snapshot | undefined> {
    const key = JSON.stringify(this.sources);
    const candidates = (await listSnapshots(this.repository)).filter(
      (s) => s.host === host && JSON.stringify([...s.paths].sort()) === key && (this.type !== 'differential' || s.type === 'full'),
    );
    return candidates[candidates.length - 1];
  }

  private buildSourceTrie(): SourceNode {
    const root: SourceNode = { children: new Map(), isSource: false };
    for (const source of this.sources) {
      let node = root;
      for (const segment of source.split(sep).filter((s) => s !== '')) {
        let child = node.children.get(segment);
        if (!child) {
          child = { children: new Map(), isSource: false };
          node.children.set(segment, child);
        }
        node = child;
      }
      node.isSource = true;
    }
    return root;
  }

  /**
   * The tree of the folder at `path`, above the sources or a source itself: of the folders above the
   * sources, only the way down to them is followed, and their metadata recorded.
   */
  private async saveIntermediate(path: string, trie: SourceNode, parentTree: Buffer | undefined): Promise<Buffer> {
    if (trie.isSource) return this.folderTree(Buffer.from(path), '', path, await this.source.lstat(path), parentTree);
    const parent = await this.parents?.dir(parentTree);
    const nodes: TreeNode[] = [];
    for (const [segment, child] of [...trie.children].sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)))) {
      const childPath = path === '/' ? `/${segment}` : `${path}/${segment}`;
      const name = Buffer.from(segment);
      const stat = await this.source.lstat(childPath);
      const parentNode = parent?.get(name);
      if (child.isSource) {
        // A source that is a file is remembered in its folder's row with whatever else that row holds.
        const folder = stat.isFile() ? this.cache?.folder(Buffer.from(path)) : undefined;
        const node = await this.saveEntry(Buffer.from(childPath), name, '', childPath, stat, parentNode, stat.dev, folder);
        if (folder) this.cache?.save(folder);
        if (node) nodes.push(node);
        continue;
      }
      const subtree = await this.saveIntermediate(childPath, child, parentNode?.type === 'dir' ? parentNode.subtree : undefined);
      nodes.push({ ...this.metadataOf(Buffer.from(childPath), name, 'dir', stat, parentNode), subtree });
      this.summary.dirs += 1;
    }
    return this.saver.saveTree(encodeTree(nodes));
  }

  /** Saves one entry of a source; undefined when it is excluded or vanished. */
  private async saveEntry(
    path: Buffer,
    name: Buffer,
    relative: string,
    sourceRoot: string,
    stat: EntryStat,
    parentNode: TreeNode | undefined,
    sourceDevice: bigint,
    folder: CachedFolder | undefined,
  ): Promise<TreeNode | undefined> {
    if (stat.isDirectory()) {
      const reused = await this.unchangedFolder(path, name, stat, parentNode);
      if (reused) return reused;
      this.summary.dirs += 1;
      const crossesDevice = (this.options.oneFileSystem ?? false) && stat.dev !== sourceDevice;
      const parentTree = parentNode?.type === 'dir' ? parentNode.subtree : undefined;
      const subtree = crossesDevice ? await this.saver.saveTree(encodeTree([])) : await this.folderTree(path, relative, sourceRoot, stat, parentTree);
      return { ...this.metadataOf(path, name, 'dir', stat, parentNode), subtree };
    }
    if (stat.isFile()) return this.saveFile(path, name, stat, parentNode, folder);
    this.summary.otherEntries += 1;
    if (stat.isSymbolicLink()) {
      try {
        return { ...this.metadataOf(path, name, 'symlink', stat, parentNode), linkTarget: await this.source.readlink(path) };
      } catch (err) {
        this.warn(path, err);
        return undefined;
      }
    }
    // A socket belongs to the program listening on it, which makes a new one when it starts (restic and borg skip them too).
    if (stat.isSocket()) {
      this.warnings.push(this.report(path, 'not saved: sockets are made by the program that listens on them'));
      return undefined;
    }
    const type: NodeType = stat.isFIFO() ? 'fifo' : stat.isCharacterDevice() ? 'chardev' : 'blockdev';
    return { ...this.metadataOf(path, name, type, stat, parentNode), ...(type === 'chardev' || type === 'blockdev' ? { rdev: stat.rdev } : {}) };
  }

  /**
   * The tree of the folder at `path`, saved; `parentTree`: its tree in the parent snapshot.
   *
   * A folder listed exactly as the files cache recorded it when that tree was made (the same names with
   * the same lstat fields, under the same settings) has that tree again if its subfolders do: only they
   * are walked, and neither its files one by one nor its tree in the parent snapshot are looked at. The
   * record counts only when its tree is the parent snapshot's, whose trees and chunks the repository
   * keeps as long as the snapshot is there. Before, a backup of a 78,579-file tree with nothing changed
   * spent its main thread's time on every file (its node, the files cache, the parent's trees decoded
   * and the new ones compared), 3.2 of its 5.8 CPU-seconds.
   */
  private async folderTree(path: Buffer, relative: string, sourceRoot: string, stat: EntryStat, parentTree: Buffer | undefined): Promise<Buffer> {
    // A turn of the event loop per folder, so that the files queued so far leave for the workers and the
    // chunks they sent are packed. Otherwise, while folder listings keep arriving and parent trees come
    // from memory, the walk goes on for tens of milliseconds without one, and the workers wait.
    await nextTurn();
    const onlyTag = this.rules.excludeCaches && (await this.source.isCacheDirectory(path.toString()));
    const recorded = parentTree && this.cache?.record(path);
    const record = recorded && recorded.tree.equals(parentTree) ? recorded : undefined;
    // Without a record to go by, the parent's tree is read while the folder is listed.
    const parentDir = record ? undefined : this.parents?.dir(parentTree);
    parentDir?.catch(() => undefined);
    // A folder the parent snapshot has: its entries' attributes come from there unless their change time moved (XattrStore.forEntry).
    const listing = await this.lister.list(path, onlyTag ? CACHEDIR_TAG : undefined, this.extrasWithListing(parentTree !== undefined));
    if ('failed' in listing) {
      this.warn(path, listing.failed);
      return this.saver.saveTree(encodeTree([]));
    }
    const key = this.cache && listing.digest(this.settingsOf(sourceRoot).text);
    let walked: Map<number, Buffer> | undefined;
    if (record && key?.equals(record.key)) {
      walked = await this.recordedSubfolders(relative, sourceRoot, listing, record);
      if (record.children.every((child) => walked?.get(child.index)?.equals(child.tree))) {
        this.summary.filesUnchanged += record.files;
        this.summary.totalBytes += record.bytes;
        this.summary.otherEntries += record.others;
        this.advance(record.files, record.bytes);
        this.foldersUnchanged += 1;
        return record.tree;
      }
    }
    // A folder that changed since the parent snapshot: from here on the main thread has work of its own
    // between listings (files to compare, trees to save), and listings move to a thread (see FolderLister).
    // Not before: where nothing changed the walk only compares digests, and the thread's start (~0.15 CPU-s
    // loading its modules) bought nothing. No-change backups, 5 alternating rounds with the thread from the
    // start / without: 1 GiB set 0.52-0.59 s (CPU 0.68-0.77) / 0.50-0.52 (0.53-0.59), linux tree 1.37-1.47
    // (CPU 1.86-2.03) / 1.37-1.79 (1.54-1.76). Without a parent the walk waits on the file threads and lists
    // in between, and no thread is started.
    if (parentTree) this.lister.useThread();
    const parent = await (parentDir ?? this.parents?.dir(parentTree));
    const warnings = this.warnings.length;
    // The parent snapshot's tree of this folder was made under these settings: what it holds passed these excludes.
    const settled = record?.settings?.equals(this.settingsOf(sourceRoot).digest) === true;
    const reused = settled && parent?.located && record?.stamps ? this.reusedEntries(listing, parent.located, record.stamps) : undefined;
    const nodes = await this.saveDirectoryEntries(path, relative, sourceRoot, stat, parent, listing, walked, settled, reused);
    let tree: Buffer;
    if (reused && parentTree) {
      const entries: (TreeNode | Uint8Array)[] = [];
      for (let index = 0; index < nodes.length; index += 1) {
        const j = reused.from[index] as number;
        const entry = j >= 0 ? reused.located.bytes.subarray(reused.located.starts[j], reused.located.ends[j]) : nodes[index];
        if (entry) entries.push(entry);
      }
      // Every entry taken as it was: the parent's tree. (Entries in the listing's order, which is the tree's: both order names bytewise.)
      tree = reused.count === entries.length && reused.count === reused.located.count ? parentTree : await this.saver.saveTree(encodeTreeInOrder(entries));
    } else {
      const entries = nodes.filter((node): node is TreeNode => node !== undefined);
      // A folder unchanged since the parent snapshot has the same tree: its id is known, and the tree is in the repository (loaded from it).
      tree = parent !== undefined && parentTree !== undefined && parent.sameEntries(entries) ? parentTree : await this.saver.saveTree(encodeTree(entries));
    }
    // A folder with a warning (a file that could not be read) is looked at again each time, and warns again.
    if (key && this.warnings.length === warnings) this.cache?.saveRecord(path, this.recordOf(key, tree, stat, listing, nodes, reused, sourceRoot));
    return tree;
  }

  /**
   * The files of a folder that changed (or whose subfolders did) that are exactly as when the parent
   * snapshot's tree of it was made: the same lstat stamp as its record kept for them (FolderRecord.stamps).
   * Their entries go into the new tree as the bytes they were, without being read, compared or
   * encoded; what unchangedFile would take as unchanged, and more strictly (every lstat field but the
   * access time). Called only where the record's tree is the parent's, made under these settings (so
   * those entries passed the excludes), and unchangedFile's condition holds (parentNodesReusable).
   */
  private reusedEntries(listing: ListedFolder, located: LocatedEntries, recorded: Buffer): ReusedEntries | undefined {
    if (!this.parentNodesReusable || recorded.length !== located.count * STAMP) return undefined;
    const listed = listing.stamps();
    if (!listed) return undefined;
    const { stamps } = listed;
    const { bytes, starts, nameEnds } = located;
    const from = new Int32Array(listing.count).fill(-1);
    const sizes = new Float64Array(listing.count);
    let count = 0;
    let size = 0;
    // Both in name order: one walk down the two.
    let j = 0;
    for (let index = 0; index < listing.count && j < located.count; index += 1) {
      const low = stamps[2 * index] as number;
      const high = stamps[2 * index + 1] as number;
      if (low === 0 && high === 0) continue;
      let order = 1;
      while (j < located.count && (order = listing.compareName(index, bytes, (starts[j] as number) + ENTRY_NAME_OFFSET, nameEnds[j] as number)) > 0) j += 1;
      if (order !== 0 || recorded.readUInt32LE(STAMP * j) !== low || recorded.readUInt32LE(STAMP * j + 4) !== high || !locatedIsFile(located, j)) continue;
      from[index] = j;
      sizes[index] = listed.size(index);
      count += 1;
      size += sizes[index] as number;
    }
    if (count === 0) return undefined;
    this.filesReused += count;
    this.summary.filesUnchanged += count;
    this.summary.totalBytes += size;
    this.advance(count, size);
    return { located, from, sizes, count };
  }

  /**
   * The trees of a recorded folder's subfolders now (by their place in the listing), walked as usual but
   * each from its recorded tree; a subfolder left empty (on another file system) keeps its tree.
   */
  private async recordedSubfolders(relative: string, sourceRoot: string, listing: ListedFolder, record: FolderRecord): Promise<Map<number, Buffer>> {
    const trees = new Map<number, Buffer>();
    const walk = record.children.filter((child) => child.walked).map((child) => ({ child, entry: listing.entry(child.index) }));
    if (!this.changed) this.lister.prefetch(walk.map(({ entry }) => ({ folder: entry.path, extras: this.extrasWithListing(true) })));
    for (const child of record.children) if (!child.walked) trees.set(child.index, child.tree);
    this.summary.dirs += record.children.length;
    const pending = new Set<Promise<void>>();
    try {
      for (const { child, entry } of walk) {
        this.options.signal?.throwIfAborted();
        // The listing is the one recorded (its digest), so this holds; a record that lied is not trusted.
        if (!entry.stat?.isDirectory()) continue;
        const childRelative = relative === '' ? entry.name.toString() : `${relative}/${entry.name.toString()}`;
        const save = this.watchedUnchanged(entry.path, child.tree).then(
          async (unchanged) => void trees.set(child.index, unchanged ? child.tree : await this.folderTree(entry.path, childRelative, sourceRoot, entry.stat as EntryStat, child.tree)),
        );
        if (this.foldersInFlight >= FOLDERS_IN_FLIGHT) {
          await save;
          continue;
        }
        this.foldersInFlight += 1;
        runAlongside(pending, save, () => (this.foldersInFlight -= 1));
      }
    } catch (err) {
      await Promise.allSettled(pending);
      throw err;
    }
    await Promise.all(pending);
    return trees;
  }

  /** What the next backup needs to take this folder whole (see folderTree): `nodes` by their place in `listing`. */
  private recordOf(key: Buffer, tree: Buffer, stat: EntryStat, listing: ListedFolder, nodes: readonly (TreeNode | undefined)[], reused: ReusedEntries | undefined, sourceRoot: string): FolderRecord {
    let files = 0;
    let bytes = 0;
    let others = 0;
    const children: { index: number; walked: boolean; tree: Buffer }[] = [];
    // Each entry's stamp in the tree's order (the listing's), kept for files: what their entries were made from.
    const stamps = listing.stamps()?.stamps;
    const stamped: number[] = [];
    for (let index = 0; index < nodes.length; index += 1) {
      const node = nodes[index];
      const taken = reused !== undefined && (reused.from[index] as number) >= 0;
      if (!node && !taken) continue;
      const file = taken || node?.type === 'file';
      stamped.push(file && stamps ? (stamps[2 * index] as number) : 0, file && stamps ? (stamps[2 * index + 1] as number) : 0);
      if (taken) {
        files += 1;
        bytes += reused.sizes[index] as number;
      } else if (!node) continue;
      else if (node.type === 'file') {
        files += 1;
        bytes += node.size;
      } else if (node.type !== 'dir') others += 1;
      else if (node.subtree) {
        const crosses = (this.options.oneFileSystem ?? false) && listing.entry(index).stat?.dev !== stat.dev;
        children.push({ index, walked: !crosses, tree: node.subtree });
      }
    }
    return { key, tree, files, bytes, others, children, settings: this.settingsOf(sourceRoot).digest, ...(stamps ? { stamps: stampBytes(stamped) } : {}) };
  }

  /**
   * What shapes a source's trees besides its entries' lstat, as text for a listing's digest (a record made
   * under other settings is not used) and hashed for a record to keep (FolderRecord.settings).
   */
  private settingsOf(sourceRoot: string): { readonly text: string; readonly digest: Buffer } {
    let settings = this.settingsBySource.get(sourceRoot);
    if (settings === undefined) {
      const text = JSON.stringify({
        format: TREE_FORMAT,
        sourceRoot,
        excludes: this.options.excludes ?? { patterns: [] },
        oneFileSystem: this.options.oneFileSystem ?? false,
        xattrs: this.options.xattrs !== false,
        flags: this.keepFlags,
      });
      settings = { text, digest: createHash('sha256').update(text).digest() };
      this.settingsBySource.set(sourceRoot, settings);
    }
    return settings;
  }

  /**
   * A folder's entries as tree nodes, by their place in `listing` (undefined: left out). `walked`: the
   * trees of subfolders walked already (recordedSubfolders), used as they are. `settled`: the entries of
   * `parent` passed this backup's excludes when it was made (see saveListed).
   */
  private async saveDirectoryEntries(
    path: Buffer,
    relative: string,
    sourceRoot: string,
    stat: EntryStat,
    parent: ParentDir | undefined,
    listing: ListedFolder,
    walked: ReadonlyMap<number, Buffer> | undefined,
    settled: boolean,
    reused: ReusedEntries | undefined,
  ): Promise<(TreeNode | undefined)[]> {
    // Entries taken as they were (reusedEntries) are not looked at, nor made into objects.
    const listed: readonly (ListedEntry | undefined)[] = reused ? Array.from({ length: listing.count }, (_, i) => ((reused.from[i] as number) >= 0 ? undefined : listing.entry(i))) : listing.entries;
    // With changed paths, most folders are taken from the parent snapshot unlisted: nothing to list ahead.
    if (!this.changed) this.lister.prefetch(this.subfoldersToList(listed, relative, stat, parent, walked, settled));
    const folder = this.cache?.folder(path);
    if (folder) this.openFolders.add(folder);
    // Entries keep their order whatever order their saves finish in.
    const nodes: (TreeNode | undefined)[] = new Array(listed.length);
    const pending = new Set<Promise<void>>();
    try {
      await this.saveListed(listed, relative, sourceRoot, stat, parent, folder, nodes, pending, walked, settled);
    } catch (err) {
      // Stopped part-way (an interruption): what was started finishes before the error goes up.
      await Promise.allSettled(pending);
      throw err;
    }
    await Promise.all(pending);
    if (folder) {
      this.openFolders.delete(folder);
      this.cache?.save(folder, folder.changed ? new Set(Array.from({ length: listing.count }, (_, i) => listing.name(i).toString('latin1'))) : undefined);
    }
    return nodes;
  }

  private async saveListed(
    listed: readonly (ListedEntry | undefined)[],
    relative: string,
    sourceRoot: string,
    stat: EntryStat,
    parent: ParentDir | undefined,
    folder: CachedFolder | undefined,
    nodes: (TreeNode | undefined)[],
    pending: Set<Promise<void>>,
    walked: ReadonlyMap<number, Buffer> | undefined,
    settled: boolean,
  ): Promise<void> {
    for (let index = 0; index < listed.length; index += 1) {
      const entry = listed[index];
      if (!entry) continue;
      const { name, path: childPath, stat: childStat, error, xattrError, flagsError } = entry;
      this.options.signal?.throwIfAborted();
      if (!childStat) {
        this.warn(childPath, error);
        continue;
      }
      if (xattrError) this.warnings.push(this.report(childPath, `extended attributes not saved: ${xattrError.message}`));
      if (flagsError) this.warnings.push(this.report(childPath, `file flags not saved: ${flagsError.message}`));
      const childRelative = relative === '' ? name.toString() : `${relative}/${name.toString()}`;
      const before = parent?.get(name);
      if (!passedBefore(settled, before, childStat.isDirectory()) && this.rules.matchPath(childRelative, childPath.toString(), childStat.isDirectory()).excluded) continue;
      if (childStat.isFile() && this.rules.matchSize(Number(childStat.size)).excluded) continue;
      const walkedTree = walked?.get(index);
      if (walkedTree && childStat.isDirectory()) {
        nodes[index] = { ...this.metadataOf(childPath, name, 'dir', childStat, before), subtree: walkedTree };
        continue;
      }
      const unchanged = this.unchangedFile(childStat, before);
      if (unchanged) {
        nodes[index] = unchanged;
        continue;
      }
      const isFile = childStat.isFile();
      const concurrent = isFile || (childStat.isDirectory() && this.foldersInFlight < FOLDERS_IN_FLIGHT);
      const slots = childStat.size < SMALL_FILE ? this.smallFileSlots : this.largeFileSlots;
      if (isFile) await slots.acquire(1);
      else if (concurrent) this.foldersInFlight += 1;
      const save = this.saveEntry(childPath, name, childRelative, sourceRoot, childStat, before, stat.dev, folder).then((node) => {
        nodes[index] = node;
      });
      if (!concurrent) {
        await save;
        continue;
      }
      runAlongside(pending, save, () => (isFile ? slots.release(1) : (this.foldersInFlight -= 1)));
    }
  }

  /**
   * The subfolders among `listed` that the walk will list (not excluded, and on the same file system if
   * it must stay on one), with attributes read alongside where the parent snapshot lacks the folder.
   */
  private subfoldersToList(
    listed: readonly (ListedEntry | undefined)[],
    relative: string,
    stat: EntryStat,
    parent: ParentDir | undefined,
    walked: ReadonlyMap<number, Buffer> | undefined,
    settled: boolean,
  ): FolderToList[] {
    const oneFileSystem = this.options.oneFileSystem ?? false;
    return listed
      .filter((entry, index): entry is ListedEntry => {
        if (!entry) return false;
        const { name, path, stat: childStat } = entry;
        if (!childStat?.isDirectory() || (oneFileSystem && childStat.dev !== stat.dev) || walked?.has(index)) return false;
        if (passedBefore(settled, parent?.get(name), true)) return true;
        return !this.rules.matchPath(relative === '' ? name.toString() : `${relative}/${name.toString()}`, path.toString(), true).excluded;
      })
      .map((entry) => ({ folder: entry.path, extras: this.extrasWithListing(parent?.get(entry.name)?.type === 'dir') }));
  }

  /** What a folder's listing reads besides the lstat: what the parent snapshot cannot supply, as it does not have the folder or did not record it. */
  private extrasWithListing(inParent: boolean): ListExtras {
    return { xattrs: this.xattrStore.readWithListing(inParent), flags: this.keepFlags && !(inParent && this.parentHasFlags) };
  }

  /** A folder the file watcher saw no change in, taken whole from the parent snapshot (its own metadata is current). */
  private async unchangedFolder(path: Buffer, name: Buffer, stat: EntryStat, parentNode: TreeNode | undefined): Promise<TreeNode | undefined> {
    if (parentNode?.type !== 'dir' || !parentNode.subtree || !(await this.watchedUnchanged(path, parentNode.subtree))) return undefined;
    this.summary.dirs += 1;
    return { ...this.metadataOf(path, name, 'dir', stat, parentNode), subtree: parentNode.subtree };
  }

  /** Whether the file watcher saw no change below `path`, whose tree in the parent snapshot is `subtree`; its entries are then counted as unchanged. */
  private async watchedUnchanged(path: Buffer, subtree: Buffer): Promise<boolean> {
    if (!this.changed || this.changed.mustRescan(path) || !this.repository.hasBlob(subtree)) return false;
    for await (const { node } of walkTree(this.trees, subtree, path)) {
      if (node.type === 'dir') this.summary.dirs += 1;
      else if (node.type === 'file') {
        this.summary.filesUnchanged += 1;
        this.summary.totalBytes += node.size;
        this.advance(1, node.size);
      } else this.summary.otherEntries += 1;
    }
    return true;
  }

  private async saveFile(path: Buffer, name: Buffer, stat: EntryStat, parentNode: TreeNode | undefined, folder: CachedFolder | undefined): Promise<TreeNode | undefined> {
    // A file's flags come with its content when it is read (one call on the open file). Known before
    // that only from the parent snapshot, or read now where they decide whether it is read at all: a
    // change time that moved under the same size, modification time and inode.
    let known = this.recordedFlags('file', stat, parentNode);
    if (!known && parentNode?.type === 'file' && BigInt(parentNode.size) === stat.size && parentNode.mtimeNs === stat.mtimeNs && parentNode.inode === stat.ino) {
      known = { flags: this.readFlagsOf(path, stat) };
    }
    const meta = { ...this.metadataOf(path, name, 'file', stat, parentNode, known?.flags), size: Number(stat.size), inode: stat.ino, ...hardLinkOf(stat) };
    this.summary.totalBytes += Number(stat.size);
    this.meter.counts.currentPath = path.toString();
    const linkKey = stat.nlink > 1n ? `${stat.dev}:${stat.ino}` : undefined;
    // The parent snapshot first: for an unchanged file it says what the files cache would, without a lookup.
    // A change of metadata alone (an ACL, an attribute) moves the change time but leaves the content as recorded.
    const fromParent = this.unchangedContent(stat, parentFileState(parentNode, onlyMetadataChanged(meta, parentNode) ? stat.ctimeNs : undefined));
    const cached = fromParent ? undefined : folder?.get(name);
    const reusable = fromParent ?? this.unchangedContent(stat, cached);
    if (reusable) {
      this.summary.filesUnchanged += 1;
      this.advance(1, Number(stat.size));
      return { ...withFlags(meta, known ? known.flags : this.readFlagsOf(path, stat)), content: reusable };
    }
    // Another name of a hard-linked file read earlier in this run: same content, no need to read it twice.
    const sameInode = linkKey ? await this.hardLinks.get(linkKey) : undefined;
    if (sameInode) {
      if (cached || parentNode) this.summary.filesChanged += 1;
      else this.summary.filesNew += 1;
      this.advance(1, Number(stat.size));
      // Remembered under this name too (if it was listed as the read found it), so the next backup need not read it.
      if (sameFileState(stat, sameInode.state)) folder?.set(name, sameInode.state as CachedFile);
      // Flags belong to the inode: the same for every name.
      return { ...withFlags(meta, sameInode.flags), content: sameInode.ids };
    }
    // Lengths from the index, 0 where it lacks the chunk: one named by the files cache may be gone since
    // (its snapshot forgotten and pruned), and the worker sends no bytes for chunks it takes as stored.
    const ids = cached?.content ?? (parentNode?.type === 'file' ? parentNode.content : undefined) ?? [];
    const previous = { ids, lengths: ids.map((id) => this.repository.index.get(id)?.rawLength ?? 0) };
    const reading = this.readContent(path, stat, previous);
    const state = (read: { ids: Buffer[]; stable: boolean }): CachedFile | undefined =>
      read.stable ? { size: Number(stat.size), mtimeNs: stat.mtimeNs, ctimeNs: stat.ctimeNs, inode: stat.ino, content: read.ids } : undefined;
    if (linkKey) {
      const shared = reading.then((read) => read && { ids: read.ids, state: state(read), flags: read.flags });
      // A failed read fails this save below; when no other name of the file waits on it, it must not end the process as unhandled.
      shared.catch(() => undefined);
      this.hardLinks.set(linkKey, shared);
    }
    const content = await reading;
    if (!content) return undefined;
    if (cached || parentNode) this.summary.filesChanged += 1;
    else this.summary.filesNew += 1;
    folder?.set(name, state(content));
    return { ...withFlags(meta, content.flags), size: content.bytes, content: content.ids };
  }

  /**
   * The parent snapshot's node of a file whose inode has not changed since: the same inode number, change
   * time, modification time, size, mode, owner, creation time and links. Every write, chmod, chown,
   * attribute or flag change moves the change time, so the node is what saveFile would make again; it is
   * taken as it is, without the work per file (a promise, the files cache, attributes, a new node). In a
   * folder that holds one changed file among thousands, that work was most of a small-change backup.
   */
  private unchangedFile(stat: EntryStat, node: TreeNode | undefined): TreeNode | undefined {
    if (!this.parentNodesReusable || node?.type !== 'file' || !node.content || !stat.isFile()) return undefined;
    if (!sameFileState(stat, parentFileState(node))) return undefined;
    if (node.mode !== Number(stat.mode & 0o7777n) || node.uid !== Number(stat.uid) || node.gid !== Number(stat.gid)) return undefined;
    if ((node.birthtimeNs ?? 0n) !== stat.birthtimeNs) return undefined;
    // Device and link count are recorded for files with several links only (hardLinkOf); a device number can change across reboots.
    if (stat.nlink > 1n ? node.device !== stat.dev || node.links !== Number(stat.nlink) : node.links !== undefined) return undefined;
    this.summary.filesUnchanged += 1;
    this.summary.totalBytes += node.size;
    this.advance(1, node.size);
    return node;
  }

  /** The recorded chunk list, if the file looks exactly as it did then and every chunk is still in the repository. */
  private unchangedContent(stat: EntryStat, before: CachedFile | undefined): readonly Buffer[] | undefined {
    if (!before || !sameFileState(stat, before) || !before.content.every((id) => this.repository.hasBlob(id))) return undefined;
    return before.content;
  }

  /** Reads a file into chunks (in a file worker); undefined (with a warning) when it cannot be read. */
  private async readContent(path: Buffer, before: EntryStat, previous: PreviousChunks): Promise<{ ids: Buffer[]; bytes: number; stable: boolean; flags: FileFlags | undefined } | undefined> {
    const read = await this.files.read(path, Number(before.size), previous, (rawLength) => {
      this.meter.counts.currentPath = path.toString();
      this.meter.counts.bytesDone += rawLength;
      this.meter.tick();
    });
    if ('failed' in read) {
      this.warn(path, read.failed);
      return undefined;
    }
    const stable = read.size === before.size && read.mtimeNs === before.mtimeNs && BigInt(read.bytes) === before.size;
    if (!stable) this.warnings.push(this.report(path, 'changed while it was being read; the snapshot has the content as read'));
    this.summary.filesRead += 1;
    this.summary.bytesRead += read.bytes;
    this.meter.counts.filesDone += 1;
    this.meter.counts.bytesDone += Math.max(0, Number(before.size) - read.bytes);
    this.meter.tick();
    return { ids: read.ids, bytes: read.bytes, stable, flags: read.flags };
  }

  /**
   * The entry's tree node without content; its attributes per XattrStore.forEntry (a failure to read them
   * is a warning); a folder's flags per `folderFlags`, a file's as the caller found them (see saveFile).
   * Symbolic links and special files have none that can be read without opening what they stand for.
   */
  private metadataOf(path: Buffer, name: Buffer, type: NodeType, stat: EntryStat, before: TreeNode | undefined, fileFlags?: FileFlags): TreeNode {
    let xattrs: TreeXattr[] | undefined;
    try {
      xattrs = this.xattrStore.forEntry(path, type, stat, before);
    } catch (err) {
      this.warnings.push(this.report(path, `extended attributes not saved: ${(err as Error).message}`));
    }
    const flags = type === 'dir' ? this.folderFlags(path, stat, before) : fileFlags;
    return withFlags({ ...metadataOf(name, type, stat), ...(xattrs ? { xattrs } : {}) }, flags);
  }

  /** A folder's flags: as the lister read them, else as the parent snapshot recorded them if its change time has not moved, else read now. */
  private folderFlags(path: Buffer, stat: EntryStat, before: TreeNode | undefined): FileFlags | undefined {
    if (stat.flagsRead) return stat.flags;
    return (this.recordedFlags('dir', stat, before) ?? { flags: this.readFlagsOf(path, stat) }).flags;
  }

  /** The flags the parent snapshot recorded for an entry whose change time has not moved (chattr and chflags move it); undefined when they must be read. */
  private recordedFlags(type: NodeType, stat: EntryStat, before: TreeNode | undefined): { flags: FileFlags | undefined } | undefined {
    if (!this.keepFlags) return { flags: undefined };
    return this.parentHasFlags && before?.type === type && before.ctimeNs === stat.ctimeNs ? { flags: before.flags } : undefined;
  }

  /** Reads an entry's flags by its path; a failure is a warning, and the entry is saved without them. */
  private readFlagsOf(path: Buffer, stat: EntryStat): FileFlags | undefined {
    if (!this.keepFlags) return undefined;
    try {
      return readFlags(path, stat.dev);
    } catch (err) {
      this.warnings.push(this.report(path, `file flags not saved: ${(err as Error).message}`));
      return undefined;
    }
  }

  private advance(files: number, bytes: number): void {
    this.meter.counts.filesDone += files;
    this.meter.counts.bytesDone += bytes;
    this.meter.tick();
  }

  private warn(path: Buffer, err: unknown): void {
    const code = (err as NodeJS.ErrnoException).code;
    const message =
      code === 'ENOENT'
        ? 'vanished before it could be read'
        : code === 'EACCES' || code === 'EPERM'
          ? 'could not be read: permission denied'
          : `could not be read: ${(err as Error).message}`;
    this.warnings.push(this.report(path, message));
  }

  private report(path: Buffer, message: string): Warning {
    const warning = { path: path.toString(), message };
    this.options.onWarning?.(warning);
    return warning;
  }
}

/**
 * Lets `save` run on while the walk goes on: it stays in `pending` (which the caller awaits) until it
 * settles, and `release` then frees the slot it took.
 */
function runAlongside(pending: Set<Promise<void>>, save: Promise<void>, release: () => void): void {
  const tracked = save.finally(() => {
    pending.delete(tracked);
    release();
  });
  // Awaited through `pending`; marked handled now so an error thrown before that cannot leave it unhandled.
  tracked.catch(() => undefined);
  pending.add(tracked);
}

function metadataOf(name: Buffer, type: NodeType, stat: EntryStat): TreeNode {
  return {
    name,
    type,
    mode: Number(stat.mode & 0o7777n),
    uid: Number(stat.uid),
    gid: Number(stat.gid),
    mtimeNs: stat.mtimeNs,
    ctimeNs: stat.ctimeNs,
    size: 0,
    // 0 where the file system records none (Node answers 0 when statx has no btime).
    ...(stat.birthtimeNs > 0n ? { birthtimeNs: stat.birthtimeNs } : {}),
  };
}

function withFlags(node: TreeNode, flags: FileFlags | undefined): TreeNode {
  return flags ? { ...node, flags } : node;
}

/** Device and link count only for files with several links: the device number can change across reboots, and storing it for every file would defeat tree dedup. */
function hardLinkOf(stat: EntryStat): Partial<TreeNode> {
  return stat.nlink > 1n ? { device: stat.dev, links: Number(stat.nlink) } : {};
}

/**
 * Whether an entry is known to pass the excludes without matching it: the parent snapshot's tree of its
 * folder, made under this backup's settings (`settled`), holds it under the same name as the same kind
 * (patterns match a path, and some only folders). A small-change backup of the linux tree matched the
 * 42,125 entries of its 998 changed folders, ~6% of its main thread (perf); without that, 5 alternating
 * rounds: 2.72-2.76 -> 2.42-2.60 s.
 */
function passedBefore(settled: boolean, before: TreeNode | undefined, isDirectory: boolean): boolean {
  return settled && before !== undefined && (before.type === 'dir') === isDirectory;
}

/** Whether a file looks exactly as it did then: size, mtime, ctime and inode. */
function sameFileState(stat: EntryStat, before: CachedFile | undefined): boolean {
  return before !== undefined && before.size === Number(stat.size) && before.mtimeNs === stat.mtimeNs && before.ctimeNs === stat.ctimeNs && before.inode === stat.ino;
}

/** `ctimeNs`: the change time to take as the recorded one (see onlyMetadataChanged). */
function parentFileState(node: TreeNode | undefined, ctimeNs?: bigint): CachedFile | undefined {
  if (node?.type !== 'file' || !node.content || node.inode === undefined) return undefined;
  return { size: node.size, mtimeNs: node.mtimeNs, ctimeNs: ctimeNs ?? node.ctimeNs, inode: node.inode, content: node.content };
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

/** The files of a folder whose entries are taken from the parent snapshot's tree as they were (see BackupRun.reusedEntries). */
interface ReusedEntries {
  readonly located: LocatedEntries;
  /** By the entry's place in the listing: the place in `located` of the entry taken for it, or -1. */
  readonly from: Int32Array;
  /** The sizes of the files taken, by their place in the listing. */
  readonly sizes: Float64Array;
  readonly count: number;
}

/** Stamps as a record keeps them (FolderRecord.stamps): two little-endian words each. */
function stampBytes(words: readonly number[]): Buffer {
  const out = Buffer.allocUnsafe(4 * words.length);
  for (let i = 0; i < words.length; i += 1) out.writeUInt32LE(words[i] as number, 4 * i);
  return out;
}
