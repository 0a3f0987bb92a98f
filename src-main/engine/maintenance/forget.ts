import type { LockWait } from '../repository/lock.js';
import type { Repository } from '../repository/repository.js';
import { listSnapshots, resolveSnapshots, type Snapshot } from '../snapshot/snapshot.js';
import { applyRetention, type RetentionDecision, type RetentionPolicy } from './retention.js';

export interface ForgetOptions {
  /** Only these snapshots are considered (a host, a plan's tag); the others are neither kept nor removed. */
  readonly select?: (snapshot: Snapshot) => boolean;
  /** Decide only; remove nothing. */
  readonly dryRun?: boolean;
  /** Wait for a lock another process holds (a backup running) rather than fail at once. */
  readonly lockWait?: LockWait;
}

/**
 * Removes, under an exclusive lock, the snapshots the policy does not keep
 * and returns every decision. Their data is freed by the next prune.
 */
export async function forgetSnapshots(repository: Repository, policy: RetentionPolicy, options: ForgetOptions = {}): Promise<RetentionDecision[]> {
  const lock = await repository.lock(true, options.lockWait);
  try {
    const all = await listSnapshots(repository);
    const decisions = applyRetention(options.select ? all.filter(options.select) : all, policy);
    if (!options.dryRun) for (const d of decisions) if (!d.keep) await repository.backend.delete({ type: 'snapshots', name: d.snapshot.id });
    return decisions;
  } finally {
    await lock.release();
  }
}

/**
 * Removes the snapshots named (ids or unique prefixes), under an exclusive lock, as restic's
 * `forget ID…`. Every reference is resolved before anything is removed: one that matches nothing
 * removes nothing. Returns the snapshots removed (or, with dryRun, that would be).
 */
export async function removeSnapshots(repository: Repository, references: readonly string[], options: Pick<ForgetOptions, 'dryRun' | 'lockWait'> = {}): Promise<Snapshot[]> {
  const lock = await repository.lock(true, options.lockWait);
  try {
    const chosen = await resolveSnapshots(repository, references);
    if (!options.dryRun) for (const { id } of chosen) await repository.backend.delete({ type: 'snapshots', name: id });
    return chosen;
  } finally {
    await lock.release();
  }
}
