import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadTree } from '../archiver/parentTrees.js';
import { openCacheDatabase } from '../cacheDatabase.js';
import type { Repository } from '../repository/repository.js';
import { listSnapshotIds, loadSnapshot, type Snapshot } from '../snapshot/snapshot.js';
import type { NodeType, TreeNode } from '../snapshot/tree.js';

export interface VersionInfo {
  readonly type: NodeType;
  readonly size: number;
  readonly mtime: string;
  /** Identifies the content: a hash of the chunk ids (files), the tree id (folders), the target (links). */
  readonly content: string;
  /** Snapshots holding exactly this version, oldest first. */
  readonly snapshots: readonly { id: string; time: string }[];
}

export interface FindMatch {
  readonly path: string;
  readonly snapshots: readonly { id: string; time: string }[];
}

export interface DiffEntry {
  readonly path: string;
  readonly change: 'added' | 'removed' | 'modified';
  readonly sizeBefore?: number;
  readonly sizeAfter?: number;
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
];

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

  /** Deletes the catalogue's file; the next `sync` rebuilds it from the repository. */
  static reset(folder: string): void {
    for (const suffix of ['', '-wal', '-shm']) rmSync(join(folder, `catalogue.sqlite${suffix}`), { force: true });
  }

  /** Adds snapshots the catalogue does not have yet and drops those no longer in the repository; returns how many were added. */
  async sync(repository: Repository): Promise<{ added: number; removed: number }> {
    const inRepository = new Set(await listSnapshotIds(repository));
    const known = new Set((this.db.prepare('SELECT id FROM snapshots').all() as { id: string }[]).map((r) => r.id));
    const gone = [...known].filter((id) => !inRepository.has(id));
    if (gone.length > 0) {
      const drop = this.db.transaction((ids: string[]) => {
        for (const id of ids) {
          const key = (this.db.prepare('SELECT key FROM snapshots WHERE id = ?').get(id) as { key: number }).key;
          this.db.prepare('DELETE FROM entries WHERE snapshot = ?').run(key);
          this.db.prepare('DELETE FROM snapshots WHERE key = ?').run(key);
        }
        this.db.exec('DELETE FROM versions WHERE id NOT IN (SELECT version FROM entries)');
        this.db.exec('DELETE FROM paths WHERE id NOT IN (SELECT path_id FROM versions)');
      });
      drop(gone);
    }
    let added = 0;
    for (const id of [...inRepository].filter((id) => !known.has(id)).sort()) {
      await this.addSnapshot(repository, await loadSnapshot(repository, id));
      added += 1;
    }
    return { added, removed: gone.length };
  }

  private async addSnapshot(repository: Repository, snapshot: Snapshot): Promise<void> {
    const rows: [Buffer, TreeNode][] = [];
    const pending: { tree: Buffer; path: Buffer }[] = [{ tree: Buffer.from(snapshot.tree, 'hex'), path: Buffer.alloc(0) }];
    while (pending.length > 0) {
      const { tree, path } = pending.pop() as { tree: Buffer; path: Buffer };
      for (const node of await loadTree(repository, tree)) {
        const full = Buffer.concat([path, SLASH, node.name]);
        rows.push([full, node]);
        if (node.type === 'dir' && node.subtree) pending.push({ tree: node.subtree, path: full });
      }
    }
    const insertPath = this.db.prepare('INSERT OR IGNORE INTO paths (path) VALUES (?)');
    const pathId = this.db.prepare('SELECT id FROM paths WHERE path = ?');
    const insertVersion = this.db.prepare('INSERT OR IGNORE INTO versions (path_id, type, size, mtime_ns, content) VALUES (?, ?, ?, ?, ?)');
    const versionId = this.db.prepare('SELECT id FROM versions WHERE path_id = ? AND type = ? AND size = ? AND mtime_ns = ? AND content = ?');
    const insertEntry = this.db.prepare('INSERT OR IGNORE INTO entries (snapshot, version) VALUES (?, ?)');
    this.db.transaction(() => {
      const { lastInsertRowid } = this.db
        .prepare('INSERT INTO snapshots (id, time, host, record) VALUES (?, ?, ?, ?)')
        .run(snapshot.id, snapshot.time, snapshot.host, JSON.stringify(snapshot));
      for (const [path, node] of rows) {
        insertPath.run(path);
        const pid = (pathId.get(path) as { id: number }).id;
        const version = [pid, node.type, node.size, node.mtimeNs.toString(), contentKey(node)] as const;
        insertVersion.run(...version);
        insertEntry.run(lastInsertRowid, (versionId.get(...version) as { id: number }).id);
      }
    })();
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
    return [...byVersion.values()];
  }

  /** Paths matching a glob (`*`, `?`, `[…]`): on the whole path if the pattern has a "/", else on the last name. */
  find(pattern: string): FindMatch[] {
    const glob = pattern.includes('/') ? pattern : `*/${pattern}`;
    const rows = this.db
      .prepare(
        `SELECT p.path, s.id, s.time FROM paths p JOIN versions v ON v.path_id = p.id JOIN entries e ON e.version = v.id JOIN snapshots s ON s.key = e.snapshot
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
    // Each lookup goes through an index: versions by path_id (the unique key starts with it), entries by (snapshot, version).
    const rows = this.db
      .prepare(
        `SELECT p.path, va.type AS ta, va.size AS sa, vb.type AS tb, vb.size AS sb
         FROM entries ea JOIN versions va ON va.id = ea.version JOIN paths p ON p.id = va.path_id
         LEFT JOIN versions vb ON vb.path_id = va.path_id AND EXISTS (SELECT 1 FROM entries eb WHERE eb.snapshot = :b AND eb.version = vb.id)
         WHERE ea.snapshot = :a AND (vb.id IS NULL OR vb.id <> va.id)
         UNION ALL
         SELECT p.path, NULL, NULL, vb.type, vb.size
         FROM entries eb JOIN versions vb ON vb.id = eb.version JOIN paths p ON p.id = vb.path_id
         WHERE eb.snapshot = :b AND NOT EXISTS (
           SELECT 1 FROM versions va WHERE va.path_id = vb.path_id AND EXISTS (SELECT 1 FROM entries ea WHERE ea.snapshot = :a AND ea.version = va.id))
         ORDER BY 1`,
      )
      .all({ a, b }) as { path: Buffer; ta: string | null; sa: number | null; tb: string | null; sb: number | null }[];
    const out: DiffEntry[] = [];
    for (const row of rows) {
      const path = row.path.toString();
      if (row.tb === null) out.push({ path, change: 'removed', sizeBefore: row.sa ?? 0 });
      else if (row.ta === null) out.push({ path, change: 'added', sizeAfter: row.sb ?? 0 });
      // A folder whose tree changed only because something inside it changed is not itself a change.
      else if (!(row.ta === 'dir' && row.tb === 'dir' && row.sa === row.sb)) out.push({ path, change: 'modified', sizeBefore: row.sa ?? 0, sizeAfter: row.sb ?? 0 });
    }
    return out;
  }

  close(): void {
    this.db.close();
  }
}

const SLASH = Buffer.from('/');

/** What makes two versions of a path the same content. Folders are compared by their own metadata only (see diff). */
function contentKey(node: TreeNode): string {
  if (node.type === 'file') {
    const hash = createHash('sha256');
    for (const id of node.content ?? []) hash.update(id);
    return hash.digest('hex').slice(0, 32);
  }
  if (node.type === 'symlink') return `link:${(node.linkTarget ?? Buffer.alloc(0)).toString('hex')}`;
  if (node.type === 'dir') return `dir:${node.mode}:${node.uid}:${node.gid}`;
  return node.type;
}

function normalise(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
}

function nsToIso(ns: string): string {
  return new Date(Number(BigInt(ns) / 1_000_000n)).toISOString();
}
