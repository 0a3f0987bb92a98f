import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, constants as fsConstants, lstatSync, mkdirSync, utimesSync } from 'node:fs';
import { chmod, lchown, link, lstat, lutimes, mkdir, open, readdir, realpath, rename, symlink, unlink, type FileHandle } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import ignore, { type Ignore } from 'ignore';
import type { Progress, Warning } from '../../../src-shared/progress.js';
import { HindsightError } from '../../../src-shared/errors.js';
import { ByteBudget, mapConcurrent } from '../concurrency.js';
import { OperationInterrupted, stopIfAborted } from '../interruption.js';
import { EventLoopTurns } from '../eventLoopTurns.js';
import { ProgressMeter } from '../progressMeter.js';
import type { Repository } from '../repository/repository.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import { displayName, type TreeNode } from '../snapshot/tree.js';
import { TreeLoader } from '../snapshot/treeLoader.js';
import { findPath } from '../snapshot/treePath.js';
import type { WriteRequest } from '../workers/fileWriter.js';
import { PackedFilesBuilder, type FileToWrite } from '../workers/packedFiles.js';
import { gatherSealedBlobs, gatheredRow, loadBlobs } from '../repository/blobBatch.js';
import { DirectWriter } from '../directWrites.js';
import { SharedBufferPool } from '../sharedBufferPool.js';
import { sameMicrosecond, utimesSeconds } from './fileTimes.js';
import { FileWriterPool, type LargeFileWriting } from './fileWriterPool.js';
import { sendLargeFileContent } from './largeFileContent.js';
import { unsafeNameReason } from './pathSafety.js';
import { createSpecialFile } from '../metadata/specialFiles.js';
import { restoreXattrs } from '../metadata/xattrRestore.js';
import { applyFlags } from '../metadata/fileFlags.js';
import { restoreBirthtime } from '../metadata/birthtime.js';
import { ZeroChunks } from './zeroChunks.js';

export type OverwritePolicy = 'always' | 'if-changed' | 'never';

export interface RestoreOptions {
  readonly snapshot: Snapshot;
  /** Path inside the snapshot ("/home/ann/docs"); a folder's contents, or a single entry, are restored into `target`. */
  readonly path?: string;
  readonly target: string;
  /** gitignore-style patterns on the path relative to what is restored: only matching entries (and everything below a matching folder). */
  readonly include?: readonly string[];
  readonly exclude?: readonly string[];
  /** What to do when a file already exists: replace it always, only when size or mtime differ (default), or never. */
  readonly overwrite?: OverwritePolicy;
  /** Large files written at once (default 4). */
  readonly concurrency?: number;
  readonly onProgress?: (progress: Progress) => void;
  readonly onProblem?: (problem: Warning) => void;
  /**
   * Stops the restore at a safe point: files being written are finished or removed (no temporary
   * file is left), the folders made so far get their mode and times. Rejects with OperationInterrupted.
   */
  readonly signal?: AbortSignal;
}

export interface RestoreResult {
  readonly filesRestored: number;
  readonly filesSkipped: number;
  readonly dirs: number;
  readonly symlinks: number;
  readonly hardLinks: number;
  /** FIFOs and device files. */
  readonly specials: number;
  readonly bytesWritten: number;
  /** Entries that could not be restored, each with the reason; the rest was restored. */
  readonly problems: readonly Warning[];
}

const SLASH = Buffer.from('/');
const SLASH_BYTE = 0x2f;
const SYMLINK_LIMIT = 4096;
/** Files up to this size are restored in batches by the writer threads; larger ones stream chunk by chunk. */
const SMALL_FILE = 1024 * 1024;
/** A batch of small files (of one folder or several) ends at this many files or bytes, whichever comes first, so its content in memory stays small. */
const BATCH_FILES = 256;
const BATCH_BYTES = 8 * 1024 * 1024;
/** Folders given their metadata between two turns of the event loop, at the end of a restore. */
const FOLDERS_PER_TURN = 64;
/**
 * Large files restored at once, unless `concurrency` says otherwise. The writer threads open and write
 * their chunks; the main thread only reads them. 4 against 8, alternating restores of the 1 GiB
 * benchmark set and of the linux tree: peak RSS 250–260 MB against 280–320, and no slower (synthetic
 * 2.9–3.8 s against 3.5–4.5 s).
 */
const LARGE_FILES_AT_ONCE = 4;
/** What a restore's temporary files are called: one left by a restore that was killed is removed by the next. */
const TEMPORARY_PREFIX = '.hindsight-restore-';
const TEMPORARY_NAME = /^\.hindsight-restore-[0-9a-f]{12}$/;
const INTERRUPTED = 'The restore was stopped before it finished; what it wrote is complete. Run it again to restore the rest.';

interface Pending {
  readonly path: Buffer;
  readonly node: TreeNode;
}

/** Small files of one folder, in a batch. */
interface SmallFiles {
  readonly dir: Buffer;
  readonly files: Pending[];
}

/** A small file with its folder, and whether this restore created that folder (nothing can be in the way). */
interface PlacedFile extends Pending {
  readonly dir: Buffer;
  readonly fresh: boolean;
}

/**
 * The names a folder's tree lists more than once (latin1 strings), or undefined when none is: in a tree
 * whose names ascend, as encodeTree writes them, with a comparison of neighbours instead of a string per
 * name in a map (two per file of the ~6 strings restoreEntries made per entry).
 */
function repeatedNames(nodes: readonly TreeNode[]): Set<string> | undefined {
  let ascending = true;
  for (let i = 1; i < nodes.length && ascending; i++) ascending = Buffer.compare((nodes[i - 1] as TreeNode).name, (nodes[i] as TreeNode).name) < 0;
  if (ascending) return undefined;
  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const node of nodes) {
    const name = node.name.toString('latin1');
    if (seen.has(name)) repeated.add(name);
    seen.add(name);
  }
  return repeated;
}

/** `name` inside the folder `dir`, as bytes: one allocation, where Buffer.concat took an array of the parts as well. */
function pathIn(dir: Buffer, name: Buffer): Buffer {
  const path = Buffer.allocUnsafe(dir.length + 1 + name.length);
  dir.copy(path, 0);
  path[dir.length] = SLASH_BYTE;
  name.copy(path, dir.length + 1);
  return path;
}

/**
 * Restores a snapshot (or part of it) into a folder.
 *
 * Safety, because a snapshot is untrusted input: every name is checked to be
 * a single plain component; every folder on the way down is created or
 * verified to be a real folder (never a symlink) inside the target; files are
 * created with O_EXCL|O_NOFOLLOW under a temporary name and renamed into
 * place (small files in a folder this restore created, where nothing can be
 * replaced, are created under their own name, still O_EXCL|O_NOFOLLOW; one
 * cut short is left with the wrong size and time, so a rerun rewrites it);
 * symlinks from the snapshot are created only after every file, so
 * no later write can pass through one; hard links only ever point at files
 * this restore wrote. Every chunk is authenticated and its id rechecked as
 * it is read; a damaged or missing chunk fails only its file.
 */
export async function restore(repository: Repository, options: RestoreOptions): Promise<RestoreResult> {
  const run = new RestoreRun(repository, options);
  return run.execute();
}

class RestoreRun {
  private readonly overwrite: OverwritePolicy;
  private readonly include: Ignore | undefined;
  private readonly exclude: Ignore | undefined;
  private readonly meter: ProgressMeter;
  private readonly trees: TreeLoader;
  private readonly problems: Warning[] = [];
  private readonly counts = { filesRestored: 0, filesSkipped: 0, dirs: 0, symlinks: 0, hardLinks: 0, specials: 0, bytesWritten: 0 };
  private readonly symlinks: Pending[] = [];
  /** FIFOs and device files, created after the regular files. */
  private readonly specials: Pending[] = [];
  private readonly links: { path: Buffer; key: string }[] = [];
  private readonly linkSources = new Map<string, Buffer>();
  private readonly directories: Pending[] = [];
  /** Files restored that have file flags, given them at the very end (see `applyFlagsLast`). */
  private readonly flagged: Pending[] = [];
  private readonly isRoot = process.getuid?.() === 0;
  private root!: Buffer;
  private writers: FileWriterPool | undefined;
  /**
   * Batches of small files being loaded and written, two per writer thread at most: the walk goes on to
   * the next folder meanwhile, and each batch goes to one writer whole. Split across the writers, a
   * folder's files were created by two threads at once in one directory, which on ext4 spun on the
   * directory's lock (a third of a restore's CPU, in the kernel).
   */
  private readonly smallBatches = new Set<Promise<void>>();
  private readonly smallBatchSlots = new ByteBudget(2 * availableParallelism());
  private smallBatchFailure: { error: unknown } | undefined;
  /**
   * Small files waiting to be sent as one batch, folder after folder. A batch per folder made a restore
   * of 78,579 files in 5,095 folders send 5,095 batches, each a round trip to a writer thread and a read
   * of its chunks: most folders hold a few small files.
   */
  private gathering: { groups: SmallFiles[]; files: number; bytes: number } = { groups: [], files: 0, bytes: 0 };
  /** The buffers that batches' sealed chunks are gathered into, reused rather than made for each batch and collected. */
  private readonly sealedBuffers = new SharedBufferPool(2 * availableParallelism());

  private readonly largeFilesAtOnce: number;
  /** The buffers that large files' segments are read into, sealed (see sendLargeFileContent): two per file restored at once. */
  private readonly segmentBuffers: SharedBufferPool;
  /** Chunks found to hold only zeros: restored as holes, and not loaded again. */
  private readonly zeroChunks = new ZeroChunks();
  private readonly turns = new EventLoopTurns();

  constructor(
    private readonly repository: Repository,
    private readonly options: RestoreOptions,
  ) {
    this.overwrite = options.overwrite ?? 'if-changed';
    this.include = options.include?.length ? ignore().add([...options.include]) : undefined;
    this.exclude = options.exclude?.length ? ignore().add([...options.exclude]) : undefined;
    this.meter = new ProgressMeter('restore', options.onProgress);
    this.largeFilesAtOnce = options.concurrency ?? LARGE_FILES_AT_ONCE;
    this.segmentBuffers = new SharedBufferPool(2 * this.largeFilesAtOnce);
    this.trees = new TreeLoader(repository);
  }

  async execute(): Promise<RestoreResult> {
    const start = await findPath(this.repository, this.options.snapshot, this.options.path ?? '/');
    try {
      await mkdir(this.options.target, { recursive: true });
      this.root = Buffer.from(await realpath(this.options.target));
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code === 'EEXIST' || (err as NodeJS.ErrnoException).code === 'ENOTDIR' ? 'it is a file, not a folder' : (err as Error).message;
      throw new HindsightError('E_TARGET', `Cannot restore into ${this.options.target}: ${reason}.`);
    }
    await this.removeLeftovers(this.root);
    if ((this.options.path ?? '/') === '/') this.meter.counts.bytesTotal = this.options.snapshot.summary.totalBytes;
    this.meter.counts.phase = 'restoring';
    let interrupted = false;
    try {
      if (start.kind === 'dir') await this.restoreDirectory(this.root, '', start.tree, false);
      else await this.restoreEntries(this.root, '', [start.node], false);
      await this.flushSmallFiles();
      await Promise.all(this.smallBatches);
      if (this.smallBatchFailure) throw this.smallBatchFailure.error;
    } catch (err) {
      if (!(err instanceof OperationInterrupted)) throw err;
      interrupted = true;
    } finally {
      // Batches being written finish first: a writer thread stopped mid-batch would leave a temporary file.
      await Promise.all(this.smallBatches);
      await this.writers?.close();
    }
    if (!interrupted) {
      await this.createHardLinks();
      await this.createSpecials();
      await this.createSymlinks();
    }
    // Deepest first, so setting a folder's mtime is not undone by writing into it.
    // With synchronous calls: one after the other anyway, and each through the thread pool cost a round
    // trip of thread wake-ups. Restore of 5,925 small files in 585 folders, 6 alternating rounds: 0.80 ->
    // 0.71 s. A pause every FOLDERS_PER_TURN folders lets the agent's event loop serve its callers
    // between them, however slow the disk (a network share).
    for (const [i, dir] of this.directories.reverse().entries()) {
      this.applyFolderMetadata(dir.path, dir.node);
      if (dir.node.xattrs) await this.applyXattrs(dir.path, dir.node);
      this.applyBirthtime(dir.path, dir.node);
      if (i % FOLDERS_PER_TURN === FOLDERS_PER_TURN - 1) await new Promise((resolve) => setImmediate(resolve));
    }
    if (interrupted) throw new OperationInterrupted(INTERRUPTED);
    this.applyFlagsLast();
    this.meter.counts.phase = 'done';
    this.meter.tick(true);
    return { ...this.counts, problems: this.problems };
  }

  /**
   * File flags, once nothing more is written: an immutable file refuses new times, attributes and hard
   * links, an immutable or append-only folder new entries, and a rerun of an interrupted restore could
   * not replace what was made immutable (so an interrupted restore sets none). Files first, then folders
   * deepest first (`directories` is in that order by now). Setting flags moves only the change time.
   */
  private applyFlagsLast(): void {
    for (const { path, node } of [...this.flagged, ...this.directories]) {
      if (!node.flags) continue;
      const problem = applyFlags(path, node.flags);
      if (problem) this.problem(path, problem);
    }
  }

  /** Removes the temporary files a killed restore left in a folder that existed before this one. */
  private async removeLeftovers(dir: Buffer): Promise<void> {
    const names = await readdir(dir, { encoding: 'buffer' }).catch(() => []);
    for (const name of names) {
      if (TEMPORARY_NAME.test(name.toString('latin1'))) await unlink(Buffer.concat([dir, SLASH, name])).catch(() => undefined);
    }
  }

  private async restoreDirectory(dir: Buffer, relative: string, tree: Buffer, selected: boolean): Promise<void> {
    stopIfAborted(this.options.signal, INTERRUPTED);
    // The writers' answers and the batches' pack reads wait for the event loop, as do an agent's callers.
    await this.turns.take();
    let nodes: TreeNode[];
    try {
      nodes = await this.trees.load(tree);
    } catch (err) {
      this.problem(dir, `the folder's listing could not be read: ${(err as Error).message}`);
      return;
    }
    await this.restoreEntries(dir, relative, nodes, selected);
  }

  private async restoreEntries(dir: Buffer, relative: string, nodes: readonly TreeNode[], selected: boolean): Promise<void> {
    const repeated = repeatedNames(nodes);
    // Paths relative to what is restored are for the include and exclude patterns only.
    const filtering = this.include !== undefined || this.exclude !== undefined;
    const files: Pending[] = [];
    const subdirs: { path: Buffer; relative: string; node: TreeNode; selected: boolean }[] = [];
    for (let i = 0; i < nodes.length; i++) {
      const node = nodes[i] as TreeNode;
      const path = pathIn(dir, node.name);
      const unsafe = unsafeNameReason(node.name);
      if (unsafe) {
        this.problem(dir, `refused an entry with an unsafe name (${unsafe}): "${displayName(node.name)}"`);
        continue;
      }
      if (repeated?.has(node.name.toString('latin1'))) {
        this.problem(path, 'refused: the snapshot lists this name more than once in the same folder');
        continue;
      }
      const childRelative = !filtering ? '' : relative === '' ? node.name.toString() : `${relative}/${node.name.toString()}`;
      const isDir = node.type === 'dir';
      if (this.exclude?.ignores(isDir ? `${childRelative}/` : childRelative)) continue;
      const included = selected || !this.include || this.include.ignores(isDir ? `${childRelative}/` : childRelative);
      if (isDir) {
        subdirs.push({ path, relative: childRelative, node, selected: included });
        continue;
      }
      if (!included) continue;
      switch (node.type) {
        case 'file': {
          const key = node.links && node.links > 1 && node.inode !== undefined && node.device !== undefined ? `${node.device}:${node.inode}` : undefined;
          if (key && this.linkSources.has(key)) this.links.push({ path, key });
          else {
            if (key) this.linkSources.set(key, path);
            files.push({ path, node });
          }
          break;
        }
        case 'symlink':
          this.symlinks.push({ path, node });
          break;
        case 'fifo':
        case 'chardev':
        case 'blockdev':
          this.specials.push({ path, node });
          break;
        default:
          this.problem(path, `not restored: ${node.type} entries are recorded but not recreated`);
      }
    }
    if (files.length > 0 && !(await this.ensureDirectory(dir))) return;
    const small = files.filter((file) => file.node.size <= SMALL_FILE);
    // A folder's files stay in one batch where they fit: two writers creating files in one folder at once
    // spin on its lock (see smallBatches).
    const smallBytes = small.reduce((sum, file) => sum + file.node.size, 0);
    if (!this.batchHasRoom(small.length, smallBytes)) await this.flushSmallFiles();
    for (const file of small) {
      // Awaited only when the batch is full: a promise and an await per file were the main thread's garbage.
      if (!this.batchHasRoom(1, file.node.size)) await this.flushSmallFiles();
      this.gatherSmallFile(dir, file);
    }
    await mapConcurrent(
      files.filter((file) => file.node.size > SMALL_FILE),
      this.largeFilesAtOnce,
      (file) => this.restoreFile(file.path, file.node),
    );
    stopIfAborted(this.options.signal, INTERRUPTED);
    for (const sub of subdirs) {
      if (sub.selected) {
        if (!(await this.ensureDirectory(sub.path))) continue;
        this.directories.push({ path: sub.path, node: sub.node });
        this.counts.dirs += 1;
      }
      await this.restoreDirectory(sub.path, sub.relative, sub.node.subtree as Buffer, sub.selected);
    }
  }

  /** Creates (or accepts an existing) real folder at `path`, after making sure every folder above it is one too. */
  private readonly verified = new Set<string>();
  /** Folders this restore made (verified too): they held nothing before it. */
  private readonly created = new Set<string>();
  private async ensureDirectory(path: Buffer): Promise<boolean> {
    if (path.equals(this.root)) return true;
    const key = path.toString('latin1');
    if (this.verified.has(key)) return true;
    const parent = path.subarray(0, path.lastIndexOf(0x2f));
    if (parent.length < this.root.length || !(await this.ensureDirectory(parent))) return false;
    // Synchronous calls: one folder at a time anyway, and each call through the thread pool cost a round
    // trip of thread wake-ups (a restore of 78,579 files in 5,095 folders made 10,192 of them here).
    try {
      mkdirSync(path, { mode: 0o700 });
      // mkdir made it, so it is a folder and holds nothing: no need to look at what is there.
      this.created.add(key);
      this.verified.add(key);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        this.problem(path, `could not create the folder: ${(err as Error).message}`);
        return false;
      }
    }
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) {
      this.problem(path, 'refused: a symbolic link is in the way, and restoring through it could write outside the target');
      return false;
    }
    if (!stat.isDirectory()) {
      this.problem(path, 'could not create the folder: a file with that name is in the way');
      return false;
    }
    await this.removeLeftovers(path);
    this.verified.add(key);
    return true;
  }

  /** Adds a small file to the batch being gathered, which has room for it (see batchHasRoom). */
  private gatherSmallFile(dir: Buffer, file: Pending): void {
    const last = this.gathering.groups[this.gathering.groups.length - 1];
    if (last?.dir === dir) last.files.push(file);
    else this.gathering.groups.push({ dir, files: [file] });
    this.gathering.files += 1;
    this.gathering.bytes += file.node.size;
  }

  /** Whether the batch being gathered can take this many more files and bytes (see BATCH_FILES, BATCH_BYTES). */
  private batchHasRoom(files: number, bytes: number): boolean {
    return this.gathering.files + files <= BATCH_FILES && this.gathering.bytes + bytes <= BATCH_BYTES;
  }

  /** Starts restoring the small files gathered so far, once a slot is free; `execute` waits for them all. */
  private async flushSmallFiles(): Promise<void> {
    const { groups } = this.gathering;
    if (groups.length === 0) return;
    this.gathering = { groups: [], files: 0, bytes: 0 };
    await this.smallBatchSlots.acquire(1);
    if (this.smallBatchFailure) throw this.smallBatchFailure.error;
    if (this.options.signal?.aborted) {
      this.smallBatchSlots.release(1);
      stopIfAborted(this.options.signal, INTERRUPTED);
    }
    const running: Promise<void> = this.restoreSmallFiles(groups)
      .catch((error: unknown) => {
        this.smallBatchFailure ??= { error };
      })
      .finally(() => {
        this.smallBatches.delete(running);
        this.smallBatchSlots.release(1);
      });
    this.smallBatches.add(running);
  }

  /**
   * Small files are restored a batch at a time: their chunks are read by pack in a few ranges
   * (gatherSealedBlobs), and writer threads open the chunks and create the files with synchronous calls.
   * Per file this saves the pack open and read and a dozen event-loop round trips, which dominated
   * restores of small files, and keeps decryption, decompression and hashing off the main thread.
   */
  private async restoreSmallFiles(groups: readonly SmallFiles[]): Promise<void> {
    const wanted: PlacedFile[] = [];
    for (const { dir, files } of groups) {
      // In a folder this restore created, nothing can be in the way: no need to look.
      const fresh = this.created.has(dir.toString('latin1'));
      const writable = fresh ? files : (await mapConcurrent(files, 8, async (file) => ((await this.mayWrite(file.path, file.node)) ? file : undefined))).filter((file): file is Pending => file !== undefined);
      for (let i = 0; i < writable.length; i++) {
        const { path, node } = writable[i] as Pending;
        wanted.push({ path, node, dir, fresh });
      }
    }
    const gathered = await gatherSealedBlobs(this.repository, wanted.flatMap((file) => file.node.content ?? []), this.sealedBuffers);
    try {
      const batch = new PackedFilesBuilder(gathered.table);
      const writing: PlacedFile[] = [];
      const unread: PlacedFile[] = [];
      // The files' chunks in the order they were asked for, so each one's index entry is known.
      let asked = 0;
      for (let i = 0; i < wanted.length; i++) {
        const file = wanted[i] as PlacedFile;
        const chunks = file.node.content?.length ?? 0;
        let allRead = true;
        for (let k = 0; k < chunks && allRead; k++) allRead = gatheredRow(gathered, gathered.entries[asked + k] as number) >= 0;
        if (allRead) {
          batch.add(this.fileToWrite(file));
          for (let k = 0; k < chunks; k++) batch.chunk(gatheredRow(gathered, gathered.entries[asked + k] as number));
          writing.push(file);
        } else unread.push(file);
        asked += chunks;
      }
      const { errors, unopened } = batch.count > 0 ? await this.fileWriters().write(batch.build(), gathered) : { errors: [], unopened: [] };
      const notOpened = new Set(unopened);
      for (let i = 0; i < writing.length; i++) {
        const file = writing[i] as PlacedFile;
        if (notOpened.has(i)) unread.push(file);
        else {
          const attributes = this.smallFileWritten(file, errors[i]);
          if (attributes) await attributes;
        }
      }
      if (unread.length > 0) await this.restoreLoadedFiles(unread);
    } finally {
      // The writers have answered (or failed): nothing reads the sealed bytes any more.
      this.sealedBuffers.give(gathered.sealed);
    }
    this.meter.tick();
  }

  /**
   * Small files whose chunks could not be read or opened where the batch found them: loaded one chunk at
   * a time by `loadBlobs`, which a replicated repository serves from another copy, and otherwise names
   * what is wrong.
   */
  private async restoreLoadedFiles(files: readonly PlacedFile[]): Promise<void> {
    const { loaded, failed } = await loadBlobs(this.repository, files.flatMap((file) => file.node.content ?? []));
    const requests: WriteRequest[] = [];
    const writing: PlacedFile[] = [];
    for (const file of files) {
      const ids = file.node.content ?? [];
      const missing = ids.map((id) => failed.get(id.toString('hex'))).find((err) => err !== undefined);
      if (missing) {
        this.meter.counts.bytesDone += file.node.size;
        this.problem(file.path, `not restored: ${missing.message}`);
        continue;
      }
      const content = Buffer.concat(ids.map((id) => loaded.get(id.toString('hex')) as Buffer));
      if (content.length !== file.node.size) {
        this.meter.counts.bytesDone += file.node.size;
        this.problem(file.path, `not restored: the snapshot says ${file.node.size} bytes but its chunks hold ${content.length}`);
        continue;
      }
      const wire = this.fileToWrite(file);
      // Copies: each travels as its own small buffer, not the pool or batch it is a view of.
      requests.push({ ...wire, path: new Uint8Array(wire.path), temp: wire.temp && new Uint8Array(wire.temp), content: new Uint8Array(content) });
      writing.push(file);
    }
    const { errors } = requests.length > 0 ? await (this.writers as FileWriterPool).writeLoaded(requests) : { errors: [] };
    for (const [i, file] of writing.entries()) await this.smallFileWritten(file, errors[i]);
  }

  private fileToWrite(file: PlacedFile): FileToWrite {
    return {
      temp: file.fresh ? undefined : Buffer.concat([file.dir, SLASH, Buffer.from(`${TEMPORARY_PREFIX}${randomBytes(6).toString('hex')}`)]),
      path: file.path,
      size: file.node.size,
      mode: file.node.mode,
      owner: this.isRoot ? { uid: file.node.uid, gid: file.node.gid } : undefined,
      mtime: utimesSeconds(file.node.mtimeNs),
    };
  }

  /**
   * Counts a small file the writers answered for: written (then its extended attributes), or a problem.
   * Awaits only for extended attributes: a promise and an await per file were garbage on the main thread.
   */
  private smallFileWritten(file: Pending, error: string | undefined): Promise<void> | undefined {
    this.meter.counts.bytesDone += file.node.size;
    if (error) {
      this.problem(file.path, error);
      return undefined;
    }
    this.counts.filesRestored += 1;
    this.counts.bytesWritten += file.node.size;
    this.meter.counts.filesDone += 1;
    if (file.node.flags) this.flagged.push(file);
    if (!file.node.xattrs) {
      this.applyBirthtime(file.path, file.node);
      return undefined;
    }
    return this.applyXattrs(file.path, file.node).then(() => this.applyBirthtime(file.path, file.node));
  }

  /** Whether the overwrite policy lets a file be written at `path`; counts and reports the ones it does not. */
  private async mayWrite(path: Buffer, node: TreeNode): Promise<boolean> {
    const existing = await lstat(path, { bigint: true }).catch(() => undefined);
    if (!existing) return true;
    if (existing.isDirectory()) {
      this.problem(path, 'not restored: a folder with that name is in the way');
      return false;
    }
    const unchanged = existing.isFile() && existing.size === BigInt(node.size) && sameMicrosecond(existing.mtimeNs, node.mtimeNs);
    if (this.overwrite === 'never' || (this.overwrite === 'if-changed' && unchanged)) {
      this.counts.filesSkipped += 1;
      this.advance(node.size);
      return false;
    }
    return true;
  }

  /**
   * Returns without a word when the signal is aborted (its temporary file removed): the caller stops.
   * The file is created and named here; a writer thread writes its content (sendLargeFileContent).
   */
  private async restoreFile(path: Buffer, node: TreeNode): Promise<void> {
    if (this.options.signal?.aborted || !(await this.mayWrite(path, node))) return;
    const temp = Buffer.concat([path.subarray(0, path.lastIndexOf(0x2f) + 1), Buffer.from(`${TEMPORARY_PREFIX}${randomBytes(6).toString('hex')}`)]);
    let file: FileHandle | undefined;
    try {
      file = await open(temp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o600);
    } catch (err) {
      this.problem(path, `could not create the file: ${(err as Error).message}`);
      return;
    }
    let written = 0;
    let direct: FileHandle | undefined;
    let writing: LargeFileWriting | undefined;
    try {
      direct = await DirectWriter.openUncached(temp, file, open);
      writing = this.fileWriters().largeFile(file.fd, direct?.fd);
      await sendLargeFileContent(this.repository, node.content ?? [], writing, {
        zeroChunks: this.zeroChunks,
        buffers: this.segmentBuffers,
        checkpoint: () => stopIfAborted(this.options.signal, INTERRUPTED),
        onBytes: (bytes) => {
          written += bytes;
          this.counts.bytesWritten += bytes;
          this.meter.counts.bytesDone += bytes;
          this.meter.tick();
        },
      });
      if (written !== node.size) throw new HindsightError('E_DAMAGED', `the snapshot says ${node.size} bytes but its chunks hold ${written}`);
      const ended = await writing.end(false);
      writing = undefined;
      if (ended.error) throw new HindsightError('E_WRITE', `could not write the file: ${ended.error}`);
      await direct?.close();
      direct = undefined;
      // Owner before mode: a change of owner clears the set-user-ID and set-group-ID bits.
      if (this.isRoot) await file.chown(node.uid, node.gid);
      await file.chmod(node.mode);
      const mtime = utimesSeconds(node.mtimeNs);
      await file.utimes(mtime, mtime);
      await file.close();
      file = undefined;
      await rename(temp, path);
      this.counts.filesRestored += 1;
      this.meter.counts.filesDone += 1;
      if (node.xattrs) await this.applyXattrs(path, node);
      this.applyBirthtime(path, node);
      if (node.flags) this.flagged.push({ path, node });
    } catch (err) {
      // The writer lets go of the file before its descriptors are closed: a number reused meanwhile would be written into.
      await writing?.end(true).catch(() => undefined);
      await direct?.close().catch(() => undefined);
      await file?.close();
      await unlink(temp).catch(() => undefined);
      if (err instanceof OperationInterrupted) return;
      this.meter.counts.bytesDone += node.size - written;
      this.problem(path, `not restored: ${(err as Error).message}`);
    }
  }

  /** The writer threads, started with the first file that needs them. */
  private fileWriters(): FileWriterPool {
    this.writers ??= new FileWriterPool(availableParallelism(), this.repository.blobIdKey, this.largeFilesAtOnce);
    return this.writers;
  }

  private async createHardLinks(): Promise<void> {
    for (const { path, key } of this.links) {
      const source = this.linkSources.get(key) as Buffer;
      try {
        if (!(await this.ensureDirectory(path.subarray(0, path.lastIndexOf(0x2f))))) continue;
        const sourceStat = await lstat(source);
        if (!sourceStat.isFile()) throw new Error('its first copy was not restored as a file');
        if (await this.replaceable(path)) {
          await link(source, path);
          this.counts.hardLinks += 1;
        }
      } catch (err) {
        this.problem(path, `hard link not restored: ${(err as Error).message}`);
      }
    }
  }

  private async createSymlinks(): Promise<void> {
    for (const { path, node } of this.symlinks) {
      try {
        const target = node.linkTarget as Buffer;
        if (target.length === 0 || target.length > SYMLINK_LIMIT || target.includes(0)) throw new Error('invalid link target');
        if (!(await this.ensureDirectory(path.subarray(0, path.lastIndexOf(0x2f))))) continue;
        if (!(await this.replaceable(path))) continue;
        await symlink(target, path);
        await this.applyLinkMetadata(path, node);
        if (node.xattrs) await this.applyXattrs(path, node);
        this.counts.symlinks += 1;
      } catch (err) {
        this.problem(path, `symbolic link not restored: ${(err as Error).message}`);
      }
    }
  }

  /** FIFOs and (as root) device files, with their owner, mode, attributes and times. */
  private async createSpecials(): Promise<void> {
    for (const { path, node } of this.specials) {
      try {
        if (!(await this.ensureDirectory(path.subarray(0, path.lastIndexOf(0x2f))))) continue;
        if (!(await this.replaceable(path))) continue;
        await createSpecialFile(path, node.type, node.rdev);
        if (this.isRoot) await lchown(path, node.uid, node.gid);
        await chmod(path, node.mode);
        if (node.xattrs) await this.applyXattrs(path, node);
        const mtime = utimesSeconds(node.mtimeNs);
        await lutimes(path, mtime, mtime);
        this.counts.specials += 1;
      } catch (err) {
        this.problem(path, `not restored: ${(err as Error).message}`);
      }
    }
  }

  /** Extended attributes of an entry just restored; what cannot be set is one problem naming the entry. */
  private async applyXattrs(path: Buffer, node: TreeNode): Promise<void> {
    try {
      const problem = await restoreXattrs(this.repository, path, node.xattrs ?? []);
      if (problem) this.problem(path, problem);
    } catch (err) {
      this.problem(path, `extended attributes not restored: ${(err as Error).message}`);
    }
  }

  /** The creation time of a file or folder just restored, where the system can set one (see restoreBirthtime). */
  private applyBirthtime(path: Buffer, node: TreeNode): void {
    if (node.birthtimeNs === undefined) return;
    const problem = restoreBirthtime(path, node.birthtimeNs);
    if (problem) this.problem(path, problem);
  }

  /** Clears the way for a link at `path` per the overwrite policy; false when an existing entry stays. */
  private async replaceable(path: Buffer): Promise<boolean> {
    const existing = await lstat(path).catch(() => undefined);
    if (!existing) return true;
    if (existing.isDirectory()) throw new Error('a folder with that name is in the way');
    if (this.overwrite === 'never') {
      this.counts.filesSkipped += 1;
      return false;
    }
    await unlink(path);
    return true;
  }

  /** Owner (as root), mode and times of a folder, with synchronous calls (see `execute`). */
  private applyFolderMetadata(path: Buffer, node: TreeNode): void {
    const mtime = utimesSeconds(node.mtimeNs);
    try {
      if (this.isRoot) chownSync(path, node.uid, node.gid);
      chmodSync(path, node.mode);
      utimesSync(path, mtime, mtime);
    } catch (err) {
      this.problem(path, `metadata not restored: ${(err as Error).message}`);
    }
  }

  /** Owner (as root) and times of a symbolic link itself; a link has no mode of its own. */
  private async applyLinkMetadata(path: Buffer, node: TreeNode): Promise<void> {
    const mtime = utimesSeconds(node.mtimeNs);
    try {
      if (this.isRoot) await lchown(path, node.uid, node.gid);
      await lutimes(path, mtime, mtime);
    } catch (err) {
      this.problem(path, `metadata not restored: ${(err as Error).message}`);
    }
  }

  private advance(bytes: number): void {
    this.meter.counts.filesDone += 1;
    this.meter.counts.bytesDone += bytes;
    this.meter.tick();
  }

  private problem(path: Buffer, message: string): void {
    const problem = { path: displayName(path), message };
    this.problems.push(problem);
    this.options.onProblem?.(problem);
  }
}
