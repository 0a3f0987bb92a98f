import { computeBlobId } from '../crypto/blobId.js';
import { compressBlob } from '../repository/blobCodec.js';
import type { Repository } from '../repository/repository.js';
import type { NodeType, TreeNode, TreeXattr } from '../snapshot/tree.js';
import type { BlobSaver } from '../archiver/blobSaver.js';
import type { EntryStat } from '../archiver/entryStat.js';
import { readXattrs, type Xattr } from './xattrs.js';

/**
 * Values up to this size stay in the tree: ACLs, capabilities, SELinux labels and tags are tens of
 * bytes. Larger ones (macOS resource forks, big user attributes) become data blobs.
 */
export const INLINE_XATTR_BYTES = 2048;

/**
 * Gives a backup's entries their extended attributes in tree form: a large value is stored as a data
 * blob (deduplicated, compressed and encrypted like file content) and named by its id. Saving starts
 * at once; `settled` waits for every save, and fails as the first failed one did.
 */
export class XattrStore {
  private readonly saving: Promise<void>[] = [];

  constructor(
    private readonly repository: Repository,
    private readonly saver: BlobSaver,
    /** False: keep none (`--no-xattrs`). */
    private readonly enabled: boolean,
    /** The parent snapshot recorded attributes (see Snapshot's `xattrs`). */
    private readonly parentHasXattrs: boolean,
  ) {}

  /** Whether a folder's entries need their attributes read with its listing: it is not in a parent snapshot that recorded them. */
  readWithListing(inParent: boolean): boolean {
    return this.enabled && !(inParent && this.parentHasXattrs);
  }

  /**
   * The attributes of the entry at `path`, as the lister read them (folders the parent snapshot does
   * not have), else as the parent snapshot recorded them if the entry's change time has not moved
   * (setting or removing an attribute or an ACL moves it), else read now. So a backup after few
   * changes makes no attribute call for the entries that did not change. Throws XattrError.
   */
  forEntry(path: Buffer, type: NodeType, stat: EntryStat, before: TreeNode | undefined): TreeXattr[] | undefined {
    if (!this.enabled) return undefined;
    if (stat.xattrsRead) return stat.xattrs && this.treeForm(stat.xattrs);
    if (this.parentHasXattrs && before?.type === type && before.ctimeNs === stat.ctimeNs && this.stored(before.xattrs)) return before.xattrs && [...before.xattrs];
    const xattrs = readXattrs(path);
    return xattrs && this.treeForm(xattrs);
  }

  treeForm(xattrs: readonly Xattr[]): TreeXattr[] {
    return xattrs.map(({ name, value }) => {
      if (value.byteLength <= INLINE_XATTR_BYTES) return { name, value };
      const blob = computeBlobId(this.repository.blobIdKey, value);
      // The same value at every backup: compressed only the first time.
      if (this.repository.hasBlob(blob)) return { name, blob };
      const saving = this.saver.saveChunk(blob, compressBlob(value, this.repository.config.compression.level), value.byteLength);
      // Awaited in `settled`; marked handled now so a failure before then is not an unhandled rejection.
      saving.catch(() => undefined);
      this.saving.push(saving);
      return { name, blob };
    });
  }

  /** Every value stored as a blob is still in the repository (as a file's chunks must be, to be reused). */
  private stored(xattrs: readonly TreeXattr[] | undefined): boolean {
    return xattrs === undefined || xattrs.every((xattr) => xattr.blob === undefined || this.repository.hasBlob(xattr.blob));
  }

  async settled(): Promise<void> {
    await Promise.all(this.saving.splice(0));
  }
}

/** The values of a tree's attributes, loading (and verifying) those stored as blobs. */
export async function xattrValues(repository: Repository, xattrs: readonly TreeXattr[]): Promise<Xattr[]> {
  return Promise.all(xattrs.map(async ({ name, value, blob }) => ({ name, value: value ?? (await repository.loadBlob(blob as Buffer)) })));
}
