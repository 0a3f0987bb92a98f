import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { openCacheDatabase } from '../cacheDatabase.js';
import { repositoryCacheDir } from '../cacheDir.js';
import type { Repository } from '../repository/repository.js';
import { listSnapshotIds, loadSnapshot, type Snapshot } from '../snapshot/snapshot.js';
import type { NodeType, TreeNode } from '../snapshot/tree.js';
import { TreeLoader } from '../snapshot/treeLoader.js';
import { walkTree } from '../snapshot/walkTree.js';

export interface VersionInfo {
  readonly type: NodeType;
  readonly size: number;
  readonly mtime: string;
  /** Identifies the content: a hash of the chunk ids (files), the tree id (folders), the target (links). */
  readonly content: string;
  /** Snapshots holding exactly this version, oldest first. */
  readonly snapshots: readonly { id: string; time: string }[];
  /**
   * It differs from the version before it (as versions are listed, oldest first) only in its attributes:
   * the same content, size and modification time, with another mode, owner, extended attributes, ACL or
   * file flags. Absent otherwise.
   */
  readonly attributesOnly?: boolean;
}

export interface FindMatch {
  readonly path: string;
  readonly snapshots: readonly { id: string; time: string }[];
}

export interface SyncResult {
  readonly added: number;
  readonly removed: number;
  /** Folders whose entries were copied from the parent snapshot's instead of being read from the repository. */
  readonly foldersReused: number;
}

export interface DiffEntry {
  readonly path: string;
  readonly change: 'added' | 'removed' | 'modified';
  readonly sizeBefore?: number;
  readonly sizeAfter?: number;
  /** Modified: only its attributes changed (mode, owner, extended attributes, ACL, file flags), not its content. */
  readonly attributesOnly?: boolean;
}

/** Numbered schema migrations; the database's user_version says how many have run. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE snapshots (key INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, time TEXT NOT NULL, host TEXT NOT NULL, record TEXT NOT NULL);
   CREATE TABLE paths (id INTEGER PRIMARY KEY, path BLOB NOT NULL UNIQUE);
   CREATE TABLE versions (
     id INTEGER PRIMARY KEY, path_id INTEGER NOT NULL, type TEXT NOT NULL, size INTEGER NOT NULL,
     mtime_ns TEXT NOT NULL, content TEXT NOT NULL, UNIQUE (path_id, type, size, mtime_ns, content));
   CREATE TABLE entries (snapshot INTEGER NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (snapshot, version)) WITHOUT ROWID;
   CREATE INDEX entries_by_version ON entries (version);`,
  // The tree id of every folder of a snapshot: the next snapshot's sync reuses the entries below a folder whose tree is unchanged.
  `CREATE TABLE subtrees (snapshot INTEGER NOT NULL, path_id INTEGER NOT NULL, tree BLOB NOT NULL, PRIMARY KEY (snapshot, path_id)) WITHOUT ROWID;`,
  // Versions' keys now cover a file's mode, owner and file flags (see contentKey): the catalogue is
  // emptied, and the next sync rebuilds it from the repository with the new keys.
  `DELETE FROM entries; DELETE FROM subtrees; DELETE FROM versions; DELETE FROM paths; DELETE FROM snapshots;`,
];

const SLASH = Buffer.from('/');
const AFTER_SLASH = Buffer.from('0');

/** Walked rows written to the temporary table per transaction. */
const WALK_BATCH = 10_000;

/**
 * The local catalogue (better-sqlite3, in the repository's cache folder):
 * every path of every snapshot, each distinct version stored once, so
 * "every version of this file", search and diff answer from an index in
 * milliseconds instead of decrypting trees. It is rebuildable at any time
 * from the repository, which stays the only source of truth.
 */
export class Catalogue {
  private readonly db: Database.Database;

  constructor(folder: string) {
    this.db = openCacheDatabase(folder, 'catalogue.sqlite', MIGRATIONS);
  }

  /** Opens the repository's catalogue (in its cache folder), brings it up to date, runs `work`, closes it. */
  static async withSynced<T>(repository: Repository, work: (catalogue: Catalogue) => Promise<T> | T): Promise<T> {
    const catalogue = new Catalogue(repositoryCacheDir(repository.config.id));
    try {
      await catalogue.sync(repository);
      return await work(catalogue);
    } finally {
      catalogue.close();
    }
  }

  /** Deletes the catalogue's file; the next `sync` rebuilds it from the repository. */
  static reset(folder: string): void {
    for (const suffix of ['', '-wal', '-shm']) rmSync(join(folder, `catalogue.sqlite${suffix}`), { force: true });
  }

  /**
   * Adds snapshots the catalogue does not have yet and drops those no longer in the repository; returns how
   * many were added and removed, and how many folders were taken over unread from an earlier snapshot.
   */
  async sync(repository: Repository): Promise<SyncResult> {
    const inRepository = new Set(await listSnapshotIds(repository));
    const known = new Set((this.db.prepare('SELECT id FROM snapshots').all() as { id: string }[]).map((r) => r.id));
    const gone = [...known].filter((id) => !inRepository.has(id));
    let removed = 0;
    if (gone.length > 0) {
      const drop = this.db.transaction((ids: string[]) => {
        let dropped = 0;
        for (const id of ids) {
          // Another process syncing the same catalogue may have dropped it already.
          const row = this.db.prepare('SELECT key FROM snapshots WHERE id = ?').get(id) as { key: number } | undefined;
          if (!row) continue;
          dropped += 1;
          const key = row.key;
          this.db.prepare('DELETE FROM entries WHERE snapshot = ?').run(key);
          this.db.prepare('DELETE FROM subtrees WHERE snapshot = ?').run(key);
          this.db.prepare('DELETE FROM snapshots WHERE key = ?').run(key);
        }
        this.db.exec('DELETE FROM versions WHERE id NOT IN (SELECT version FROM entries)');
        this.db.exec('DELETE FROM paths WHERE id NOT IN (SELECT path_id FROM versions)');
        return dropped;
      });
      // IMMEDIATE: the drop reads before it writes, and SQLite does not wait for a write lock a reader
      // asks for (two could deadlock), so while another process wrote to the catalogue it failed at once.
      removed = drop.immediate(gone);
    }
    const fresh = [...inRepository].filter((id) => !known.has(id));
    // Another process may have saved snapshots since this one read the index; their index files were
    // written before them, so reading the index again now covers every snapshot just listed.
    if (fresh.length > 0) await repository.reloadIndex();
    // Oldest first, so a snapshot's parent is catalogued before it and its unchanged folders can be reused.
    const snapshots = (await Promise.all(fresh.map((id) => loadSnapshot(repository, id)))).sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : a.id < b.id ? -1 : 1));
    let foldersReused = 0;
    let added = 0;
    for (const snapshot of snapshots) {
      const reused = await this.addSnapshot(repository, snapshot);
      if (reused === undefined) continue;
      added += 1;
      foldersReused += reused;
    }
    return { added, removed, foldersReused };
  }

  /**
   * Catalogues one snapshot; returns how many folders it took over from its parent without reading them,
   * or undefined when another process catalogued it meanwhile (the agent and a command can sync one
   * catalogue at once). The transactions that add it are IMMEDIATE and look for it first, under the lock.
   */
  private async addSnapshot(repository: Repository, snapshot: Snapshot): Promise<number | undefined> {
    // A snapshot with the same root tree as one already catalogued (a backup with no change) holds
    // exactly the same versions: copy its entries instead of walking every tree again.
    const twin = this.db.prepare("SELECT key FROM snapshots WHERE json_extract(record, '$.tree') = ? LIMIT 1").get(snapshot.tree) as { key: number } | undefined;
    if (twin) {
      return this.db
        .transaction(() => {
          if (this.isCatalogued(snapshot.id)) return undefined;
          const key = this.insertSnapshot(snapshot);
          this.db.prepare('INSERT INTO entries (snapshot, version) SELECT ?, version FROM entries WHERE snapshot = ?').run(key, twin.key);
          this.db.prepare('INSERT INTO subtrees (snapshot, path_id, tree) SELECT ?, path_id, tree FROM subtrees WHERE snapshot = ?').run(key, twin.key);
          return 0;
        })
        .immediate();
    }
    // A folder whose tree id is the one it had at the same path in the parent holds the same entries
    // below it (the id covers every name, time and content under it), so they are copied, not read:
    // after a backup that changed a few files only the folders on the way to them are decrypted.
    const parent = snapshot.parent ? (this.db.prepare('SELECT key FROM snapshots WHERE id = ?').get(snapshot.parent) as { key: number } | undefined) : undefined;
    const parentTrees = new Map<string, string>();
    if (parent) {
      const rows = this.db.prepare('SELECT p.path, s.tree FROM subtrees s JOIN paths p ON p.id = s.path_id WHERE s.snapshot = ?').raw().iterate(parent.key) as IterableIterator<[Buffer, Buffer]>;
      for (const [path, tree] of rows) parentTrees.set(path.toString('latin1'), tree.toString('latin1'));
    }
    // The walk's rows go to temporary tables in batches as the trees are read, and then into the
    // catalogue with a few set-based statements in one transaction: holding a snapshot of a million
    // files as objects, with maps of every path and version, took over 1 GB. The temporary tables are
    // this connection's own, so other processes' catalogue writes are held up no longer than before.
    this.db.exec(`CREATE TEMP TABLE IF NOT EXISTS walked (path BLOB NOT NULL, type TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns TEXT NOT NULL, content TEXT NOT NULL, tree BLOB, below_from BLOB, below_to BLOB)`);
    this.db.exec('DELETE FROM temp.walked');
    const insertWalked = this.db.prepare('INSERT INTO temp.walked (path, type, size, mtime_ns, content, tree, below_from, below_to) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    type Row = { path: Buffer; node: TreeNode; reused: boolean };
    const saveBatch = this.db.transaction((batch: readonly Row[]) => {
      for (const { path, node, reused } of batch) {
        // Below a reused folder P lie the paths between "P/" and "P0" ('0' follows '/'), as bytes compare.
        const [from, to] = reused ? [Buffer.concat([path, SLASH]), Buffer.concat([path, AFTER_SLASH])] : [null, null];
        insertWalked.run(path, node.type, node.size, node.mtimeNs.toString(), contentKey(node), node.subtree ?? null, from, to);
      }
    });
    let batch: Row[] = [];
    let reusedCount = 0;
    const reusable = (path: Buffer, node: TreeNode) => node.subtree !== undefined && parentTrees.get(path.toString('latin1')) === node.subtree.toString('latin1');
    for await (const { path, node } of walkTree(new TreeLoader(repository), Buffer.from(snapshot.tree, 'hex'), Buffer.alloc(0), (path, node) => !reusable(path, node))) {
      const reused = node.type === 'dir' && reusable(path, node);
      if (reused) reusedCount += 1;
      batch.push({ path, node, reused });
      if (batch.length < WALK_BATCH) continue;
      saveBatch(batch);
      batch = [];
    }
    saveBatch(batch);
    const added = this.db
      .transaction(() => {
        if (this.isCatalogued(snapshot.id)) return false;
        const key = this.insertSnapshot(snapshot);
        this.db.exec('INSERT OR IGNORE INTO paths (path) SELECT path FROM temp.walked');
        this.db.exec(
          `INSERT OR IGNORE INTO versions (path_id, type, size, mtime_ns, content)
           SELECT p.id, w.type, w.size, w.mtime_ns, w.content FROM temp.walked w JOIN paths p ON p.path = w.path`,
        );
        this.db
          .prepare(
            `INSERT OR IGNORE INTO entries (snapshot, version)
             SELECT ?, v.id FROM temp.walked w JOIN paths p ON p.path = w.path
             JOIN versions v ON v.path_id = p.id AND v.type = w.type AND v.size = w.size AND v.mtime_ns = w.mtime_ns AND v.content = w.content`,
          )
          .run(key);
        this.db.prepare('INSERT INTO subtrees (snapshot, path_id, tree) SELECT ?, p.id, w.tree FROM temp.walked w JOIN paths p ON p.path = w.path WHERE w.tree IS NOT NULL').run(key);
        if (reusedCount === 0 || !parent) return true;
        // CROSS JOIN keeps the reused folders as the outer loop, each a range scan of the paths index.
        const below = 'temp.walked w CROSS JOIN paths p ON p.path > w.below_from AND p.path < w.below_to';
        this.db
          .prepare(
            `INSERT OR IGNORE INTO entries (snapshot, version)
             SELECT ?, e.version FROM ${below} CROSS JOIN versions v ON v.path_id = p.id
             CROSS JOIN entries e ON e.snapshot = ? AND e.version = v.id WHERE w.below_from IS NOT NULL`,
          )
          .run(key, parent.key);
        this.db
          .prepare(`INSERT OR IGNORE INTO subtrees (snapshot, path_id, tree) SELECT ?, s.path_id, s.tree FROM ${below} CROSS JOIN subtrees s ON s.snapshot = ? AND s.path_id = p.id WHERE w.below_from IS NOT NULL`)
          .run(key, parent.key);
        return true;
      })
      .immediate();
    this.db.exec('DELETE FROM temp.walked');
    return added ? reusedCount : undefined;
  }

  private isCatalogued(id: string): boolean {
    return this.db.prepare('SELECT 1 FROM snapshots WHERE id = ?').get(id) !== undefined;
  }

  private insertSnapshot(snapshot: Snapshot): number {
    const { lastInsertRowid } = this.db.prepare('INSERT INTO snapshots (id, time, host, record) VALUES (?, ?, ?, ?)').run(snapshot.id, snapshot.time, snapshot.host, JSON.stringify(snapshot));
    return Number(lastInsertRowid);
  }

  /** Every distinct version of one path, oldest first. */
  versions(path: string): VersionInfo[] {
    const rows = this.db
      .prepare(
        `SELECT v.id, v.type, v.size, v.mtime_ns, v.content, s.id AS snapshot, s.time
         FROM paths p JOIN versions v ON v.path_id = p.id JOIN entries e ON e.version = v.id JOIN snapshots s ON s.key = e.snapshot
         WHERE p.path = ? ORDER BY s.time, s.id`,
      )
      .all(Buffer.from(normalise(path))) as { id: number; type: NodeType; size: number; mtime_ns: string; content: string; snapshot: string; time: string }[];
    const byVersion = new Map<number, { type: NodeType; size: number; mtime: string; content: string; snapshots: { id: string; time: string }[] }>();
    for (const row of rows) {
      const version = byVersion.get(row.id) ?? { type: row.type, size: row.size, mtime: nsToIso(row.mtime_ns), content: row.content, snapshots: [] };
      version.snapshots.push({ id: row.snapshot, time: row.time });
      byVersion.set(row.id, version);
    }
    const versions = [...byVersion.values()];
    return versions.map((version, i) => {
      const before = versions[i - 1];
      const attributesOnly =
        before !== undefined && before.type === version.type && before.size === version.size && before.mtime === version.mtime && withoutAttributes(before.content) === withoutAttributes(version.content);
      return attributesOnly ? { ...version, attributesOnly } : version;
    });
  }

  /** Paths matching a glob (`*`, `?`, `[…]`): on the whole path if the pattern has a "/", else on the last name. */
  find(pattern: string): FindMatch[] {
    const glob = pattern.includes('/') ? pattern : `*/${pattern}`;
    const rows = this.db
      .prepare(
        // CROSS JOIN fixes the order: filter the (few hundred thousand) paths first, then follow indexes; left to
        // itself the planner may start from the entries table, which has a row per path per snapshot.
        `SELECT p.path, s.id, s.time FROM paths p CROSS JOIN versions v ON v.path_id = p.id CROSS JOIN entries e ON e.version = v.id CROSS JOIN snapshots s ON s.key = e.snapshot
         WHERE CAST(p.path AS TEXT) GLOB ? ORDER BY p.path, s.time, s.id`,
      )
      .all(glob) as { path: Buffer; id: string; time: string }[];
    const byPath = new Map<string, { id: string; time: string }[]>();
    for (const row of rows) {
      const path = row.path.toString();
      const list = byPath.get(path) ?? [];
      if (!list.some((s) => s.id === row.id)) list.push({ id: row.id, time: row.time });
      byPath.set(path, list);
    }
    return [...byPath].map(([path, snapshots]) => ({ path, snapshots }));
  }

  /** What changed from snapshot `before` to `after`: added, removed and modified paths (folders count as modified only if their own metadata changed). */
  diff(before: string, after: string): DiffEntry[] {
    const keyOf = (id: string) => (this.db.prepare('SELECT key FROM snapshots WHERE id = ?').get(id) as { key: number } | undefined)?.key;
    const [a, b] = [keyOf(before), keyOf(after)];
    if (a === undefined || b === undefined) throw new Error('snapshot not in the catalogue');
    // Only versions that differ matter: EXCEPT merges the two snapshots' (sorted) version lists, and
    // the paths are looked up for those alone, so unchanged paths cost a merge step each, nothing more.
    const onlyIn = this.db.prepare(
      `SELECT v.path_id, p.path, v.type, v.size, v.content FROM (SELECT version FROM entries WHERE snapshot = ? EXCEPT SELECT version FROM entries WHERE snapshot = ?) d
       JOIN versions v ON v.id = d.version JOIN paths p ON p.id = v.path_id`,
    );
    type Row = { path_id: number; path: Buffer; type: string; size: number; content: string };
    const gone = new Map((onlyIn.all(a, b) as Row[]).map((row) => [row.path_id, row]));
    const came = new Map((onlyIn.all(b, a) as Row[]).map((row) => [row.path_id, row]));
    const out: DiffEntry[] = [];
    for (const [pathId, before] of gone) {
      const after = came.get(pathId);
      if (!after) out.push({ path: before.path.toString(), change: 'removed', sizeBefore: before.size });
      else {
        const attributesOnly = before.type === after.type && withoutAttributes(before.content) === withoutAttributes(after.content) && before.content !== after.content;
        // A folder whose tree changed only because something inside it changed is not itself a change.
        if (before.type === 'dir' && after.type === 'dir' && !attributesOnly) continue;
        out.push({ path: before.path.toString(), change: 'modified', sizeBefore: before.size, sizeAfter: after.size, ...(attributesOnly ? { attributesOnly } : {}) });
      }
    }
    for (const [pathId, after] of came) if (!gone.has(pathId)) out.push({ path: after.path.toString(), change: 'added', sizeAfter: after.size });
    return out.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
  }

  close(): void {
    this.db.close();
  }
}

/**
 * What makes two versions of a path the same: its content (a hash of a file's chunk ids, a link's
 * target; a folder's entries are not its own content, see diff), then after ATTRIBUTES_MARK a hash of
 * its attributes (mode, owner, extended attributes, file flags), so that versions differing only in
 * those can be told as such (withoutAttributes).
 */
function contentKey(node: TreeNode): string {
  return ownContentKey(node) + attributesKey(node);
}

function ownContentKey(node: TreeNode): string {
  if (node.type === 'file') {
    const hash = createHash('sha256');
    for (const id of node.content ?? []) hash.update(id);
    return hash.digest('hex').slice(0, 32);
  }
  if (node.type === 'symlink') return `link:${(node.linkTarget ?? Buffer.alloc(0)).toString('hex')}`;
  return node.type;
}

const ATTRIBUTES_MARK = '|a:';

function attributesKey(node: TreeNode): string {
  const hash = createHash('sha256');
  hash.update(`${node.mode}:${node.uid}:${node.gid}\0`);
  for (const { name, value, blob } of node.xattrs ?? []) {
    hash.update(`${name}\0${value ? 'v' : 'b'}${(value ?? blob ?? Buffer.alloc(0)).length}\0`);
    hash.update(value ?? blob ?? Buffer.alloc(0));
  }
  if (node.flags) hash.update(`\0flags:${node.flags.system}:${node.flags.value}`);
  return `${ATTRIBUTES_MARK}${hash.digest('hex').slice(0, 32)}`;
}

function withoutAttributes(key: string): string {
  const at = key.indexOf(ATTRIBUTES_MARK);
  return at < 0 ? key : key.slice(0, at);
}

function normalise(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
}

function nsToIso(ns: string): string {
  return new Date(Number(BigInt(ns) / 1_000_000n)).toISOString();
}
