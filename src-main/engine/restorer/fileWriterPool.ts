import type { KeyObject } from 'node:crypto';
import type { FileEnded, FilePiece, FileWriterData, SegmentWritten, WriteRequest, WriteResults, WriterMessage } from '../workers/fileWriter.js';
import type { PackedFiles } from '../workers/packedFiles.js';
import { WorkerPool } from '../workers/workerPool.js';

/** A large file being written by one writer thread, a segment at a time (see fileWriter's `appendSegment`). */
export interface LargeFileWriting {
  /** Appends `pieces` (chunks sealed in `sealed`, which must not change until the answer comes, zeros, or bytes). */
  append(pieces: readonly FilePiece[], sealed: { sealed: Uint8Array; keys: readonly KeyObject[] }): Promise<SegmentWritten>;
  /** Writes what is staged and drops the writer's state for the file, or only drops it (`discard`). The file's descriptors may be closed once this is answered, not before. */
  end(discard: boolean): Promise<FileEnded>;
}

/**
 * File writer threads for a restore: each batch of small files goes whole to the writer with the
 * fewest batches waiting, so two threads do not create files in one folder at once; each large file
 * goes to one writer, segment after segment.
 */
export class FileWriterPool {
  private readonly pool: WorkerPool<WriterMessage, WriteResults | SegmentWritten | FileEnded>;
  private files = 0;

  /** `largeFiles`: large files written at once, at most (each writer keeps a stage for each). */
  constructor(size: number, blobIdKey: Buffer, largeFiles: number) {
    this.pool = new WorkerPool('fileWriter', size, { blobIdKey: new Uint8Array(blobIdKey), largeFiles } satisfies FileWriterData);
  }

  /**
   * Writes the files, whose content is given or sealed in `sealed` (the buffers are handed over, not
   * copied: each must be the whole of its ArrayBuffer; a `sealed` over a SharedArrayBuffer is shared,
   * and must not change until the answer comes). Answers one entry per file, in order: undefined
   * when written, else why not; and which files were not written because a chunk could not be opened.
   */
  write(files: PackedFiles, sealed: { sealed: Uint8Array; keys: readonly KeyObject[] }): Promise<WriteResults> {
    const handed: ArrayBufferView[] = [files.names, files.nameEnds, files.fields, files.chunks, files.ids];
    if (!(sealed.sealed.buffer instanceof SharedArrayBuffer)) handed.push(sealed.sealed);
    return this.pool.ask({ kind: 'files', files, sealed: sealed.sealed, keys: sealed.keys }, handed) as Promise<WriteResults>;
  }

  /** `write` for files whose bytes the main thread loaded itself (handed over as well). */
  writeLoaded(files: readonly WriteRequest[]): Promise<WriteResults> {
    return this.pool.ask({ kind: 'loaded', files }, files.map((file) => file.content)) as Promise<WriteResults>;
  }

  /** A large file, open at `fd` (and, for uncached writes, at `direct`), to be written by the least busy writer. */
  largeFile(fd: number, direct: number | undefined): LargeFileWriting {
    const file = (this.files += 1);
    const to = this.pool.leastBusy();
    return {
      // Pieces' bytes are copied, not handed over: the main thread loads a chunk itself only when the writer could not open it (rare), and may be handed a view of a larger buffer.
      append: (pieces, { sealed, keys }) => this.pool.ask({ kind: 'segment', file, fd, direct, pieces, sealed, keys }, [], to) as Promise<SegmentWritten>,
      end: (discard) => this.pool.ask({ kind: 'end', file, discard }, [], to) as Promise<FileEnded>,
    };
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
