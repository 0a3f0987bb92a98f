import type { Repository } from '../repository/repository.js';
import type { TreeNode } from '../snapshot/tree.js';
import type { TreeLoader } from '../snapshot/treeLoader.js';

/** A folder of the parent snapshot: its entries in tree order, and by name. */
export interface ParentDir {
  readonly nodes: readonly TreeNode[];
  get(name: Buffer): TreeNode | undefined;
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
    const nodes = await this.trees.loadForReuse(id);
    const byName = new Map(nodes.map((node) => [node.name.toString('latin1'), node]));
    return { nodes, get: (name) => byName.get(name.toString('latin1')) };
  }
}
