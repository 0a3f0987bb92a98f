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
    private readonly rootId: string,
    private readonly trees: TreeLoader,
  ) {}

  root(): Promise<ParentDir | undefined> {
    return this.load(Buffer.from(this.rootId, 'hex'));
  }

  children(node: TreeNode): Promise<ParentDir | undefined> {
    return node.type === 'dir' && node.subtree ? this.load(node.subtree) : Promise.resolve(undefined);
  }

  private async load(id: Buffer): Promise<ParentDir | undefined> {
    if (!this.repository.hasBlob(id)) return undefined;
    const nodes = await this.trees.load(id);
    const byName = new Map(nodes.map((node) => [node.name.toString('latin1'), node]));
    return { nodes, get: (name) => byName.get(name.toString('latin1')) };
  }
}
