import type { Repository } from '../repository/repository.js';
import { ENTRY_NAME_OFFSET, type LocatedEntries } from '../snapshot/canonicalTree.js';
import { decodeLocatedForReuse, sameNode, type TreeNode } from '../snapshot/tree.js';
import type { TreeLoader } from '../snapshot/treeLoader.js';

/** A folder of the parent snapshot: its entries by name. */
export interface ParentDir {
  get(name: Buffer): TreeNode | undefined;
  /**
   * Whether `entries` (in name order) are this folder's, field for field: a folder unchanged since the
   * parent snapshot keeps that tree's id, without being encoded and hashed again.
   */
  sameEntries(entries: readonly TreeNode[]): boolean;
  /**
   * Where its entries lie in the tree's bytes, when the tree is in encodeTree's layout: a backup takes
   * the entries it finds unchanged as they are (see BackupRun.reusedEntries). Each entry is then read
   * only when asked for.
   */
  readonly located?: LocatedEntries;
}

/**
 * The parent snapshot's folders, loaded on demand as the backup walks the
 * same paths, so an unchanged file can take its chunk list from there.
 */
export class ParentTrees {
  constructor(
    private readonly repository: Repository,
    private readonly trees: TreeLoader,
  ) {}

  /** The folder whose tree is `id`; undefined without one, or when the repository no longer has it. */
  async dir(id: Buffer | undefined): Promise<ParentDir | undefined> {
    if (!id || !this.repository.hasBlob(id)) return undefined;
    const tree = await this.trees.loadLocated(id);
    if (!tree.located) return byName(tree.nodes());
    return new LocatedDir(tree.located, tree.nodes);
  }
}

function byName(nodes: readonly TreeNode[]): ParentDir {
  const map = new Map(nodes.map((node) => [node.name.toString('latin1'), node]));
  return {
    get: (name) => map.get(name.toString('latin1')),
    sameEntries: (entries) => entries.length === nodes.length && entries.every((node, i) => sameNode(node, nodes[i] as TreeNode)),
  };
}

/** A parent folder whose entries are read one by one as they are asked for (by a binary search on their names). */
class LocatedDir implements ParentDir {
  private readonly read: (TreeNode | undefined)[];
  private whole: ParentDir | undefined;

  constructor(
    readonly located: LocatedEntries,
    private readonly all: () => TreeNode[],
  ) {
    this.read = new Array<TreeNode | undefined>(located.count);
  }

  sameEntries(entries: readonly TreeNode[]): boolean {
    if (this.whole) return this.whole.sameEntries(entries);
    if (entries.length !== this.located.count) return false;
    for (let j = 0; j < entries.length; j += 1) {
      const node = entries[j] as TreeNode;
      // Most often the entry is the parent's own node, taken unchanged.
      if (node === this.read[j]) continue;
      const before = this.entry(j);
      if (before === undefined || !sameNode(node, before)) return false;
    }
    return true;
  }

  get(name: Buffer): TreeNode | undefined {
    if (this.whole) return this.whole.get(name);
    const { bytes, starts, nameEnds } = this.located;
    let low = 0;
    let high = this.located.count - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const order = name.compare(bytes, (starts[middle] as number) + ENTRY_NAME_OFFSET, nameEnds[middle]);
      if (order === 0) return this.entry(middle);
      if (order < 0) high = middle - 1;
      else low = middle + 1;
    }
    return undefined;
  }

  private entry(j: number): TreeNode | undefined {
    const node = (this.read[j] ??= decodeLocatedForReuse(this.located, j));
    // An entry not in the layout: the whole tree is read the general way, which says what is wrong with it.
    return node ?? this.wholeDir().get(this.located.bytes.subarray((this.located.starts[j] as number) + ENTRY_NAME_OFFSET, this.located.nameEnds[j]));
  }

  private wholeDir(): ParentDir {
    this.whole ??= byName(this.all());
    return this.whole;
  }
}
