import type { LocalFile } from './localFileSystem.js';

/** Packs kept open at once, at most. */
const OPEN_PACKS = 16;
/** A pack not read for this long is closed: nothing is held open between an agent's backups. */
const IDLE_MS = 2000;

interface OpenPack {
  readonly opened: Promise<{ readonly file: LocalFile; readonly size: number }>;
  users: number;
  lastUsed: number;
  /** Dropped from the table (evicted, deleted, idle, closed): closed once its last reader is done. */
  dropped: boolean;
}

/**
 * Packs of a local repository kept open between reads. A read of a blob was an open, an fstat, a read
 * and a close, each a round trip through libuv's thread pool; a restore loads each folder's tree that
 * way (5,095 for the linux tree) and a backup its parent's trees where folders changed (981 for the
 * bench's small change there), and the open, fstat and close took ~280 ms of the small change's main
 * thread (V8 profile, AMD EPYC). A pack's name is its random id and its bytes never change once it is
 * in place, so a handle stays right as long as the pack is there: it is dropped when this backend
 * deletes or replaces the pack, after IDLE_MS without a read, and when the backend closes. Another process's
 * prune may delete a pack meanwhile; a read through the open handle then still gets its (authentic)
 * bytes, as a read that began a moment earlier would have.
 */
export class PackReadHandles {
  private readonly packs = new Map<string, OpenPack>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly openFile: (path: string) => Promise<LocalFile>) {}

  /** Runs `read` on the pack at `path`, opened now or kept open from an earlier read; `size` is the pack's. */
  async use<T>(path: string, read: (file: LocalFile, size: number) => Promise<T>): Promise<T> {
    let pack = this.packs.get(path);
    if (pack) {
      // Most recently used last: the first in the table is the one to evict.
      this.packs.delete(path);
      this.packs.set(path, pack);
    } else {
      pack = { opened: this.open(path), users: 0, lastUsed: 0, dropped: false };
      this.packs.set(path, pack);
      this.evict();
    }
    pack.users += 1;
    try {
      let opened;
      try {
        opened = await pack.opened;
      } catch (err) {
        // Not kept: the next read tries again (the pack may be there by then).
        if (this.packs.get(path) === pack) this.packs.delete(path);
        pack.dropped = true;
        throw err;
      }
      return await read(opened.file, opened.size);
    } finally {
      pack.users -= 1;
      pack.lastUsed = Date.now();
      if (pack.dropped) await this.closeIfUnused(pack);
      else this.sweepLater();
    }
  }

  /** Closes the pack's handle (once its reads are done): the pack is deleted or replaced. */
  async forget(path: string): Promise<void> {
    const pack = this.packs.get(path);
    if (!pack) return;
    this.packs.delete(path);
    pack.dropped = true;
    await this.closeIfUnused(pack);
  }

  async closeAll(): Promise<void> {
    clearTimeout(this.sweeper);
    this.sweeper = undefined;
    const packs = [...this.packs.values()];
    this.packs.clear();
    for (const pack of packs) pack.dropped = true;
    await Promise.all(packs.map((pack) => this.closeIfUnused(pack)));
  }

  private async open(path: string): Promise<{ file: LocalFile; size: number }> {
    const file = await this.openFile(path);
    try {
      return { file, size: (await file.stat()).size };
    } catch (err) {
      await file.close().catch(() => undefined);
      throw err;
    }
  }

  private evict(): void {
    for (const [path, pack] of this.packs) {
      if (this.packs.size <= OPEN_PACKS) return;
      this.packs.delete(path);
      pack.dropped = true;
      void this.closeIfUnused(pack);
    }
  }

  private async closeIfUnused(pack: OpenPack): Promise<void> {
    if (pack.users > 0) return;
    // Opened or not, it is nobody's now; a failed open has nothing to close.
    const opened = await pack.opened.catch(() => undefined);
    await opened?.file.close().catch(() => undefined);
  }

  /** Closes, a little later, the packs nobody has read for IDLE_MS. */
  private sweepLater(): void {
    if (this.sweeper) return;
    this.sweeper = setTimeout(() => {
      this.sweeper = undefined;
      const now = Date.now();
      for (const [path, pack] of this.packs) {
        if (pack.users > 0 || now - pack.lastUsed < IDLE_MS) continue;
        this.packs.delete(path);
        pack.dropped = true;
        void this.closeIfUnused(pack);
      }
      if (this.packs.size > 0) this.sweepLater();
    }, IDLE_MS);
    // A command ends when its work does, not when the sweep would have run.
    this.sweeper.unref();
  }
}
