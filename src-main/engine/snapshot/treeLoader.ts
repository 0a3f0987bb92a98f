import { FormatViolation } from '../repository/packFormat.js';
import { PackWindows } from '../repository/packWindows.js';
import type { Repository } from '../repository/repository.js';
import { damaged } from '../repository/repositoryError.js';
import { locateCanonicalEntries, type LocatedEntries } from './canonicalTree.js';
import { decodeTree, decodeTreeForReuse, type TreeNode } from './tree.js';

/** How much of a pack one read takes in, and how many such windows are kept. */
export interface TreeWindows {
  readonly bytes: number;
  readonly kept: number;
}

/**
 * Over a network each read is a round trip, so a read takes in 2 MiB. A backup packs each folder's tree
 * after the trees below it, so the bytes around a tree hold the trees a walk from it needs next. The
 * bench's 6,000 files have 586 folders in a 488 KB tree pack: a backup read its parent's trees in 171
 * reads (a batch per folder), now in 1. Four windows: a walk goes back and forth between a few packs,
 * since unchanged folders keep trees from older backups.
 */
const REMOTE_WINDOWS: TreeWindows = { bytes: 2 * 1024 * 1024, kept: 4 };
/**
 * On the local disk a read costs what it copies, and 2 MiB windows mostly copied what was never used: a
 * small-change backup (1% of the linux tree's files) into a repository of 23 snapshots needs the trees of
 * the folders that changed, scattered over every backup's packs, and read 511 MB in 279 windows for them
 * (strace), each a new 2 MiB buffer for the collector. With 128 KiB tiles it read 55 MB: 0.2-0.4 s and
 * ~0.4 CPU-s less, peak memory 190-197 -> 176-178 MB; a restore of the whole tree took the same time.
 */
const LOCAL_WINDOWS: TreeWindows = { bytes: 128 * 1024, kept: 16 };

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
    windows: TreeWindows = repository.backend.cheapReads ? LOCAL_WINDOWS : REMOTE_WINDOWS,
  ) {
    this.windows = new PackWindows(repository, windows.bytes, windows.kept);
  }

  async load(id: Buffer): Promise<TreeNode[]> {
    return decodeTreeBlob(id, await this.loadPlaintext(id), decodeTree);
  }

  /**
   * A tree for a backup's walk beside it, whose entries may be written again unchanged into a new tree:
   * located in its bytes when it is in encodeTree's layout (see locateCanonicalEntries), and its nodes
   * (see decodeTreeForReuse), read whole when first asked for.
   */
  async loadLocated(id: Buffer): Promise<{ located: LocatedEntries | undefined; nodes(): TreeNode[] }> {
    const plaintext = await this.loadPlaintext(id);
    let nodes: TreeNode[] | undefined;
    return { located: locateCanonicalEntries(plaintext), nodes: () => (nodes ??= decodeTreeBlob(id, plaintext, decodeTreeForReuse)) };
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
  return decodeTreeBlob(id, await repository.loadBlob(id), decodeTree);
}

function decodeTreeBlob(id: Buffer, plaintext: Buffer, decode: (plaintext: Buffer) => TreeNode[]): TreeNode[] {
  try {
    return decode(plaintext);
  } catch (err) {
    if (err instanceof FormatViolation) throw damaged(`Tree ${id.toString('hex').slice(0, 16)}`, err.message, err);
    throw err;
  }
}
