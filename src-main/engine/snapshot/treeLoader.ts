import type { BlobLocation } from '../repository/memoryIndex.js';
import { FormatViolation } from '../repository/packFormat.js';
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

interface Window {
  readonly pack: string;
  readonly start: number;
  readonly end: number;
  /** Undefined when the read failed: its trees are then read one at a time, which names the failure. */
  readonly bytes: Promise<Buffer | undefined>;
}

/**
 * Reads the trees of a walk through snapshots (backup's parent, restore,
 * check, prune, ls) a pack window at a time. Every tree is still
 * authenticated and checked against its id on its own; a tree the window
 * cannot give (a failed read, a damaged copy) is read alone through
 * `Repository.loadBlob`, which tries the other targets of a replicated
 * repository and reports what is wrong.
 */
export class TreeLoader {
  /** Least recently used first. */
  private readonly windows: Window[] = [];

  constructor(
    private readonly repository: Repository,
    private readonly windowBytes = TREE_WINDOW,
  ) {}

  async load(id: Buffer): Promise<TreeNode[]> {
    return decodeTreeBlob(id, await this.loadPlaintext(id));
  }

  private async loadPlaintext(id: Buffer): Promise<Buffer> {
    const location = this.repository.index.get(id);
    if (location) {
      const window = this.windowFor(location);
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

  private windowFor(location: BlobLocation): Window {
    const end = location.offset + location.length;
    const at = this.windows.findIndex((w) => w.pack === location.pack && w.start <= location.offset && end <= w.end);
    if (at >= 0) {
      const [hit] = this.windows.splice(at, 1) as [Window];
      this.windows.push(hit);
      return hit;
    }
    const packSize = Math.max(end, this.repository.index.packSize(location.pack) ?? end);
    const start = Math.max(0, end - this.windowBytes);
    const windowEnd = Math.min(packSize, start + this.windowBytes);
    const window: Window = {
      pack: location.pack,
      start,
      end: windowEnd,
      bytes: this.repository.backend.read({ type: 'data', name: location.pack }, { offset: start, length: windowEnd - start }).catch(() => undefined),
    };
    this.windows.push(window);
    if (this.windows.length > WINDOWS_KEPT) this.windows.shift();
    return window;
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
