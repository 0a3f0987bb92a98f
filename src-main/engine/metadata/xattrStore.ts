import { computeBlobId } from '../crypto/blobId.js';
import { compressBlob } from '../repository/blobCodec.js';
import type { Repository } from '../repository/repository.js';
import type { TreeXattr } from '../snapshot/tree.js';
import type { BlobSaver } from '../archiver/blobSaver.js';
import type { Xattr } from './xattrs.js';

/**
 * Values up to this size stay in the tree: ACLs, capabilities, SELinux labels and tags are tens of
 * bytes. Larger ones (macOS resource forks, big user attributes) become data blobs.
 */
export const INLINE_XATTR_BYTES = 2048;

/**
 * Puts a backup's extended attributes in their tree form: a large value is stored as a data blob
 * (deduplicated, compressed and encrypted like file content) and named by its id. Saving starts at
 * once; `settled` waits for every save, and fails as the first failed one did.
 */
export class XattrStore {
  private readonly saving: Promise<void>[] = [];

  constructor(
    private readonly repository: Repository,
    private readonly saver: BlobSaver,
  ) {}

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

  async settled(): Promise<void> {
    await Promise.all(this.saving.splice(0));
  }
}

/** The values of a tree's attributes, loading (and verifying) those stored as blobs. */
export async function xattrValues(repository: Repository, xattrs: readonly TreeXattr[]): Promise<Xattr[]> {
  return Promise.all(xattrs.map(async ({ name, value, blob }) => ({ name, value: value ?? (await repository.loadBlob(blob as Buffer)) })));
}
