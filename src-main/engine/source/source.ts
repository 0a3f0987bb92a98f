import { HindsightError } from '../../../src-shared/errors.js';
import type { BlobSaver } from '../archiver/blobSaver.js';
import type { EntryStat } from '../archiver/entryStat.js';
import type { ExcludeOptions } from '../archiver/excludes.js';
import type { FileContent, FileFailure, FileSaverOptions, PreviousChunks } from '../archiver/fileSaver.js';
import type { FolderListing, FolderToList, ListExtras } from '../archiver/folderLister.js';
import type { ScanTotals } from '../archiver/scanner.js';

/**
 * Lists a source's folders for the backup's walk. The local FolderLister (a walk thread) is one; the
 * SFTP source's lister is the other. `list` resolves to a folder's entries sorted by name (bytewise) or
 * to why that folder could not be read (a warning); it rejects only when the whole source is lost.
 */
export interface SourceLister {
  count(sources: readonly string[], excludes: ExcludeOptions, oneFileSystem: boolean): Promise<ScanTotals>;
  list(folder: Buffer, only?: Buffer, extras?: ListExtras): Promise<FolderListing>;
  /** Asks for these folders' listings ahead, for `list` to take later. */
  prefetch(folders: readonly FolderToList[]): void;
  /**
   * The walk found a folder that changed since the parent snapshot: list off the walk's thread where the
   * lister can, since that thread has work of its own between listings now.
   */
  useThread(): void;
  close(): void;
}

/**
 * Reads a source's files into chunks and saves the new ones (see FileSaver.read): resolves to the
 * content or to why that file could not be read (a warning); rejects only on a failure that ends the
 * backup (a pack could not be written, the source was lost).
 */
export interface SourceReader {
  read(path: Buffer, size: number, previous: PreviousChunks, onChunk: (rawLength: number) => void): Promise<FileContent | FileFailure>;
  /** All files will be read (no parent snapshot): start what reads them now. */
  startWorkers(): void;
  close(): Promise<void>;
}

/**
 * Where a backup's sources live: this machine's file system (the default, LocalSource) or another
 * machine's reached over SFTP. It supplies stat, listing and reading; the archiver above it is one.
 */
export interface Source {
  /** The host name snapshots of this source record, unless the backup names one; undefined: this computer's. */
  readonly host: string | undefined;
  /**
   * Whether entries' extended attributes and file flags can be read (local file systems): a remote
   * source's protocol carries neither.
   */
  readonly local: boolean;
  /** A subfolder of the files cache's folder that keeps this source's entries apart from other machines' (same paths, other files). */
  readonly cacheScope: string | undefined;
  /** Whether the lister counts the backup's totals ahead (for the progress percentage); otherwise the parent's are the estimate. */
  readonly countsTotals: boolean;
  lstat(path: string): Promise<EntryStat>;
  readlink(path: Buffer): Promise<Buffer>;
  /** Whether the folder holds a valid CACHEDIR.TAG (--exclude-caches). */
  isCacheDirectory(path: string): Promise<boolean>;
  lister(): SourceLister;
  reader(saver: BlobSaver, options: FileSaverOptions): SourceReader;
}

/**
 * The source cannot be reached any more (the server went away and did not come back within the
 * retries): the backup stops as a pause does, keeping what it has saved, and a rerun continues.
 */
export class SourceUnavailable extends HindsightError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_UNREACHABLE', message, options);
  }
}
