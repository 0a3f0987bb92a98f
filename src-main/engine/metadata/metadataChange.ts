import { sameFlags, sameXattrs, type TreeNode } from '../snapshot/tree.js';

/**
 * Whether a file's change time moved only because its metadata did: the same size, modification
 * time and inode as in the parent snapshot, and its mode, owner, link count, extended attributes
 * (an ACL, a tag, a capability) or file flags (chattr, chflags) differ from what the parent recorded. Such a file keeps its recorded
 * content without being read again. A change time that moved with nothing to show for it still
 * means a read: that is how content rewritten under a restored modification time is caught.
 */
export function onlyMetadataChanged(now: TreeNode, before: TreeNode | undefined): boolean {
  if (before?.type !== 'file' || before.inode === undefined || now.ctimeNs === before.ctimeNs) return false;
  if (now.size !== before.size || now.mtimeNs !== before.mtimeNs || now.inode !== before.inode) return false;
  return now.mode !== before.mode || now.uid !== before.uid || now.gid !== before.gid || now.links !== before.links || !sameXattrs(now.xattrs, before.xattrs) || !sameFlags(now.flags, before.flags);
}
