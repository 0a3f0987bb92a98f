import Database from 'better-sqlite3';
import { openCacheDatabase } from '../cacheDatabase.js';
import { BLOB_ID_LENGTH } from '../crypto/blobId.js';
import { decodeFolderRecord, encodeFolderRecord, type FolderRecord } from './folderRecord.js';

/** What the file looked like when its content was last read, and the chunks it had. */
export interface CachedFile {
  readonly size: number;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
  readonly inode: bigint;
  readonly content: readonly Buffer[];
}

/** Numbered schema migrations; the database's user_version says how many have run. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE files (
     path BLOB PRIMARY KEY,
     size INTEGER NOT NULL,
     mtime_ns TEXT NOT NULL,
     ctime_ns TEXT NOT NULL,
     inode TEXT NOT NULL,
     content BLOB NOT NULL
   ) WITHOUT ROWID`,
  // One row per folder instead of one per file: see FilesCache. What the old table held is dropped (one
  // slower backup, never data).
  `DROP TABLE files;
   CREATE TABLE folders (
     path BLOB PRIMARY KEY,
     files BLOB NOT NULL
   ) WITHOUT ROWID`,
  // What each folder's listing and tree were at the last backup (FolderRecord).
  `CREATE TABLE trees (
     path BLOB PRIMARY KEY,
     record BLOB NOT NULL
   ) WITHOUT ROWID`,
];

/** SQLite's page cache for the files cache, in KiB (see the constructor). */
const FILES_CACHE_PAGES_KIB = 2048;

/** Folder rows gathered before they are written in one transaction. */
const ROWS_PER_COMMIT = 64;

/**
 * The files cache of one repository (better-sqlite3, in the user's cache
 * folder): for each folder, its files' size, mtime, ctime, inode and chunk
 * ids at their last read. A file whose stat still matches is not read again.
 * The cache is only a shortcut: deleting it costs one slower backup, never
 * data.
 *
 * A row holds a whole folder. With a row per file, a first backup of a
 * 78,579-file source tree spent 1.7 s of the main thread's CPU writing them
 * (and 3.2 s of its time, waiting on the write-ahead log), and looking them
 * up cost ~10 µs each; now it is one row per folder (5,095 there).
 */
export class FilesCache {
  private readonly db: Database.Database;
  private readonly lookupStatement: Database.Statement<[Buffer], { files: Buffer }>;
  private readonly upsertStatement: Database.Statement<[Buffer, Buffer]>;
  private readonly recordStatement: Database.Statement<[Buffer], { record: Buffer }>;
  private readonly upsertRecordStatement: Database.Statement<[Buffer, Buffer]>;
  private readonly beginStatement: Database.Statement<[]>;
  private readonly endStatement: Database.Statement<[]>;
  private pending: [Buffer, Buffer][] = [];
  private pendingRecords: [Buffer, Buffer][] = [];
  /** Lookups run inside a read transaction, begun with the first of them and ended before a write (see lookup). */
  private reading = false;

  /** `readOnly`: what a backup learns is not recorded (a dry run: its reads stand for no snapshot). */
  constructor(
    folder: string,
    private readonly options: { readonly readOnly?: boolean } = {},
  ) {
    this.db = openCacheDatabase(folder, 'files.sqlite', MIGRATIONS);
    // better-sqlite3 builds SQLite with a 16 MB page cache per connection (SQLITE_DEFAULT_CACHE_SIZE); a
    // backup reads each folder's rows once and writes them in the walk's order, so pages are seldom used
    // twice. SQLite held 14.5 MB of them at the peak of a first backup of the gcc tree (heaptrack); with 2
    // MiB its peak RSS was 3-8 MB lower into tmpfs, 10-15 MB onto ext4 (alternating rounds; small-change
    // backups 2-6 MB), no slower.
    this.db.pragma(`cache_size = ${-FILES_CACHE_PAGES_KIB}`);
    this.lookupStatement = this.db.prepare('SELECT files FROM folders WHERE path = ?');
    this.upsertStatement = this.db.prepare('INSERT OR REPLACE INTO folders (path, files) VALUES (?, ?)');
    this.recordStatement = this.db.prepare('SELECT record FROM trees WHERE path = ?');
    this.upsertRecordStatement = this.db.prepare('INSERT OR REPLACE INTO trees (path, record) VALUES (?, ?)');
    this.beginStatement = this.db.prepare('BEGIN');
    this.endStatement = this.db.prepare('COMMIT');
  }

  /** What the last backup that saw the folder at `path` recorded of it (see FolderRecord). */
  record(path: Buffer): FolderRecord | undefined {
    return decodeFolderRecord(this.lookup(this.recordStatement, path)?.record);
  }

  /**
   * A row, read inside a transaction that stays open until the next write (commit) or close. A query
   * outside one is a transaction of its own: SQLite takes and drops its lock (two fcntl calls) and
   * checks the file (a stat) each time, and a backup looks up each folder's record, and the files of
   * each changed folder. The linux tree's cache (5,096 folders), every record read in the walk's order:
   * 9.5-12.4 µs each alone, 3.0-3.1 µs in one transaction; folders' files rows 19.4-21.7 -> 14.7-15.0 µs.
   * Another process may write meanwhile (write-ahead log): these reads then see the cache as it was when
   * the transaction began, which the cache, a shortcut, can afford.
   */
  private lookup<Row>(statement: Database.Statement<[Buffer], Row>, path: Buffer): Row | undefined {
    if (!this.reading) {
      this.beginStatement.run();
      this.reading = true;
    }
    return statement.get(path);
  }

  /** Ends the read transaction, if one is open: before a write, and at close. */
  private endReading(): void {
    if (!this.reading) return;
    this.reading = false;
    this.endStatement.run();
  }

  saveRecord(path: Buffer, record: FolderRecord): void {
    if (this.options.readOnly) return;
    this.pendingRecords.push([path, encodeFolderRecord(record)]);
    if (this.pendingRecords.length >= ROWS_PER_COMMIT) this.commit();
  }

  /** The files of the folder at `path` as remembered; its row is read only if a file is asked for. */
  folder(path: Buffer): CachedFolder {
    return new CachedFolder(path, () => this.lookup(this.lookupStatement, path)?.files);
  }

  /**
   * Records what a backup learnt about a folder's files (nothing to write if it read none). `listed`:
   * the names the folder has now, when the backup saw all of them; files remembered under other names
   * are forgotten, so a folder's row does not keep every name it ever had.
   */
  save(folder: CachedFolder, listed?: ReadonlySet<string>): void {
    if (!folder.changed || this.options.readOnly) return;
    this.pending.push([folder.path, folder.encode(listed)]);
    if (this.pending.length >= ROWS_PER_COMMIT) this.commit();
  }

  commit(): void {
    const batch = this.pending;
    const records = this.pendingRecords;
    this.pending = [];
    this.pendingRecords = [];
    if (batch.length === 0 && records.length === 0) return;
    this.endReading();
    this.db.transaction(() => {
      for (const [path, files] of batch) this.upsertStatement.run(path, files);
      for (const [path, record] of records) this.upsertRecordStatement.run(path, record);
    })();
  }

  close(): void {
    this.commit();
    this.endReading();
    this.db.close();
  }
}

/**
 * One folder's remembered files, by name (latin1: one character per byte), and what this backup changed.
 * The row is read as where each file's record lies in it: a file is decoded when asked for, and the row
 * written back copies the records of the files this backup did not change. Decoding every file of a
 * folder with one changed file (an object, three bigints and a copy of each chunk id), then encoding them
 * all again, was ~7% of the main thread of a small-change backup of the linux tree (perf); 4 alternating
 * rounds: 2.27-2.34 -> 2.21-2.30 s.
 */
export class CachedFolder {
  private remembered: RowIndex | undefined;
  private readonly changes = new Map<string, CachedFile | undefined>();

  constructor(
    readonly path: Buffer,
    private readonly load: () => Buffer | undefined,
  ) {}

  get(name: Buffer): CachedFile | undefined {
    const key = name.toString('latin1');
    if (this.changes.has(key)) return this.changes.get(key);
    const { row, starts } = this.loaded();
    const start = starts.get(key);
    return start === undefined ? undefined : fileAt(row, start);
  }

  /** Remembers a file as read (or forgets it, with undefined). */
  set(name: Buffer, file: CachedFile | undefined): void {
    this.changes.set(name.toString('latin1'), file);
  }

  get changed(): boolean {
    return this.changes.size > 0;
  }

  /** The folder's row: what was remembered (of the names still `listed`, if given), with this backup's changes. */
  encode(listed?: ReadonlySet<string>): Buffer {
    const { row, starts } = this.loaded();
    const kept: [number, number][] = [];
    for (const [name, start] of starts) if (!this.changes.has(name) && (!listed || listed.has(name))) kept.push([start, start + recordLength(row, start)]);
    const changed = [...this.changes].filter((change): change is [string, CachedFile] => change[1] !== undefined);
    let length = 4;
    for (const [start, end] of kept) length += end - start;
    for (const [name, file] of changed) length += RECORD_FIXED + name.length + file.content.length * BLOB_ID_LENGTH;
    const out = Buffer.allocUnsafe(length);
    let at = out.writeUInt32LE(kept.length + changed.length, 0);
    for (const [start, end] of kept) at += row.copy(out, at, start, end);
    for (const [name, file] of changed) at = writeFile(out, at, name, file);
    return out;
  }

  private loaded(): RowIndex {
    this.remembered ??= indexRow(this.load());
    return this.remembered;
  }
}

/** A folder's row and where each file's record starts in it, by name. */
interface RowIndex {
  readonly row: Buffer;
  readonly starts: Map<string, number>;
}

const EMPTY_ROW: RowIndex = { row: Buffer.alloc(0), starts: new Map() };

/** Fixed part of a file's record: name length (u16), size (f64), mtime and ctime (i64 ns), inode (u64), chunk count (u32). */
const RECORD_FIXED = 2 + 8 + 8 + 8 + 8 + 4;

function writeFile(out: Buffer, at: number, name: string, file: CachedFile): number {
  at = out.writeUInt16LE(name.length, at);
  at += out.write(name, at, 'latin1');
  at = out.writeDoubleLE(file.size, at);
  at = out.writeBigInt64LE(file.mtimeNs, at);
  at = out.writeBigInt64LE(file.ctimeNs, at);
  at = out.writeBigUInt64LE(file.inode, at);
  at = out.writeUInt32LE(file.content.length, at);
  for (const id of file.content) at += id.copy(out, at);
  return at;
}

/** The length of the file's record at `start` (its fixed part, name and chunk ids). */
function recordLength(row: Buffer, start: number): number {
  const nameLength = row.readUInt16LE(start);
  return RECORD_FIXED + nameLength + row.readUInt32LE(start + nameLength + RECORD_FIXED - 4) * BLOB_ID_LENGTH;
}

/** Where each record of a row starts; a row that does not parse is taken as empty (the cache is only a shortcut). */
function indexRow(row: Buffer | undefined): RowIndex {
  if (!row || row.length < 4) return EMPTY_ROW;
  const starts = new Map<string, number>();
  let at = 4;
  for (let count = row.readUInt32LE(0); count > 0; count--) {
    if (at + RECORD_FIXED > row.length) return EMPTY_ROW;
    const nameLength = row.readUInt16LE(at);
    if (at + RECORD_FIXED + nameLength > row.length) return EMPTY_ROW;
    const end = at + recordLength(row, at);
    if (end > row.length) return EMPTY_ROW;
    starts.set(row.toString('latin1', at + 2, at + 2 + nameLength), at);
    at = end;
  }
  return { row, starts };
}

/** The file whose record starts at `start` of a row that indexRow accepted. */
function fileAt(row: Buffer, start: number): CachedFile {
  const at = start + 2 + row.readUInt16LE(start);
  const ids = at + RECORD_FIXED - 2;
  const chunks = row.readUInt32LE(at + 32);
  const content: Buffer[] = [];
  for (let i = 0; i < chunks; i++) content.push(Buffer.from(row.subarray(ids + i * BLOB_ID_LENGTH, ids + (i + 1) * BLOB_ID_LENGTH)));
  return { size: row.readDoubleLE(at), mtimeNs: row.readBigInt64LE(at + 8), ctimeNs: row.readBigInt64LE(at + 16), inode: row.readBigUInt64LE(at + 24), content };
}
