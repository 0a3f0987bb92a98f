import { randomBytes } from 'node:crypto';
import type { MountInfo } from '../../src-shared/api.js';
import { startDavServer, type DavServer } from '../engine/mount/davServer.js';
import type { FolderOpener } from './fileManager.js';
import type { RepositoryPool } from './repositoryPool.js';

/** A mount closes itself after this long without a request (and releases the repository's lock). */
export const MOUNT_IDLE_MS = 15 * 60_000;

interface OpenMount {
  readonly server: Promise<DavServer>;
  readonly password: string;
}

/**
 * The agent's read-only WebDAV servers, one per repository, on a free port of 127.0.0.1, started when a
 * snapshot is opened in the file manager. Each holds a shared lock on its own instance of the repository
 * while it runs (prune waits for it) and closes after `idleMs` without a request, or when the agent stops.
 */
export class SnapshotMounts {
  private readonly mounts = new Map<string, OpenMount>();

  constructor(
    private readonly pool: RepositoryPool,
    private readonly openFolder: FolderOpener,
    private readonly log: (line: string) => void,
    private readonly idleMs = MOUNT_IDLE_MS,
  ) {}

  /** Starts (or reuses) the repository's server and, with `open`, opens the snapshot's folder (or the root) in the file manager. */
  async open(repository: string, snapshot: string | undefined, open: boolean): Promise<MountInfo> {
    const mount = this.mounts.get(repository) ?? this.start(repository);
    const server = await mount.server;
    const url = snapshot ? await server.snapshotUrl(snapshot) : server.url;
    const address = { url, username: server.username, password: mount.password };
    const outcome = open ? await this.openFolder(address) : { opened: false };
    return { ...address, opened: outcome.opened, ...(outcome.message ? { message: outcome.message } : {}), idleMinutes: Math.round(this.idleMs / 60_000) };
  }

  /** Stops the repository's server; false when none ran. */
  async close(repository: string): Promise<boolean> {
    const mount = this.mounts.get(repository);
    if (!mount) return false;
    // Out of the table at once: an open right after this starts a new server rather than find the closing one.
    this.mounts.delete(repository);
    await (await mount.server.catch(() => undefined))?.close();
    return true;
  }

  async closeAll(): Promise<void> {
    for (const repository of [...this.mounts.keys()]) await this.close(repository);
  }

  private start(repository: string): OpenMount {
    const password = randomBytes(18).toString('base64url');
    const server = new Promise<DavServer>((resolve, reject) => {
      const served = this.pool.withRepository(
        repository,
        async (repo) => {
          const started = await startDavServer({ repository: repo, password, idleMs: this.idleMs, log: (line) => this.log(`mount of ${repository}: ${line}`) });
          resolve(started);
          await started.closed;
          // Closed (idle, or asked): out of the table before the lock is released, so no open finds it closed.
          if (this.mounts.get(repository) === mount) this.mounts.delete(repository);
        },
        'shared',
      );
      served.catch(reject).finally(() => {
        if (this.mounts.get(repository) === mount) this.mounts.delete(repository);
      });
    });
    const mount = { server, password };
    this.mounts.set(repository, mount);
    return mount;
  }
}
