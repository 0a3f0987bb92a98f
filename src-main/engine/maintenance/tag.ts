import type { Repository } from '../repository/repository.js';
import { resolveSnapshots, saveSnapshot, type Snapshot } from '../snapshot/snapshot.js';

export interface TagChange {
  /** Replaces every tag (restic's --set); applied before add and remove. */
  readonly set?: readonly string[];
  readonly add?: readonly string[];
  readonly remove?: readonly string[];
}

/**
 * Changes the tags of existing snapshots, as restic's `tag`: a snapshot is content-addressed, so a
 * changed one is saved anew (new id) before the old record is deleted, under the exclusive lock so
 * no forget or prune sees both or neither. Unchanged snapshots keep their id.
 */
export async function retagSnapshots(repository: Repository, references: readonly string[], change: TagChange): Promise<{ before: Snapshot; after: Snapshot }[]> {
  const lock = await repository.lock(true);
  try {
    const changed: { before: Snapshot; after: Snapshot }[] = [];
    for (const before of await resolveSnapshots(repository, references)) {
      const tags = new Set(change.set ?? before.tags);
      for (const tag of change.add ?? []) tags.add(tag);
      for (const tag of change.remove ?? []) tags.delete(tag);
      if ([...tags].join('\0') === before.tags.join('\0')) continue;
      const { id, ...record } = before;
      const after = await saveSnapshot(repository, { ...record, tags: [...tags] });
      await repository.backend.delete({ type: 'snapshots', name: id });
      changed.push({ before, after });
    }
    return changed;
  } finally {
    await lock.release();
  }
}
