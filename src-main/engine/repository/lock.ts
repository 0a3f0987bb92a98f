import { setTimeout as sleep } from 'node:timers/promises';
import * as v from 'valibot';
import type { Backend } from '../backend/backend.js';
import type { MasterKey } from '../crypto/masterKey.js';
import { formatLocalTime } from '../../../src-shared/units.js';
import { OperationInterrupted } from '../interruption.js';
import { boundedInt, parseJsonObject, timestamp } from './jsonObject.js';
import { RepositoryError } from './repositoryError.js';
import { openObject, sealObject, storageId } from './sealedObject.js';

/**
 * locks/<id>: who is using the repository. Backups take shared locks (many
 * may run at once); prune takes an exclusive one. The holder rewrites its
 * lock every `refreshEveryMs` (the heartbeat); a lock whose heartbeat is
 * older than `staleAfterMs`, or whose process is gone from this host, is stale
 * and neither blocks others nor survives `unlock`.
 */
const LOCK_SCHEMA = v.object({
  hindsight: v.literal('lock'),
  version: v.literal(1),
  exclusive: v.boolean(),
  host: v.string(),
  pid: boundedInt(0, 2 ** 31),
  username: v.string(),
  created: timestamp,
  heartbeat: timestamp,
});

export interface LockInfo {
  readonly id: string;
  readonly exclusive: boolean;
  readonly host: string;
  readonly pid: number;
  readonly username: string;
  readonly created: Date;
  readonly heartbeat: Date;
  readonly stale: boolean;
}

export interface LockTiming {
  /** A lock without a heartbeat for this long is stale (default 30 minutes). */
  readonly staleAfterMs: number;
  /** How often a held lock is rewritten (default 5 minutes). */
  readonly refreshEveryMs: number;
}

export const DEFAULT_LOCK_TIMING: LockTiming = { staleAfterMs: 30 * 60_000, refreshEveryMs: 5 * 60_000 };

/** Another process holds a lock that conflicts with the one asked for; `holder` is that lock. */
export class RepositoryLocked extends RepositoryError {
  constructor(
    readonly holder: LockInfo,
    location: string,
  ) {
    super(
      'E_LOCKED',
      `The repository at ${location} is in use: ${holder.exclusive ? 'an exclusive' : 'a shared'} lock is held by ${holder.username}@${holder.host} (pid ${holder.pid}) since ${holder.created.toISOString()}. ` +
        `If that process is no longer running, run "hindsight unlock" to remove stale locks.`,
    );
  }
}

/** "the shared lock held by alice@laptop (pid 4242, since 2026-05-04 10:02:03)", for a line saying what a wait is for. */
export function describeLockHolder(holder: LockInfo): string {
  return `the ${holder.exclusive ? 'exclusive' : 'shared'} lock held by ${holder.username}@${holder.host} (pid ${holder.pid}, since ${formatLocalTime(holder.created)})`;
}

/** Waiting for a lock another process holds (restic's --retry-lock) instead of failing at once. */
export interface LockWait {
  /** How long to keep trying; the lock error comes once it has passed. */
  readonly waitMs: number;
  /** Told when the wait begins and whenever another holder is in the way. */
  readonly onWait?: (holder: LockInfo) => void;
  /** Ends the wait early with OperationInterrupted. */
  readonly signal?: AbortSignal;
}

/** Tries for the lock again after 1 s, then ever less often, up to this: a long wait on S3 lists locks a few times a minute, not every second. */
const LONGEST_LOCK_POLL_MS = 15_000;

/**
 * Tries `attempt` (which takes a lock, or throws RepositoryLocked) until it succeeds, `wait.waitMs` has
 * passed, or `wait.signal` aborts.
 */
export async function retryLock<T>(attempt: () => Promise<T>, wait: LockWait): Promise<T> {
  const deadline = Date.now() + wait.waitMs;
  let pollMs = 1000;
  let told: string | undefined;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof RepositoryLocked) || Date.now() >= deadline) throw err;
      // The holder's lock gets a new id at each heartbeat: the same holder is the same process and start.
      const holder = `${err.holder.host}\0${err.holder.pid}\0${err.holder.created.getTime()}`;
      if (holder !== told) wait.onWait?.(err.holder);
      told = holder;
      await pause(Math.min(pollMs, deadline - Date.now()), wait.signal);
      pollMs = Math.min(pollMs * 2, LONGEST_LOCK_POLL_MS);
    }
  }
}

async function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await sleep(ms, undefined, signal ? { signal } : {});
  } catch (err) {
    if (!signal?.aborted) throw err;
    throw new OperationInterrupted('Stopped while waiting for the repository lock; nothing was changed.');
  }
}

export interface LockOwner {
  readonly host: string;
  readonly username: string;
  readonly pid: number;
}

/** A lock this process holds. */
export class RepositoryLock {
  private lost: RepositoryError | undefined;
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> = Promise.resolve();

  constructor(
    private readonly backend: Backend,
    private readonly master: MasterKey,
    readonly exclusive: boolean,
    private id: string,
    private readonly created: Date,
    private readonly owner: LockOwner,
    timing: LockTiming,
  ) {
    this.timer = setInterval(() => {
      this.refreshing = this.refreshing.then(() => this.refresh());
    }, timing.refreshEveryMs);
    this.timer.unref();
  }

  get lockId(): string {
    return this.id;
  }

  /** Throws if the lock was lost (removed by someone else, or could not be refreshed); long operations call this at safe points. */
  assertHeld(): void {
    if (this.lost) throw this.lost;
  }

  /** Rewrites the lock with a new heartbeat, then removes the old one. */
  async refresh(): Promise<void> {
    if (this.lost || !this.timer) return;
    try {
      await this.backend.stat({ type: 'locks', name: this.id });
    } catch {
      this.lost = new RepositoryError('E_LOCK_LOST', 'The repository lock was removed by someone else while this operation was running.');
      return;
    }
    try {
      const { id, bytes } = sealLock(this.master, this.exclusive, this.owner, this.created, new Date());
      await this.backend.write({ type: 'locks', name: id }, bytes);
      const old = this.id;
      this.id = id;
      await this.backend.delete({ type: 'locks', name: old });
    } catch (err) {
      this.lost = new RepositoryError('E_LOCK_LOST', `The repository lock could not be refreshed: ${(err as Error).message}`, { cause: err });
    }
  }

  async release(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.refreshing;
    await this.backend.delete({ type: 'locks', name: this.id });
  }
}

function sealLock(master: MasterKey, exclusive: boolean, owner: LockOwner, created: Date, heartbeat: Date): { id: string; bytes: Buffer } {
  const body = {
    hindsight: 'lock',
    version: 1,
    exclusive,
    host: owner.host,
    pid: owner.pid,
    username: owner.username,
    created: created.toISOString(),
    heartbeat: heartbeat.toISOString(),
  };
  const bytes = sealObject(master, 'locks', Buffer.from(JSON.stringify(body), 'utf8'));
  return { id: storageId(bytes), bytes };
}

export async function listLocks(backend: Backend, master: MasterKey, timing: LockTiming, self: LockOwner): Promise<{ locks: LockInfo[]; unreadable: string[] }> {
  const locks: LockInfo[] = [];
  const unreadable: string[] = [];
  for await (const { name } of backend.list('locks')) {
    let bytes: Buffer;
    try {
      bytes = await backend.read({ type: 'locks', name });
    } catch (err) {
      // Released between list and read.
      if ((err as { code?: string }).code === 'E_NOT_FOUND') continue;
      throw err;
    }
    try {
      if (storageId(bytes) !== name) throw new Error('name mismatch');
      const lock = parseJsonObject(openObject(master, 'locks', bytes, `Lock locks/${name}`), LOCK_SCHEMA, `Lock locks/${name}`);
      const heartbeat = new Date(lock.heartbeat);
      const stale = Date.now() - heartbeat.getTime() > timing.staleAfterMs || (lock.host === self.host && !processIsAlive(lock.pid));
      locks.push({ id: name, exclusive: lock.exclusive, host: lock.host, pid: lock.pid, username: lock.username, created: new Date(lock.created), heartbeat, stale });
    } catch {
      unreadable.push(name);
    }
  }
  return { locks, unreadable };
}

/**
 * Takes a lock: refuses if a live conflicting lock exists, writes ours, then
 * looks again, because two processes may have checked at the same moment.
 */
export async function acquireLock(
  backend: Backend,
  master: MasterKey,
  exclusive: boolean,
  owner: LockOwner,
  timing: LockTiming,
): Promise<RepositoryLock> {
  const conflict = async (ignore?: string) => {
    const { locks } = await listLocks(backend, master, timing, owner);
    return locks.find((lock) => lock.id !== ignore && !lock.stale && (exclusive || lock.exclusive));
  };
  const before = await conflict();
  if (before) throw new RepositoryLocked(before, backend.location);
  const created = new Date();
  const { id, bytes } = sealLock(master, exclusive, owner, created, created);
  await backend.write({ type: 'locks', name: id }, bytes);
  const after = await conflict(id);
  if (after) {
    await backend.delete({ type: 'locks', name: id });
    throw new RepositoryLocked(after, backend.location);
  }
  return new RepositoryLock(backend, master, exclusive, id, created, owner, timing);
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
