import { lstat, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { AgentEvent, JobRecord } from '../../src-shared/api.js';
import type { HindsightClient, SnapshotItem } from '../../src-shared/client.js';
import { HindsightError } from '../../src-shared/errors.js';

export class DragRestoreFailed extends HindsightError {}

interface Prepared {
  readonly dir: string;
  readonly file: string;
  readonly at: number;
}

/**
 * Drag-to-restore's files: `prepare` restores an item of a snapshot into a
 * fresh folder under `root` and remembers where it landed; a drag may only
 * hand the OS a file prepared this way (the renderer names an item, never a
 * path). Folders older than `maxAgeMs` are removed by `sweep` (on a timer:
 * the drop target copied them long ago) and all of them by `clear` at quit;
 * `sweep` also removes folders a previous run left behind.
 */
export class DragRestorer {
  private readonly prepared = new Map<string, Prepared>();
  /** Folders a restore is writing into right now; a sweep leaves them alone. */
  private readonly restoring = new Set<string>();

  constructor(
    private readonly agent: Pick<HindsightClient, 'call' | 'onEvent'>,
    private readonly root: string,
    private readonly options: { readonly maxAgeMs: number; readonly now: () => number } = { maxAgeMs: 30 * 60_000, now: Date.now },
  ) {}

  /** Restores `item` (resolving when it is on disk) and returns the restored file's path. */
  async prepare(item: SnapshotItem): Promise<string> {
    const known = this.prepared.get(key(item));
    if (known) return known.file;
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    // Restoring a file puts it in the target folder; restoring a folder puts its contents there.
    // Either way the dragged item is to be `<dir>/<its name>`, so the target depends on its type.
    const name = posix.basename(item.path);
    const entry = name === '' ? undefined : (await this.agent.call('snapshots.browse', { repository: item.repository, snapshot: item.snapshot, path: posix.dirname(item.path) })).find((e) => e.name === name);
    if (!entry) throw new DragRestoreFailed('E_DRAG_RESTORE', `${item.path} is not a file or folder in snapshot ${item.snapshot.slice(0, 8)}.`);
    const dir = await mkdtemp(join(this.root, 'drag-'));
    try {
      const file = join(dir, name);
      const job = await this.restore(item, entry.type === 'dir' ? file : dir);
      if (job.result !== 'succeeded') throw new DragRestoreFailed('E_DRAG_RESTORE', `Could not restore ${item.path} for dragging: ${job.message ?? job.result}.`);
      await lstat(file);
      this.prepared.set(key(item), { dir, file, at: this.options.now() });
      return file;
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** The prepared file for `item`, or undefined: nothing else can be dragged. */
  fileFor(item: SnapshotItem): string | undefined {
    return this.prepared.get(key(item))?.file;
  }

  async sweep(): Promise<void> {
    const cutoff = this.options.now() - this.options.maxAgeMs;
    for (const [k, entry] of this.prepared) {
      if (entry.at > cutoff) continue;
      this.prepared.delete(k);
      await rm(entry.dir, { recursive: true, force: true });
    }
    const live = new Set([...this.prepared.values()].map((p) => p.dir));
    const present = await readdir(this.root).catch(() => [] as string[]);
    for (const name of present) {
      const dir = join(this.root, name);
      if (name.startsWith('drag-') && !live.has(dir) && !this.restoring.has(dir)) await rm(dir, { recursive: true, force: true });
    }
  }

  async clear(): Promise<void> {
    this.prepared.clear();
    await rm(this.root, { recursive: true, force: true });
  }

  private async restore(item: SnapshotItem, target: string): Promise<JobRecord> {
    // Listening before the call: a small restore can finish before its job record comes back.
    const finished = new Map<string, JobRecord>();
    let waiting: { id: string; resolve: (job: JobRecord) => void } | undefined;
    const stop = this.agent.onEvent((event: AgentEvent) => {
      if (event.type !== 'job.finished') return;
      finished.set(event.job.id, event.job);
      if (waiting?.id === event.job.id) waiting.resolve(event.job);
    });
    this.restoring.add(target);
    try {
      const job = await this.agent.call('jobs.restore', { repository: item.repository, snapshot: item.snapshot, paths: [item.path], target, overwrite: 'always' });
      return await (finished.get(job.id) ?? new Promise<JobRecord>((resolve) => (waiting = { id: job.id, resolve })));
    } finally {
      stop();
      this.restoring.delete(target);
    }
  }
}

function key(item: SnapshotItem): string {
  return JSON.stringify([item.repository, item.snapshot, item.path]);
}
