import Database from 'better-sqlite3';
import { openCacheDatabase } from '../cacheDatabase.js';
import { BLOB_ID_LENGTH } from '../crypto/blobId.js';

/** What the file looked like when its content was last read, and the chunks it had. */
export interface CachedFile {
  readonly size: number;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
  readonly inode: bigint;
  readonly content: readonly Buffer[];
}

interface Row {
  size: number;
  mtime_ns: string;
  ctime_ns: string;
  inode: string;
  content: Buffer;
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
];

/**
 * The files cache of one repository (better-sqlite3, in the user's cache
 * folder): absolute path → size, mtime, ctime, inode and chunk ids at the
 * last read. A file whose stat still matches is not read again. The cache is
 * only a shortcut: deleting it costs one slower backup, never data.
 */
export class FilesCache {
  private readonly db: Database.Database;
  private readonly lookupStatement: Database.Statement<[Buffer], Row>;
  private readonly upsertStatement: Database.Statement<[Buffer, number, string, string, string, Buffer]>;
  private readonly deleteStatement: Database.Statement<[Buffer]>;
  private pending: [Buffer, CachedFile | undefined][] = [];
  /** Rows looked up ahead by `prefetch`, by path (latin1), until `get` takes them. */
  private readonly prefetched = new Map<string, Row | undefined>();

  constructor(folder: string) {
    this.db = openCacheDatabase(folder, 'files.sqlite', MIGRATIONS);
    this.lookupStatement = this.db.prepare('SELECT size, mtime_ns, ctime_ns, inode, content FROM files WHERE path = ?');
    this.upsertStatement = this.db.prepare('INSERT OR REPLACE INTO files (path, size, mtime_ns, ctime_ns, inode, content) VALUES (?, ?, ?, ?, ?, ?)');
    this.deleteStatement = this.db.prepare('DELETE FROM files WHERE path = ?');
  }

  /**
   * Looks up a folder's files in one read transaction, for `get` to take: one at a time, each lookup was a
   * transaction of its own, and 10,000 of them took 45 ms instead of 20.
   */
  prefetch(paths: readonly Buffer[]): void {
    this.db.transaction(() => {
      for (const path of paths) this.prefetched.set(path.toString('latin1'), this.lookupStatement.get(path));
    })();
  }

  get(path: Buffer): CachedFile | undefined {
    const key = path.toString('latin1');
    const row = this.prefetched.has(key) ? this.prefetched.get(key) : this.lookupStatement.get(path);
    this.prefetched.delete(key);
    if (!row || row.content.length % BLOB_ID_LENGTH !== 0) return undefined;
    const content: Buffer[] = [];
    for (let at = 0; at < row.content.length; at += BLOB_ID_LENGTH) content.push(Buffer.from(row.content.subarray(at, at + BLOB_ID_LENGTH)));
    return { size: row.size, mtimeNs: BigInt(row.mtime_ns), ctimeNs: BigInt(row.ctime_ns), inode: BigInt(row.inode), content };
  }

  /** Records a file as read (or forgets it, with undefined); written in batches. */
  set(path: Buffer, file: CachedFile | undefined): void {
    this.pending.push([path, file]);
    if (this.pending.length >= 1000) this.commit();
  }

  commit(): void {
    const batch = this.pending;
    this.pending = [];
    this.db.transaction(() => {
      for (const [path, file] of batch) {
        if (!file) this.deleteStatement.run(path);
        else this.upsertStatement.run(path, file.size, file.mtimeNs.toString(), file.ctimeNs.toString(), file.inode.toString(), Buffer.concat(file.content));
      }
    })();
  }

  close(): void {
    this.prefetched.clear();
    this.commit();
    this.db.close();
  }
}
