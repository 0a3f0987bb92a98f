import type { Repository } from './repository.js';

/** A window of a pack read in one go. */
export interface PackWindow {
  readonly start: number;
  readonly end: number;
  /** Undefined when the read failed: the caller then reads what it needs alone, which names the failure. */
  readonly bytes: Promise<Buffer | undefined>;
}

/**
 * Where a window covering [start, end) of a pack of `packSize` bytes begins: before the range for a walk
 * that reads packs backwards (trees are packed after the trees below them), at it for one that reads
 * forwards (file content, packed in the order a backup walked it).
 */
export type WindowPlacement = 'ending-at-range' | 'starting-at-range';

/**
 * The last few windows of packs that a walk read, so that neighbouring blobs asked for one after the
 * other cost one read: a restore of 25,659 small files asked for a range per folder's batch of files,
 * each an open, fstat, read and close through the thread pool (1.9 s of its main thread's 11.7 s
 * profile), where the folders' files lie next to each other in a few packs.
 */
export class PackWindows {
  /** Least recently used first. */
  private readonly windows: (PackWindow & { readonly pack: string })[] = [];

  constructor(
    private readonly repository: Pick<Repository, 'backend' | 'index'>,
    private readonly windowBytes: number,
    private readonly kept: number,
    private readonly placement: WindowPlacement,
  ) {}

  /** A window holding [start, end) of `pack`: one already read, or a new one. */
  cover(pack: string, start: number, end: number): PackWindow {
    const at = this.windows.findIndex((w) => w.pack === pack && w.start <= start && end <= w.end);
    if (at >= 0) {
      const [hit] = this.windows.splice(at, 1) as [PackWindow & { pack: string }];
      this.windows.push(hit);
      return hit;
    }
    const packSize = Math.max(end, this.repository.index.packSize(pack) ?? end);
    const size = Math.max(this.windowBytes, end - start);
    const windowStart = this.placement === 'ending-at-range' ? Math.max(0, end - size) : start;
    const windowEnd = Math.min(packSize, windowStart + size);
    const window = {
      pack,
      start: windowStart,
      end: windowEnd,
      bytes: this.repository.backend.read({ type: 'data', name: pack }, { offset: windowStart, length: windowEnd - windowStart }).catch(() => undefined),
    };
    this.windows.push(window);
    if (this.windows.length > this.kept) this.windows.shift();
    return window;
  }
}
