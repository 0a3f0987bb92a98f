import type { Repository } from '../repository/repository.js';
import { listSnapshots, type Snapshot } from '../snapshot/snapshot.js';
import type { TreeNode } from '../snapshot/tree.js';
import { TreeLoader } from '../snapshot/treeLoader.js';

/** One file or folder as the mount shows it. */
export interface ViewEntry {
  readonly name: Buffer;
  readonly kind: 'dir' | 'file';
  /** Files: their size in bytes; folders: 0. */
  readonly size: number;
  readonly mtimeMs: number;
  /** Entries of a snapshot: their permission bits, owner and group, as saved. */
  readonly node?: TreeNode;
}

export type Resolved =
  | { readonly kind: 'dir'; readonly self: ViewEntry; list(): Promise<ViewEntry[]> }
  | { readonly kind: 'file'; readonly self: ViewEntry; readonly node: TreeNode };

/** New snapshots show up within this long: the list is read again when older. */
const SNAPSHOTS_FRESH_MS = 10_000;
/**
 * Decoded folders kept, counted in entries (a decoded entry is some hundreds of bytes): about 50 MB at
 * most. A folder is listed and then its files read, so its tree is wanted again at once; a mount
 * walking a snapshot moves on and the old folders leave.
 */
const TREE_ENTRIES_KEPT = 100_000;

const LATEST = Buffer.from('latest');
const BY_HOST = Buffer.from('by-host');
const BY_TAG = Buffer.from('by-tag');

/**
 * The repository as a read-only tree of folders: `/` lists the snapshots by time
 * ("2026-12-05T14-03-22 laptop", local time) beside `latest/`, `by-host/HOST/` and `by-tag/TAG/`; inside
 * a snapshot, its files and folders. Symbolic links, FIFOs, sockets and devices are left out: WebDAV has
 * no such things, and a client following a link would leave the snapshot.
 */
export class SnapshotView {
  private readonly trees: TreeLoader;
  private readonly decoded = new Map<string, Promise<TreeNode[]>>();
  private readonly decodedSizes = new Map<string, number>();
  private decodedEntries = 0;
  private listed: { at: number; snapshots: Promise<NamedSnapshot[]> } | undefined;

  constructor(private readonly repository: Repository) {
    this.trees = new TreeLoader(repository);
  }

  /** What a path (its segments, raw bytes) names, or undefined when nothing is there. */
  async resolve(segments: readonly Buffer[]): Promise<Resolved | undefined> {
    const snapshots = await this.snapshots();
    const newest = snapshots.at(-1)?.snapshot;
    const folder = (name: string, list: () => Promise<ViewEntry[]> | ViewEntry[]): Resolved => ({
      kind: 'dir',
      self: { name: Buffer.from(name), kind: 'dir', size: 0, mtimeMs: newest ? Date.parse(newest.time) : 0 },
      list: async () => list(),
    });
    const [first, second, ...rest] = segments;
    if (!first) {
      return folder('', () => [
        ...[LATEST, BY_HOST, BY_TAG].map((name) => virtualFolder(name, newest)),
        ...snapshots.map((s) => virtualFolder(s.name, s.snapshot)),
      ]);
    }
    if (first.equals(LATEST)) return newest ? this.inSnapshot(newest, LATEST, second ? [second, ...rest] : []) : undefined;
    if (first.equals(BY_HOST) || first.equals(BY_TAG)) {
      const groups = groupBy(snapshots, first.equals(BY_HOST) ? (s) => [s.snapshot.host] : (s) => s.snapshot.tags);
      if (!second) return folder(first.toString(), () => [...groups].map(([name, members]) => virtualFolder(Buffer.from(name), members.at(-1)?.snapshot)));
      const members = groups.get(second.toString('utf8'));
      if (!members || !Buffer.from(second.toString('utf8')).equals(second)) return undefined;
      const [third, ...below] = rest;
      if (!third) return folder(second.toString(), () => members.map((s) => virtualFolder(s.name, s.snapshot)));
      const chosen = members.find((s) => s.name.equals(third));
      return chosen ? this.inSnapshot(chosen.snapshot, chosen.name, below) : undefined;
    }
    const chosen = snapshots.find((s) => s.name.equals(first));
    return chosen ? this.inSnapshot(chosen.snapshot, chosen.name, second ? [second, ...rest] : []) : undefined;
  }

  private async inSnapshot(snapshot: Snapshot, name: Buffer, segments: readonly Buffer[]): Promise<Resolved | undefined> {
    let self: ViewEntry = virtualFolder(name, snapshot);
    let tree: Buffer = Buffer.from(snapshot.tree, 'hex');
    for (const [i, segment] of segments.entries()) {
      const node = findNode(await this.tree(tree), segment);
      if (!node) return undefined;
      if (node.type === 'file' && i === segments.length - 1) return { kind: 'file', self: entryOf(node), node };
      if (node.type !== 'dir' || !node.subtree) return undefined;
      self = entryOf(node);
      tree = node.subtree;
    }
    const folderTree = tree;
    return {
      kind: 'dir',
      self,
      list: async () => (await this.tree(folderTree)).filter((node) => node.type === 'file' || node.type === 'dir').map(entryOf),
    };
  }

  /** The folder name of the snapshot with this id (or unique id prefix); undefined when there is none. */
  async snapshotFolder(id: string): Promise<Buffer | undefined> {
    const find = (list: readonly NamedSnapshot[]) => {
      const matches = list.filter((s) => s.snapshot.id.startsWith(id));
      return matches.length === 1 ? matches[0]?.name : undefined;
    };
    const found = find(await this.snapshots());
    if (found) return found;
    // A snapshot saved since the list was read.
    this.listed = undefined;
    return find(await this.snapshots());
  }

  private tree(id: Buffer): Promise<TreeNode[]> {
    const key = id.toString('hex');
    const hit = this.decoded.get(key);
    if (hit) {
      this.decoded.delete(key);
      this.decoded.set(key, hit);
      return hit;
    }
    const loading = this.trees.load(id);
    this.decoded.set(key, loading);
    loading.then(
      (nodes) => {
        if (this.decoded.get(key) !== loading) return;
        this.decodedSizes.set(key, nodes.length);
        this.decodedEntries += nodes.length;
        // The oldest read go first; the folder just read stays, however large, and so do those loading.
        for (const oldKey of this.decoded.keys()) {
          if (this.decodedEntries <= TREE_ENTRIES_KEPT) break;
          const size = this.decodedSizes.get(oldKey);
          if (oldKey === key || size === undefined) continue;
          this.decoded.delete(oldKey);
          this.decodedSizes.delete(oldKey);
          this.decodedEntries -= size;
        }
      },
      // A failed read is not kept: the next request tries again.
      () => this.decoded.delete(key),
    );
    return loading;
  }

  /** The snapshots, oldest first, each with its folder name; read again (with the index) when older than a few seconds. */
  private snapshots(): Promise<NamedSnapshot[]> {
    if (!this.listed || Date.now() - this.listed.at > SNAPSHOTS_FRESH_MS) {
      const snapshots = (async () => {
        // A backup since the last look added chunks its snapshot needs: the index must know them too.
        await this.repository.reloadIndex();
        return nameSnapshots(await listSnapshots(this.repository));
      })();
      this.listed = { at: Date.now(), snapshots };
      snapshots.catch(() => (this.listed = undefined));
    }
    return this.listed.snapshots;
  }
}

interface NamedSnapshot {
  readonly name: Buffer;
  readonly snapshot: Snapshot;
}

/** "2026-12-05T14-03-22 laptop" in local time (no colons: Windows refuses them in names); the id added when two would share a name. */
function nameSnapshots(snapshots: readonly Snapshot[]): NamedSnapshot[] {
  const plain = snapshots.map((s) => `${localTime(new Date(s.time))} ${safeName(s.host)}`);
  const counts = new Map<string, number>();
  for (const name of plain) counts.set(name, (counts.get(name) ?? 0) + 1);
  return snapshots.map((snapshot, i) => {
    const name = plain[i] as string;
    return { snapshot, name: Buffer.from((counts.get(name) ?? 0) > 1 ? `${name} ${snapshot.id.slice(0, 8)}` : name) };
  });
}

function localTime(date: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())}T${two(date.getHours())}-${two(date.getMinutes())}-${two(date.getSeconds())}`;
}

/** A host name or tag as a folder name: no slash, no control character, never empty, "." or "..". */
function safeName(text: string): string {
  const cleaned = text.replace(/[\x00-\x1f\x7f/\\]/g, '_');
  return cleaned === '' || cleaned === '.' || cleaned === '..' ? `_${cleaned}` : cleaned;
}

function groupBy(snapshots: readonly NamedSnapshot[], keys: (s: NamedSnapshot) => readonly string[]): Map<string, NamedSnapshot[]> {
  const groups = new Map<string, NamedSnapshot[]>();
  for (const s of snapshots) {
    for (const key of keys(s)) {
      const name = safeName(key);
      groups.set(name, [...(groups.get(name) ?? []), s]);
    }
  }
  return new Map([...groups].sort(([a], [b]) => a.localeCompare(b)));
}

function virtualFolder(name: Buffer, snapshot: Snapshot | undefined): ViewEntry {
  return { name, kind: 'dir', size: 0, mtimeMs: snapshot ? Date.parse(snapshot.time) : 0 };
}

function entryOf(node: TreeNode): ViewEntry {
  return { name: node.name, kind: node.type === 'dir' ? 'dir' : 'file', size: node.type === 'file' ? node.size : 0, mtimeMs: Number(node.mtimeNs / 1_000_000n), node };
}

/** A tree's entries are sorted by name bytes (encodeTree): a binary search finds one. */
function findNode(nodes: readonly TreeNode[], name: Buffer): TreeNode | undefined {
  let low = 0;
  let high = nodes.length - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const node = nodes[middle] as TreeNode;
    const order = Buffer.compare(node.name, name);
    if (order === 0) return node;
    if (order < 0) low = middle + 1;
    else high = middle - 1;
  }
  return undefined;
}
