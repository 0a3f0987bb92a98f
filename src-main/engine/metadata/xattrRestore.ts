import type { Repository } from '../repository/repository.js';
import type { TreeXattr } from '../snapshot/tree.js';
import { xattrValues } from './xattrStore.js';
import { isUnsupported, writeXattrs, type XattrError } from './xattrs.js';

/**
 * Gives a restored entry its extended attributes (ACLs, capabilities, labels, tags). Called after its
 * owner and mode are set: changing the owner clears `security.capability`, and setting an ACL sets the
 * group bits of the mode from it. Answers the problem to report, one line naming every attribute that
 * could not be set and why, or undefined when all were. Rejects when a value stored as a blob cannot
 * be read (damaged or missing).
 */
export async function restoreXattrs(repository: Repository, path: Buffer, xattrs: readonly TreeXattr[]): Promise<string | undefined> {
  const failures = writeXattrs(path, await xattrValues(repository, xattrs));
  if (failures.length === 0) return undefined;
  return `extended attributes not restored: ${failures.map(({ name, error }) => `${name} (${reason(error)})`).join(', ')}`;
}

function reason(error: XattrError): string {
  if (isUnsupported(error.code)) return 'the file system here does not keep them';
  if (error.code === 'EPERM' || error.code === 'EACCES') return 'not permitted; restore as root to set it';
  return error.message;
}
