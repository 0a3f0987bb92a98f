import { loadBlobs } from '../repository/blobBatch.js';
import type { Repository } from '../repository/repository.js';
import { FormatViolation } from '../repository/packFormat.js';
import { damaged } from '../repository/repositoryError.js';
import { decodeTree, type TreeNode } from '../snapshot/tree.js';

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
  /**
   * Trees read ahead, by hex id: when a folder is loaded, the trees of its subfolders are read at once
   * by pack range, instead of one open and read each as the walk reaches them. Taken out when used.
   */
  private readonly ahead = new Map<string, Buffer>();

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
    const key = id.toString('hex');
    const fetched = this.ahead.get(key);
    this.ahead.delete(key);
    const nodes = fetched ? decodeTreeBlob(id, fetched) : await loadTree(this.repository, id);
    const subtrees = nodes.flatMap((node) => (node.type === 'dir' && node.subtree && this.repository.hasBlob(node.subtree) ? [node.subtree] : []));
    // A tree that fails here is simply not read ahead; loading it later reports the damage.
    if (subtrees.length > 1) for (const [hex, plaintext] of (await loadBlobs(this.repository, subtrees)).loaded) this.ahead.set(hex, plaintext);
    const byName = new Map(nodes.map((node) => [node.name.toString('latin1'), node]));
    return { nodes, get: (name) => byName.get(name.toString('latin1')) };
  }
}

/** Loads and parses one tree blob; a malformed tree is reported as damage. */
export async function loadTree(repository: Repository, id: Buffer): Promise<TreeNode[]> {
  return decodeTreeBlob(id, await repository.loadBlob(id));
}

function decodeTreeBlob(id: Buffer, plaintext: Buffer): TreeNode[] {
  try {
    return decodeTree(plaintext);
  } catch (err) {
    if (err instanceof FormatViolation) throw damaged(`Tree ${id.toString('hex').slice(0, 16)}`, err.message, err);
    throw err;
  }
}
