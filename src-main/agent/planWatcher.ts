import { resolve, sep } from 'node:path';
import type { Plan } from '../../src-shared/plan.js';
import { ExcludeRules } from '../engine/archiver/excludes.js';
import type { Clock } from './clock.js';
import { FolderWatcher } from './folderWatcher.js';

export interface WatchCallbacks {
  /** The debounced batch of changed paths (absolute). */
  onChanges(paths: string[]): void;
  /** The watcher cannot go on (inotify limits, a vanished source): the plan falls back to periodic scans. */
  onFallback(reason: string): void;
}

/**
 * Watches a continuous plan's sources and reports changes in batches: a batch
 * goes out once nothing has changed for `debounceSeconds`, and at the latest
 * `maxWaitSeconds` after its first change, so a file that changes all the
 * time still gets backed up.
 */
export class PlanWatcher {
  private watchers: FolderWatcher[] = [];
  private readonly pending = new Set<string>();
  private firstChangeAt: number | undefined;
  private cancelTimer: (() => void) | undefined;
  private readonly sources: string[];
  private readonly rules: ExcludeRules;

  constructor(
    private readonly plan: Plan,
    private readonly clock: Clock,
    private readonly callbacks: WatchCallbacks,
  ) {
    this.sources = plan.sources.map((s) => resolve(s));
    this.rules = new ExcludeRules({ patterns: plan.excludes });
  }

  /** Resolves once the initial scan is done and changes are being seen. */
  async start(): Promise<void> {
    try {
      for (const source of this.sources) {
        const watcher = new FolderWatcher(source, {
          isExcluded: (path, isDirectory) => this.isExcluded(path, isDirectory),
          onChange: (path) => this.changed(path),
          onError: (err) => void this.fail(err),
        });
        this.watchers.push(watcher);
        await watcher.start();
      }
    } catch (err) {
      await this.close();
      throw isLimit(err) ? new Error(LIMIT_REACHED, { cause: err }) : err;
    }
  }

  async close(): Promise<void> {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    for (const watcher of this.watchers) watcher.close();
    this.watchers = [];
  }

  private isExcluded(path: string, isDirectory: boolean): boolean {
    const root = this.sources.find((source) => path === source || path.startsWith(source.endsWith(sep) ? source : source + sep));
    if (root === undefined || path === root) return false;
    const relative = path.slice(root.length).replace(/^[/\\]+/, '').split(sep).join('/');
    return this.rules.matchPath(relative, path, isDirectory).excluded;
  }

  private changed(path: string): void {
    this.pending.add(path);
    const now = this.clock.now();
    this.firstChangeAt ??= now;
    const schedule = this.plan.schedule.kind === 'continuous' ? this.plan.schedule : { debounceSeconds: 60, maxWaitSeconds: 600 };
    const wait = Math.min(schedule.debounceSeconds * 1000, this.firstChangeAt + schedule.maxWaitSeconds * 1000 - now);
    this.cancelTimer?.();
    this.cancelTimer = this.clock.setTimer(() => this.flush(), Math.max(0, wait));
  }

  private flush(): void {
    this.cancelTimer = undefined;
    this.firstChangeAt = undefined;
    if (this.pending.size === 0) return;
    const paths = [...this.pending];
    this.pending.clear();
    this.callbacks.onChanges(paths);
  }

  private async fail(err: NodeJS.ErrnoException): Promise<void> {
    if (this.watchers.length === 0) return;
    await this.close();
    this.callbacks.onFallback(`${describe(err)}; scanning periodically instead`);
  }
}

const LIMIT_REACHED = 'the system limit on watched folders was reached (raise fs.inotify.max_user_watches)';

function isLimit(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOSPC' || code === 'EMFILE';
}

function describe(err: NodeJS.ErrnoException): string {
  return isLimit(err) ? LIMIT_REACHED : `watching stopped (${err.message})`;
}
