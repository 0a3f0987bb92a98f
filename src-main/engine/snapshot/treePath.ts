import { loadTree } from './treeLoader.js';
import type { Repository } from '../repository/repository.js';
import { RepositoryError } from '../repository/repositoryError.js';
import type { Snapshot } from './snapshot.js';
import type { TreeNode } from './tree.js';

/** What a path inside a snapshot names: a folder (its tree id) or a single entry. */
export type PathTarget = { readonly kind: 'dir'; readonly tree: Buffer; readonly node?: TreeNode } | { readonly kind: 'entry'; readonly node: TreeNode };

/** Splits "snapshot:path" references: the path part is absolute inside the snapshot, "/" when absent. */
export function splitReference(reference: string): { snapshot: string; path: string } {
  const colon = reference.indexOf(':');
  if (colon < 0) return { snapshot: reference, path: '/' };
  const path = reference.slice(colon + 1);
  return { snapshot: reference.slice(0, colon), path: path.startsWith('/') ? path : `/${path}` };
}

/** Walks from the snapshot's root tree to `path` ("/home/ann/docs"). */
export async function findPath(repository: Repository, snapshot: Snapshot, path: string): Promise<PathTarget> {
  const segments = path.split('/').filter((s) => s !== '' && s !== '.');
  let tree: Buffer = Buffer.from(snapshot.tree, 'hex');
  let node: TreeNode | undefined;
  for (const [i, segment] of segments.entries()) {
    const name = Buffer.from(segment);
    node = (await loadTree(repository, tree)).find((n) => n.name.equals(name));
    if (!node) throw new RepositoryError('E_PATH_NOT_FOUND', `Snapshot ${snapshot.id.slice(0, 8)} has no ${'/' + segments.slice(0, i + 1).join('/')}.`);
    if (node.type !== 'dir') {
      if (i === segments.length - 1) return { kind: 'entry', node };
      throw new RepositoryError('E_PATH_NOT_FOUND', `In snapshot ${snapshot.id.slice(0, 8)}, ${'/' + segments.slice(0, i + 1).join('/')} is not a folder.`);
    }
    tree = node.subtree as Buffer;
  }
  return node ? { kind: 'dir', tree, node } : { kind: 'dir', tree };
}
