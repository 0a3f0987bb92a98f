import type { Repository } from '../repository/repository.js';
import { FormatViolation } from '../repository/packFormat.js';
import { damaged } from '../repository/repositoryError.js';
import { decodeTree, type TreeNode } from '../snapshot/tree.js';

/** A folder of the parent snapshot, by entry name. */
export interface ParentDir {
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
  ) {}

  root(): Promise<ParentDir | undefined> {
    return this.load(Buffer.from(this.rootId, 'hex'));
  }

  children(node: TreeNode): Promise<ParentDir | undefined> {
    return node.type === 'dir' && node.subtree ? this.load(node.subtree) : Promise.resolve(undefined);
  }

  private async load(id: Buffer): Promise<ParentDir | undefined> {
    if (!this.repository.hasBlob(id)) return undefined;
    const nodes = await loadTree(this.repository, id);
    const byName = new Map(nodes.map((node) => [node.name.toString('latin1'), node]));
    return { get: (name) => byName.get(name.toString('latin1')) };
  }
}

/** Loads and parses one tree blob; a malformed tree is reported as damage. */
export async function loadTree(repository: Repository, id: Buffer): Promise<TreeNode[]> {
  const plaintext = await repository.loadBlob(id);
  try {
    return decodeTree(plaintext);
  } catch (err) {
    if (err instanceof FormatViolation) throw damaged(`Tree ${id.toString('hex').slice(0, 16)}`, err.message, err);
    throw err;
  }
}
