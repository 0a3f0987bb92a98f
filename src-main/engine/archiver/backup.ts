import { constants as fsConstants, type BigIntStats } from 'node:fs';
import { lstat, open, readdir, readlink, type FileHandle } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { resolve as resolvePath, sep } from 'node:path';
import type { Progress, Warning } from '../../../src-shared/progress.js';
import { HindsightError } from '../../../src-shared/errors.js';
import { repositoryCacheDir } from '../cacheDir.js';
import { Chunker } from '../chunker/fastCdc.js';
import { gearTable } from '../chunker/gearTable.js';
import { ProgressMeter } from '../progressMeter.js';
import type { Repository } from '../repository/repository.js';
import { listSnapshots, saveSnapshot, type BackupSummary, type BackupType, type Snapshot } from '../snapshot/snapshot.js';
import { encodeTree, type NodeType, type TreeNode } from '../snapshot/tree.js';
import { walkTree } from '../snapshot/walkTree.js';
import { BlobSaver } from './blobSaver.js';
import { ChangedPaths } from './changedPaths.js';
import { ExcludeRules, type ExcludeOptions } from './excludes.js';
import { FilesCache, type CachedFile } from './filesCache.js';
import { ParentTrees, type ParentDir } from './parentTrees.js';
import { scanSources } from './scanner.js';

export interface BackupOptions {
  /** Files or folders to back up; made absolute. */
  readonly paths: readonly string[];
  readonly type?: BackupType;
  readonly tags?: readonly string[];
  readonly excludes?: ExcludeOptions;
  /** Do not descend into other file systems (mount points are kept as empty folders). */
  readonly oneFileSystem?: boolean;
  readonly host?: string;
  /** Folder for the files cache; default: the user's cache folder for this repository. */
  readonly cacheDir?: string;
  /** Compression worker threads; default: one per core. */
  readonly workers?: number;
  readonly onProgress?: (progress: Progress) => void;
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
}

const BLOCK_SIZE = 4 * 1024 * 1024;
/** Small files saved at once (each holds at most one chunk of at most minSize bytes). */
const SMALL_FILES_IN_FLIGHT = 16;
const SLASH = Buffer.from('/');

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
  const run = new BackupRun(repository, options);
  return run.execute();
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
  /** Hard-linked files already read in this run: device:inode → chunk ids. */
  private readonly hardLinks = new Map<string, readonly Buffer[]>();
  /** Files above the minimum chunk size are read one at a time, through one read buffer and one buffer for a chunk's start (a chunk never exceeds maxSize). */
  private readonly readBlock = Buffer.allocUnsafeSlow(BLOCK_SIZE);
  private readonly carry: Buffer;
  private saver!: BlobSaver;
  private cache: FilesCache | undefined;
  private parents: ParentTrees | undefined;
  private changed: ChangedPaths | undefined;

  constructor(
    private readonly repository: Repository,
    private readonly options: BackupOptions,
  ) {
    if (options.paths.length === 0) throw new HindsightError('E_USAGE', 'Nothing to back up: give at least one file or folder.');
    this.sources = [...new Set(options.paths.map((p) => resolvePath(p)))].sort();
    this.type = options.type ?? 'incremental';
    this.rules = new ExcludeRules(options.excludes ?? { patterns: [] });
    this.meter = new ProgressMeter('backup', options.onProgress);
    this.gear = gearTable(repository.chunkerSeed);
    this.carry = Buffer.allocUnsafeSlow(repository.config.chunker.maxSize);
  }

  async execute(): Promise<BackupResult> {
    const started = Date.now();
    for (const source of this.sources) {
      await lstat(source).catch((err: NodeJS.ErrnoException) => {
        throw new HindsightError('E_SOURCE_MISSING', `Cannot back up ${source}: ${err.code === 'ENOENT' ? 'it does not exist' : err.message}.`);
      });
    }
    const host = this.options.host ?? hostname();
    const parent = this.type === 'full' ? undefined : await this.findParent(host);
    const type: BackupType = this.type === 'differential' && !parent ? 'full' : this.type;
    const lock = await this.repository.lock(false);
    await this.repository.reloadIndex();
    this.saver = new BlobSaver(this.repository, { ...(this.options.workers !== undefined ? { workers: this.options.workers } : {}) });
    if (type === 'incremental') this.cache = new FilesCache(this.options.cacheDir ?? repositoryCacheDir(this.repository.config.id));
    if (parent) this.parents = new ParentTrees(this.repository, parent.tree);
    if (parent && this.options.changedPaths) this.changed = new ChangedPaths(this.options.changedPaths);
    // Counting everything would undo the point of reading only what changed; the parent's totals are close.
    const scan = this.changed
      ? Promise.resolve().then(() => {
          this.meter.counts.filesTotal = parent?.summary?.totalFiles;
          this.meter.counts.bytesTotal = parent?.summary?.totalBytes;
        })
      : scanSources(this.sources, this.rules, this.options.oneFileSystem ?? false).then((totals) => {
          this.meter.counts.filesTotal = totals.files;
          this.meter.counts.bytesTotal = totals.bytes;
        });
    try {
      this.meter.counts.phase = 'backing up';
      const trie = this.buildSourceTrie();
      const rootNodes = await this.saveIntermediate('/', trie, this.parents ? await this.parents.root() : undefined);
      const rootTree = await this.saver.saveTree(encodeTree(rootNodes));
      this.meter.counts.phase = 'finishing';
      this.meter.tick(true);
      await this.saver.flush();
      await scan.catch(() => undefined);
      lock.assertHeld();
      Object.assign(this.summary, {
        totalFiles: this.summary.filesNew + this.summary.filesChanged + this.summary.filesUnchanged,
        bytesAdded: this.saver.stats.bytesAdded,
        dataBlobsAdded: this.saver.stats.dataBlobsAdded,
        treeBlobsAdded: this.saver.stats.treeBlobsAdded,
        warnings: this.warnings.length,
        durationMs: Date.now() - started,
      });
      const snapshot = await saveSnapshot(this.repository, {
        hindsight: 'snapshot',
        version: 1,
        time: new Date(started).toISOString(),
        host,
        username: currentUser(),
        paths: this.sources,
        tags: [...(this.options.tags ?? [])],
        type,
        ...(parent ? { parent: parent.id } : {}),
        tree: rootTree.toString('hex'),
        summary: { ...this.summary },
      });
      // Entries may be written earlier in batches: an entry is only trusted when all its chunks are in the index.
      this.cache?.commit();
      this.meter.counts.phase = 'done';
      this.meter.tick(true);
      return { snapshot, warnings: this.warnings };
    } catch (err) {
      if (!this.options.signal?.aborted) throw err;
      // Keep what is done: finished packs get an index, and the files cache learns the files read in full.
      await this.saver.flush();
      this.cache?.commit();
      throw new BackupInterrupted();
    } finally {
      this.cache?.close();
      await this.saver.close();
      await lock.release().catch(() => undefined);
    }
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

  /** The folders above the sources: their metadata is recorded, only the way down to the sources is followed. */
  private async saveIntermediate(path: string, trie: SourceNode, parent: ParentDir | undefined): Promise<TreeNode[]> {
    if (trie.isSource) return this.saveDirectoryEntries(Buffer.from(path), '', path, await lstat(path, { bigint: true }), parent);
    const nodes: TreeNode[] = [];
    for (const [segment, child] of [...trie.children].sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)))) {
      const childPath = path === '/' ? `/${segment}` : `${path}/${segment}`;
      const name = Buffer.from(segment);
      const stat = await lstat(childPath, { bigint: true });
      const parentNode = parent?.get(name);
      if (child.isSource) {
        const node = await this.saveEntry(Buffer.from(childPath), name, '', childPath, stat, parentNode, stat.dev);
        if (node) nodes.push(node);
        continue;
      }
      const entries = await this.saveIntermediate(childPath, child, parentNode ? await this.parents?.children(parentNode) : undefined);
      nodes.push({ ...metadataOf(name, 'dir', stat), subtree: await this.saver.saveTree(encodeTree(entries)) });
      this.summary.dirs += 1;
    }
    return nodes;
  }

  /** Saves one entry of a source; undefined when it is excluded or vanished. */
  private async saveEntry(
    path: Buffer,
    name: Buffer,
    relative: string,
    sourceRoot: string,
    stat: BigIntStats,
    parentNode: TreeNode | undefined,
    sourceDevice: bigint,
  ): Promise<TreeNode | undefined> {
    if (stat.isDirectory()) {
      const reused = await this.unchangedFolder(path, name, stat, parentNode);
      if (reused) return reused;
      this.summary.dirs += 1;
      const crossesDevice = (this.options.oneFileSystem ?? false) && stat.dev !== sourceDevice;
      const entries = crossesDevice ? [] : await this.saveDirectoryEntries(path, relative, sourceRoot, stat, parentNode ? await this.parents?.children(parentNode) : undefined);
      return { ...metadataOf(name, 'dir', stat), subtree: await this.saver.saveTree(encodeTree(entries)) };
    }
    if (stat.isFile()) return this.saveFile(path, name, stat, parentNode);
    this.summary.otherEntries += 1;
    if (stat.isSymbolicLink()) {
      try {
        return { ...metadataOf(name, 'symlink', stat), linkTarget: await readlink(path, { encoding: 'buffer' }) };
      } catch (err) {
        this.warn(path, err);
        return undefined;
      }
    }
    const type: NodeType = stat.isFIFO() ? 'fifo' : stat.isSocket() ? 'socket' : stat.isCharacterDevice() ? 'chardev' : 'blockdev';
    return { ...metadataOf(name, type, stat), ...(type === 'chardev' || type === 'blockdev' ? { rdev: stat.rdev } : {}) };
  }

  private async saveDirectoryEntries(path: Buffer, relative: string, sourceRoot: string, stat: BigIntStats, parent: ParentDir | undefined): Promise<TreeNode[]> {
    let names: Buffer[];
    try {
      names = (await readdir(path, { encoding: 'buffer' })).sort(Buffer.compare);
    } catch (err) {
      this.warn(path, err);
      return [];
    }
    const onlyTag = this.rules.excludeCaches && (await this.rules.isCacheDirectory(path.toString()));
    // Entries keep their order; small files (one chunk each, read into buffers of their own) are saved
    // several at a time to hide file-system latency, everything else one at a time.
    const nodes: (TreeNode | undefined)[] = new Array(names.length);
    const pending = new Set<Promise<void>>();
    try {
      await this.saveListed(path, names, onlyTag, relative, sourceRoot, stat, parent, nodes, pending);
    } finally {
      // Whatever stops the loop (an interruption), the small files already started finish first.
      await Promise.allSettled(pending);
    }
    await Promise.all(pending);
    return nodes.filter((node): node is TreeNode => node !== undefined);
  }

  private async saveListed(
    path: Buffer,
    names: readonly Buffer[],
    onlyTag: boolean,
    relative: string,
    sourceRoot: string,
    stat: BigIntStats,
    parent: ParentDir | undefined,
    nodes: (TreeNode | undefined)[],
    pending: Set<Promise<void>>,
  ): Promise<void> {
    for (const [index, name] of names.entries()) {
      this.options.signal?.throwIfAborted();
      if (onlyTag && name.toString() !== 'CACHEDIR.TAG') continue;
      const childPath = path.length === 1 && path[0] === 0x2f ? Buffer.concat([SLASH, name]) : Buffer.concat([path, SLASH, name]);
      let childStat: BigIntStats;
      try {
        childStat = await lstat(childPath, { bigint: true });
      } catch (err) {
        this.warn(childPath, err);
        continue;
      }
      const childRelative = relative === '' ? name.toString() : `${relative}/${name.toString()}`;
      if (this.rules.matchPath(childRelative, childPath.toString(), childStat.isDirectory()).excluded) continue;
      if (childStat.isFile() && this.rules.matchSize(Number(childStat.size)).excluded) continue;
      const save = this.saveEntry(childPath, name, childRelative, sourceRoot, childStat, parent?.get(name), stat.dev).then((node) => {
        nodes[index] = node;
      });
      if (!(childStat.isFile() && childStat.size <= BigInt(this.repository.config.chunker.minSize))) {
        await save;
        continue;
      }
      const tracked = save.finally(() => pending.delete(tracked));
      pending.add(tracked);
      if (pending.size >= SMALL_FILES_IN_FLIGHT) await Promise.race(pending);
    }
  }

  /** A folder the file watcher saw no change in, taken whole from the parent snapshot (its own metadata is current). */
  private async unchangedFolder(path: Buffer, name: Buffer, stat: BigIntStats, parentNode: TreeNode | undefined): Promise<TreeNode | undefined> {
    if (!this.changed || parentNode?.type !== 'dir' || !parentNode.subtree || this.changed.mustRescan(path)) return undefined;
    if (!this.repository.hasBlob(parentNode.subtree)) return undefined;
    this.summary.dirs += 1;
    for await (const { node } of walkTree(this.repository, parentNode.subtree, path)) {
      if (node.type === 'dir') this.summary.dirs += 1;
      else if (node.type === 'file') {
        this.summary.filesUnchanged += 1;
        this.summary.totalBytes += node.size ?? 0;
        this.advance(1, node.size ?? 0);
      } else this.summary.otherEntries += 1;
    }
    return { ...metadataOf(name, 'dir', stat), subtree: parentNode.subtree };
  }

  private async saveFile(path: Buffer, name: Buffer, stat: BigIntStats, parentNode: TreeNode | undefined): Promise<TreeNode | undefined> {
    const meta = { ...metadataOf(name, 'file', stat), size: Number(stat.size), inode: stat.ino, ...hardLinkOf(stat) };
    this.summary.totalBytes += Number(stat.size);
    this.meter.counts.currentPath = path.toString();
    const linkKey = stat.nlink > 1n ? `${stat.dev}:${stat.ino}` : undefined;
    const cached = this.cache?.get(path);
    const reusable = this.unchangedContent(stat, cached) ?? this.unchangedContent(stat, parentNode?.type === 'file' ? fileStateOf(parentNode) : undefined);
    if (reusable) {
      this.summary.filesUnchanged += 1;
      this.advance(1, Number(stat.size));
      return { ...meta, content: reusable };
    }
    // Another name of a hard-linked file read earlier in this run: same content, no need to read it twice.
    const sameInode = linkKey ? this.hardLinks.get(linkKey) : undefined;
    if (sameInode) {
      if (cached || parentNode) this.summary.filesChanged += 1;
      else this.summary.filesNew += 1;
      this.advance(1, Number(stat.size));
      return { ...meta, content: sameInode };
    }
    const content = await this.readContent(path, stat);
    if (!content) return undefined;
    if (cached || parentNode) this.summary.filesChanged += 1;
    else this.summary.filesNew += 1;
    if (linkKey) this.hardLinks.set(linkKey, content.ids);
    if (content.stable) this.cache?.set(path, { size: Number(stat.size), mtimeNs: stat.mtimeNs, ctimeNs: stat.ctimeNs, inode: stat.ino, content: content.ids });
    else this.cache?.set(path, undefined);
    return { ...meta, size: content.bytes, content: content.ids };
  }

  /** The recorded chunk list, if the file looks exactly as it did then and every chunk is still in the repository. */
  private unchangedContent(stat: BigIntStats, before: CachedFile | undefined): readonly Buffer[] | undefined {
    if (!before) return undefined;
    const same = before.size === Number(stat.size) && before.mtimeNs === stat.mtimeNs && before.ctimeNs === stat.ctimeNs && before.inode === stat.ino;
    if (!same || !before.content.every((id) => this.repository.hasBlob(id))) return undefined;
    return before.content;
  }

  /** Reads a file into chunks; undefined (with a warning) when it cannot be read. */
  private async readContent(path: Buffer, before: BigIntStats): Promise<{ ids: Buffer[]; bytes: number; stable: boolean } | undefined> {
    let file: FileHandle;
    try {
      file = await open(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    } catch (err) {
      this.warn(path, err);
      return undefined;
    }
    try {
      const small = before.size <= BigInt(this.repository.config.chunker.minSize);
      // Small files are saved several at a time, so one that grew past the minimum since it was listed
      // is chunked with buffers of its own: the shared ones belong to the one large file being read.
      const read =
        (small ? await this.readWhole(file, before) : undefined) ??
        (await this.readChunked(
          file,
          small ? { block: Buffer.allocUnsafe(BLOCK_SIZE), carry: Buffer.allocUnsafe(this.repository.config.chunker.maxSize) } : { block: this.readBlock, carry: this.carry },
        ));
      const after = await file.stat({ bigint: true });
      const stable = after.size === before.size && after.mtimeNs === before.mtimeNs && BigInt(read.bytes) === before.size;
      if (!stable) this.warnings.push(this.report(path, 'changed while it was being read; the snapshot has the content as read'));
      this.summary.filesRead += 1;
      this.meter.counts.filesDone += 1;
      this.meter.counts.bytesDone += Math.max(0, Number(before.size) - read.bytes);
      this.meter.tick();
      return { ...read, stable };
    } catch (err) {
      if (err instanceof HindsightError || this.options.signal?.aborted) throw err;
      this.warn(path, err);
      return undefined;
    } finally {
      await file.close();
    }
  }

  /**
   * A file no larger than the minimum chunk size is exactly one chunk (or none when empty): it is read
   * straight into a buffer of its own, which goes to the saver as is. Undefined when the file has grown
   * past the minimum since it was listed.
   */
  private async readWhole(file: FileHandle, before: BigIntStats): Promise<{ ids: Buffer[]; bytes: number } | undefined> {
    const data = new Uint8Array(Number(before.size) + 1);
    let bytes = 0;
    while (bytes < data.length) {
      const { bytesRead } = await file.read(data, bytes, data.length - bytes, bytes);
      if (bytesRead === 0) break;
      bytes += bytesRead;
    }
    if (bytes > this.repository.config.chunker.minSize) return undefined;
    this.summary.bytesRead += bytes;
    this.meter.counts.bytesDone += bytes;
    return { ids: bytes === 0 ? [] : [await this.saver.saveData(bytes === data.length ? data : data.slice(0, bytes))], bytes };
  }

  /** Reads a file block by block from its start and cuts it into content-defined chunks. */
  private async readChunked(file: FileHandle, buffers: { block: Buffer; carry: Buffer }): Promise<{ ids: Buffer[]; bytes: number }> {
    const chunker = new Chunker(this.gear, this.repository.config.chunker);
    const ids: Buffer[] = [];
    const { block, carry } = buffers;
    let carried = 0;
    let bytes = 0;
    for (;;) {
      this.options.signal?.throwIfAborted();
      const { bytesRead } = await file.read(block, 0, block.length, bytes);
      if (bytesRead === 0) break;
      const data = block.subarray(0, bytesRead);
      bytes += bytesRead;
      let offset = 0;
      for (const length of chunker.push(data)) {
        const take = length - carried;
        ids.push(await this.saver.saveData(assemble(carry.subarray(0, carried), data.subarray(offset, offset + take), length)));
        offset += take;
        carried = 0;
      }
      // The start of the next chunk waits in `carry`, so the read buffer can be reused.
      carried += data.copy(carry, carried, offset);
      this.summary.bytesRead += bytesRead;
      this.meter.counts.bytesDone += bytesRead;
      this.meter.tick();
    }
    const last = chunker.finish();
    if (last > 0) ids.push(await this.saver.saveData(assemble(carry.subarray(0, carried), Buffer.alloc(0), last)));
    return { ids, bytes };
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

/** A chunk in a buffer of its own (it is transferred to a worker): the carried start followed by `tail`. */
function assemble(head: Buffer, tail: Buffer, length: number): Uint8Array {
  const chunk = new Uint8Array(length);
  chunk.set(head, 0);
  chunk.set(tail, head.length);
  return chunk;
}

function metadataOf(name: Buffer, type: NodeType, stat: BigIntStats): TreeNode {
  return {
    name,
    type,
    mode: Number(stat.mode & 0o7777n),
    uid: Number(stat.uid),
    gid: Number(stat.gid),
    mtimeNs: stat.mtimeNs,
    ctimeNs: stat.ctimeNs,
    size: 0,
  };
}

/** Device and link count only for files with several links: the device number can change across reboots, and storing it for every file would defeat tree dedup. */
function hardLinkOf(stat: BigIntStats): Partial<TreeNode> {
  return stat.nlink > 1n ? { device: stat.dev, links: Number(stat.nlink) } : {};
}

function fileStateOf(node: TreeNode): CachedFile | undefined {
  if (!node.content || node.inode === undefined) return undefined;
  return { size: node.size, mtimeNs: node.mtimeNs, ctimeNs: node.ctimeNs, inode: node.inode, content: node.content };
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}
