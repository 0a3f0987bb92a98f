import { chunkTable, copyChunk, type PackedChunks } from './packedChunks.js';

/**
 * Small files for a writer thread, with where their chunks lie sealed in the batch's buffer, packed into
 * a few arrays rather than an object per file and per chunk. As objects (a path array, an owner, a
 * SealedBlob per chunk), structured clone took ~2 µs to send and ~3 µs to receive a file (v8.serialize of
 * a 256-file batch): ~0.3 of the 8.4 CPU-seconds of a restore of the linux tree's 78,579 files.
 */
export interface PackedFiles extends PackedChunks {
  readonly count: number;
  /** Each file's path, then its temporary name (none: nothing between the two ends), back to back. */
  readonly names: Uint8Array;
  /** Per file, where its path ends and where its temporary name ends in `names`. */
  readonly nameEnds: Uint32Array;
  /** FILE_FIELDS per file (see FileField); the chunks are those of all files in order. */
  readonly fields: Float64Array;
}

const FileField = { size: 0, mode: 1, uid: 2, gid: 3, mtime: 4, firstChunk: 5, chunkCount: 6 } as const;
const FILE_FIELDS = 7;
/** In the uid field: the restoring user keeps the file (restores run as root only change owners). */
const NO_OWNER = -1;

/** One file of a batch, as the writer thread needs it. */
export interface FileToWrite {
  /**
   * A name in the file's folder that nothing has; the file is written there, then renamed to `path`, so
   * an existing file is replaced only by a complete one. Undefined when the folder is new: the file is
   * created at `path` itself (still O_EXCL), sparing a rename that costs as much as half a create.
   */
  readonly temp: Buffer | undefined;
  readonly path: Buffer;
  /** Length of the file. */
  readonly size: number;
  readonly mode: number;
  /** Owner to set (restores run as root only); undefined keeps the restoring user. */
  readonly owner: { readonly uid: number; readonly gid: number } | undefined;
  /** Access and modification time, in float seconds. */
  readonly mtime: number;
}

/**
 * Collects files and their sealed chunks into PackedFiles: a file (`add`), then its chunks (`chunk`), each
 * a row of `source`, the table of the blobs gathered for the batch (see gatherSealedBlobs).
 */
export class PackedFilesBuilder {
  private readonly files: FileToWrite[] = [];
  /** Each file's chunks as rows of `source`, all files' in order, and where each file's first is. */
  private readonly rows: number[] = [];
  private readonly firstRows: number[] = [];
  private nameBytes = 0;

  constructor(private readonly source: PackedChunks) {}

  get count(): number {
    return this.files.length;
  }

  add(file: FileToWrite): void {
    this.files.push(file);
    this.firstRows.push(this.rows.length);
    this.nameBytes += file.path.length + (file.temp?.length ?? 0);
  }

  /** Adds row `row` of the source table as the next chunk of the file added last. */
  chunk(row: number): void {
    this.rows.push(row);
  }

  build(): PackedFiles {
    const count = this.files.length;
    const names = new Uint8Array(this.nameBytes);
    const nameEnds = new Uint32Array(2 * count);
    const fields = new Float64Array(FILE_FIELDS * count);
    const table = chunkTable(this.rows.length);
    for (let chunk = 0; chunk < this.rows.length; chunk++) copyChunk(this.source, this.rows[chunk] as number, table, chunk);
    let at = 0;
    for (let i = 0; i < count; i++) {
      const file = this.files[i] as FileToWrite;
      names.set(file.path, at);
      at += file.path.length;
      nameEnds[2 * i] = at;
      if (file.temp) {
        names.set(file.temp, at);
        at += file.temp.length;
      }
      nameEnds[2 * i + 1] = at;
      const first = this.firstRows[i] as number;
      const f = FILE_FIELDS * i;
      fields[f + FileField.size] = file.size;
      fields[f + FileField.mode] = file.mode;
      fields[f + FileField.uid] = file.owner?.uid ?? NO_OWNER;
      fields[f + FileField.gid] = file.owner?.gid ?? NO_OWNER;
      fields[f + FileField.mtime] = file.mtime;
      fields[f + FileField.firstChunk] = first;
      fields[f + FileField.chunkCount] = (i + 1 < count ? (this.firstRows[i + 1] as number) : this.rows.length) - first;
    }
    return { count, names, nameEnds, fields, chunks: table.chunks, ids: table.ids };
  }
}

/** File `index` of a batch; its names are views of the batch's `names`. */
export function packedFile(files: PackedFiles, index: number): FileToWrite {
  const start = index === 0 ? 0 : (files.nameEnds[2 * index - 1] as number);
  const pathEnd = files.nameEnds[2 * index] as number;
  const tempEnd = files.nameEnds[2 * index + 1] as number;
  const names = Buffer.from(files.names.buffer, files.names.byteOffset, files.names.byteLength);
  const f = FILE_FIELDS * index;
  const uid = files.fields[f + FileField.uid] as number;
  return {
    path: names.subarray(start, pathEnd),
    temp: tempEnd > pathEnd ? names.subarray(pathEnd, tempEnd) : undefined,
    size: files.fields[f + FileField.size] as number,
    mode: files.fields[f + FileField.mode] as number,
    owner: uid === NO_OWNER ? undefined : { uid, gid: files.fields[f + FileField.gid] as number },
    mtime: files.fields[f + FileField.mtime] as number,
  };
}

/** Where file `index`'s chunks are among the batch's chunks: the first, and how many. */
export function packedChunks(files: PackedFiles, index: number): { first: number; count: number } {
  const f = FILE_FIELDS * index;
  return { first: files.fields[f + FileField.firstChunk] as number, count: files.fields[f + FileField.chunkCount] as number };
}
