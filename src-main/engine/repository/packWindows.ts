import type { Repository } from './repository.js';

/** A window of a pack read in one go. */
export interface PackWindow {
  readonly start: number;
  readonly end: number;
  /** Undefined when the read failed: the caller then reads what it needs alone, which names the failure. */
  readonly bytes: Promise<Buffer | undefined>;
}

/**
 * The windows of packs that a walk through trees read last, so that neighbouring trees asked for one after
 * the other cost one read. Windows tile each pack (a window starts at a multiple of its size), so a walk
 * that comes back to a part of a pack it read finds that part held rather than reading it again in a
 * window that overlaps the first.
 */
export class PackWindows {
  /** Least recently used first. */
  private readonly windows: (PackWindow & { readonly pack: string })[] = [];

  constructor(
    private readonly repository: Pick<Repository, 'backend' | 'index'>,
    private readonly windowBytes: number,
    private readonly kept: number,
  ) {}

  /** A window holding [start, end) of `pack`: one already read, or a new one. */
  cover(pack: string, start: number, end: number): PackWindow {
    // From the most recently used: a walk mostly asks for the window it used last.
    const at = this.windows.findLastIndex((w) => w.pack === pack && w.start <= start && end <= w.end);
    if (at >= 0) {
      const [hit] = this.windows.splice(at, 1) as [PackWindow & { pack: string }];
      this.windows.push(hit);
      return hit;
    }
    const packSize = Math.max(end, this.repository.index.packSize(pack) ?? end);
    const windowStart = start - (start % this.windowBytes);
    // A range that crosses the tile's end (or is larger than a tile) gets a window to its end.
    const windowEnd = Math.min(packSize, Math.max(end, windowStart + this.windowBytes));
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
