import { watch, type FSWatcher } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { basename, dirname, join, sep } from 'node:path';

export interface FolderWatchOptions {
  /** True for an entry below the root that is neither reported nor, for a folder, watched. */
  isExcluded(path: string, isDirectory: boolean): boolean;
  /** A path below the root (or the root) that was created, changed, renamed or deleted. */
  onChange(path: string): void;
  /** Watching cannot go on (inotify limits, …). */
  onError(err: NodeJS.ErrnoException): void;
}

/** Node's recursive fs.watch is one native watch of a whole tree on these; on Linux it is one per file. */
const NATIVE_RECURSIVE = process.platform === 'darwin' || process.platform === 'win32';

/**
 * Watches a tree by its folders, not its files: a folder's watch reports
 * every change to the entries in it, so a tree of 78,579 files in 5,096
 * folders takes 5,096 inotify watches on Linux, where chokidar 5 (and Node's
 * own recursive fs.watch on Linux) watch each file and keep its fs.Stats
 * (about 380 MB resident for that tree). macOS and Windows watch the whole
 * tree natively. A root that is a file is watched through its folder, so an
 * editor replacing it by a rename is still seen.
 */
export class FolderWatcher {
  private readonly folders = new Map<string, FSWatcher>();
  private closed = false;

  constructor(
    private readonly root: string,
    private readonly options: FolderWatchOptions,
  ) {}

  /** Resolves once every folder is watched. */
  async start(): Promise<void> {
    const stat = await lstat(this.root);
    if (!stat.isDirectory()) {
      const folder = dirname(this.root);
      const name = basename(this.root);
      this.watchOne(folder, { recursive: false }, (_event, changed) => {
        if (changed === undefined || changed === name) this.options.onChange(this.root);
      });
    } else if (NATIVE_RECURSIVE) {
      this.watchOne(this.root, { recursive: true }, (_event, changed) => void this.report(changed === undefined ? this.root : join(this.root, changed)));
    } else await this.watchTree(this.root);
  }

  close(): void {
    this.closed = true;
    for (const watcher of this.folders.values()) watcher.close();
    this.folders.clear();
  }

  /** Watches `folder` and every folder below it that is not excluded. */
  private async watchTree(folder: string): Promise<void> {
    const pending = [folder];
    for (let next = pending.pop(); next !== undefined && !this.closed; next = pending.pop()) {
      const current = next;
      if (this.folders.has(current)) continue;
      // Watch before listing, so an entry created in between is reported rather than missed.
      if (!this.watchOne(current, { recursive: false }, (event, changed) => void this.changedIn(current, event, changed))) continue;
      let entries;
      try {
        entries = await readdir(current, { withFileTypes: true });
      } catch (err) {
        // Gone or unreadable: the backup reports what it cannot read; nothing below it to watch.
        if (!isGoneOrDenied(err)) throw err;
        this.unwatchTree(current);
        continue;
      }
      for (const entry of entries) {
        const path = join(current, entry.name);
        if (entry.isDirectory() && !this.options.isExcluded(path, true)) pending.push(path);
      }
    }
  }

  /** Returns false when the folder cannot be watched because it is gone or unreadable. */
  private watchOne(folder: string, how: { recursive: boolean }, listener: (event: string, changed: string | undefined) => void): boolean {
    let watcher: FSWatcher;
    try {
      watcher = watch(folder, { persistent: true, recursive: how.recursive }, (event, name) => listener(event, name ?? undefined));
    } catch (err) {
      if (isGoneOrDenied(err)) return false;
      throw err;
    }
    watcher.on('error', (err: NodeJS.ErrnoException) => {
      // A watched folder that is deleted ends its own watch; its parent reports the deletion.
      if (err.code === 'ENOENT' || err.code === 'EPERM') this.unwatchTree(folder);
      else this.options.onError(err);
    });
    this.folders.set(folder, watcher);
    return true;
  }

  /** An event in a watched folder (Linux): report it, and follow folders that appear or go. */
  private async changedIn(folder: string, event: string, name: string | undefined): Promise<void> {
    if (this.closed) return;
    if (name === undefined) {
      this.options.onChange(folder);
      return;
    }
    const path = join(folder, name);
    // "change" is written data or changed attributes, nearly always a file's, and comes once per write:
    // no lstat for it (a folder's attributes matched as a file's at worst report an excluded folder).
    if (event === 'change') {
      if (!this.options.isExcluded(path, false)) this.options.onChange(path);
      return;
    }
    const isDirectory = await this.report(path);
    try {
      if (isDirectory === true && !this.folders.has(path)) await this.watchTree(path);
      else if (isDirectory === undefined && this.folders.has(path)) this.unwatchTree(path);
    } catch (err) {
      this.options.onError(err as NodeJS.ErrnoException);
    }
  }

  /** Reports `path` unless excluded; resolves with whether it is a folder, undefined when it no longer exists. */
  private async report(path: string): Promise<boolean | undefined> {
    let isDirectory: boolean | undefined;
    try {
      isDirectory = (await lstat(path)).isDirectory();
    } catch {
      isDirectory = undefined;
    }
    if (this.closed) return isDirectory;
    if (path === this.root || !this.options.isExcluded(path, isDirectory ?? false)) this.options.onChange(path);
    return isDirectory;
  }

  private unwatchTree(folder: string): void {
    const below = folder + sep;
    for (const [path, watcher] of this.folders) {
      if (path !== folder && !path.startsWith(below)) continue;
      watcher.close();
      this.folders.delete(path);
    }
  }
}

function isGoneOrDenied(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES' || code === 'EPERM';
}
