import type { TreeNode } from './tree.js';
import type { TreeLoader } from './treeLoader.js';

/**
 * Every entry below a tree, depth first, with its path ("/" separated, relative to `prefix`). A folder is
 * yielded itself and then entered unless `descend` says no.
 */
export async function* walkTree(
  trees: TreeLoader,
  tree: Buffer,
  prefix: Buffer,
  descend: (path: Buffer, node: TreeNode) => boolean = () => true,
): AsyncGenerator<{ path: Buffer; node: TreeNode }> {
  for (const node of await trees.load(tree)) {
    const path = Buffer.concat([prefix, Buffer.from('/'), node.name]);
    yield { path, node };
    if (node.type === 'dir' && node.subtree && descend(path, node)) yield* walkTree(trees, node.subtree, path, descend);
  }
}
