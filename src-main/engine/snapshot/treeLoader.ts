import { FormatViolation } from '../repository/packFormat.js';
import { PackWindows } from '../repository/packWindows.js';
import type { Repository } from '../repository/repository.js';
import { damaged } from '../repository/repositoryError.js';
import { decodeTree, type TreeNode } from './tree.js';

/**
 * How much of a pack one read takes in. A backup packs each folder's tree after the trees below it, so
 * the bytes just before a tree hold the trees a walk from it needs next. The bench's 6,000 files have
 * 586 folders in a 488 KB tree pack: a backup read its parent's trees in 171 reads (a batch per folder),
 * now in 1. On a local disk that saves little time (the reads overlapped the walk); on SFTP or S3 each
 * read is a round trip.
 */
const TREE_WINDOW = 2 * 1024 * 1024;
/** Windows kept: a walk goes back and forth between a few packs, since unchanged folders keep trees from older backups. */
const WINDOWS_KEPT = 4;

/**
 * Reads the trees of a walk through snapshots (backup's parent, restore,
 * check, prune, ls) a pack window at a time. Every tree is still
 * authenticated and checked against its id on its own; a tree the window
 * cannot give (a failed read, a damaged copy) is read alone through
 * `Repository.loadBlob`, which tries the other targets of a replicated
 * repository and reports what is wrong.
 */
export class TreeLoader {
  private readonly windows: PackWindows;

  constructor(
    private readonly repository: Repository,
    windowBytes = TREE_WINDOW,
  ) {
    this.windows = new PackWindows(repository, windowBytes, WINDOWS_KEPT);
  }

  async load(id: Buffer): Promise<TreeNode[]> {
    return decodeTreeBlob(id, await this.loadPlaintext(id));
  }

  private async loadPlaintext(id: Buffer): Promise<Buffer> {
    const location = this.repository.index.get(id);
    if (location) {
      const window = this.windows.cover(location.pack, location.offset, location.offset + location.length);
      const bytes = await window.bytes;
      if (bytes) {
        const from = location.offset - window.start;
        try {
          return this.repository.openBlobAt(location, bytes.subarray(from, from + location.length));
        } catch {
          // Damaged in this copy: loadBlob below reads it again, elsewhere if it can, and says what is wrong.
        }
      }
    }
    return this.repository.loadBlob(id);
  }
}

/** Loads and parses one tree blob on its own; a malformed tree is reported as damage. */
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
