import { dirname, resolve } from 'node:path';

/**
 * The paths a file watcher saw change since the parent snapshot. A folder must
 * be read again when a change lies in it or below it; every other folder can
 * be taken whole from the parent snapshot.
 */
export class ChangedPaths {
  private readonly rescan = new Set<string>();

  constructor(paths: readonly string[]) {
    for (const path of paths) {
      let current = resolve(path);
      for (;;) {
        if (this.rescan.has(current)) break;
        this.rescan.add(current);
        const up = dirname(current);
        if (up === current) break;
        current = up;
      }
    }
  }

  /** True when the folder at `path` (raw bytes) may differ from the parent snapshot. */
  mustRescan(path: Buffer): boolean {
    const text = path.toString();
    // A name that is not valid UTF-8 cannot be matched against the watcher's strings: read it to be safe.
    return text.includes('\uFFFD') || this.rescan.has(text);
  }
}
