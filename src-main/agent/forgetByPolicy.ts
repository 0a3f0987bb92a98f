import type { Retention } from '../../src-shared/plan.js';
import { applyRetention } from '../engine/maintenance/retention.js';
import type { Repository } from '../engine/repository/repository.js';
import { listSnapshots } from '../engine/snapshot/snapshot.js';

/**
 * Removes the snapshots of one plan (tagged `plan:<id>`) that its retention
 * policy does not keep; other plans' snapshots in the same repository are
 * never touched. Their data is freed by the next prune. Returns how many were removed.
 */
export async function forgetByPolicy(repository: Repository, planId: string, retention: Retention): Promise<number> {
  const policy = Object.fromEntries(Object.entries(retention).filter(([, n]) => n !== undefined && n > 0));
  if (Object.keys(policy).length === 0) return 0;
  const lock = await repository.lock(true);
  try {
    const mine = (await listSnapshots(repository)).filter((s) => s.tags.includes(`plan:${planId}`));
    const doomed = applyRetention(mine, policy).filter((d) => !d.keep);
    for (const d of doomed) await repository.backend.delete({ type: 'snapshots', name: d.snapshot.id });
    return doomed.length;
  } finally {
    await lock.release();
  }
}
