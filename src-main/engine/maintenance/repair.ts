import type { Backend, ObjectHandle, ObjectType } from '../backend/backend.js';
import { mapConcurrent } from '../concurrency.js';
import { stopIfAborted } from '../interruption.js';
import type { Repository } from '../repository/repository.js';
import { RepositoryError } from '../repository/repositoryError.js';

/** Repaired in this order, so a target being filled is a valid repository at every moment: packs before the index that names them, the config last. */
const REPLICATED_TYPES: readonly ObjectType[] = ['keys', 'data', 'index', 'snapshots', 'config'];

export interface TargetComparison {
  readonly location: string;
  readonly reachable: boolean;
  readonly error?: string;
  /** Objects (locks aside) the target holds. */
  readonly objects: number;
  /** Objects some other target holds and this one lacks: how far behind it is. */
  readonly missing: number;
  readonly missingByType: Partial<Record<ObjectType, number>>;
}

/**
 * Lists every target and tells, for each, how many objects it lacks that
 * another target has. Cheap (listings only); it does not look inside the
 * objects, `repairTargets` does.
 */
export async function compareTargets(targets: readonly Backend[]): Promise<TargetComparison[]> {
  const listings = await Promise.all(targets.map((target) => listTarget(target)));
  const union = new Map<ObjectType, Set<string>>();
  for (const type of REPLICATED_TYPES) union.set(type, new Set(listings.flatMap((l) => (l.names ? [...(l.names.get(type) ?? [])] : []))));
  return targets.map((target, i) => {
    const { names, error } = listings[i] as Awaited<ReturnType<typeof listTarget>>;
    if (!names) return { location: target.location, reachable: false, error: error ?? 'unreachable', objects: 0, missing: 0, missingByType: {} };
    const missingByType: Partial<Record<ObjectType, number>> = {};
    let missing = 0;
    let objects = 0;
    for (const type of REPLICATED_TYPES) {
      const have = names.get(type) ?? new Set();
      objects += have.size;
      const lacking = [...(union.get(type) ?? [])].filter((name) => !have.has(name)).length;
      if (lacking > 0) missingByType[type] = lacking;
      missing += lacking;
    }
    return { location: target.location, reachable: true, objects, missing, missingByType };
  });
}

async function listTarget(target: Backend): Promise<{ names?: Map<ObjectType, Set<string>>; error?: string }> {
  try {
    const names = new Map<ObjectType, Set<string>>();
    for (const type of REPLICATED_TYPES) {
      const set = new Set<string>();
      for await (const { name } of target.list(type)) set.add(name);
      names.set(type, set);
    }
    return { names };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

export interface TargetRepair {
  readonly location: string;
  readonly reachable: boolean;
  readonly error?: string;
  /** Objects it lacked, copied from a good copy elsewhere. */
  readonly copied: number;
  /** Objects it held damaged, replaced by a good copy. */
  readonly replaced: number;
}

export interface RepairResult {
  readonly targets: readonly TargetRepair[];
  /** Objects with no good copy on any target ("data/ab12…"): `check` shows what they affect. */
  readonly lost: readonly string[];
  readonly objectsChecked: number;
}

export interface RepairOptions {
  /** Only these targets are written (copy seeds one target from others); default every target. */
  readonly into?: readonly Backend[];
  readonly onObject?: (done: number, total: number) => void;
  /**
   * Stops before the next object: every object written is whole (writes are atomic), so a target
   * stopped half-way holds a partial copy that a repair or a seed run again completes. Rejects with
   * OperationInterrupted.
   */
  readonly signal?: AbortSignal;
}

/**
 * Brings targets to the union of what is valid: every object any target
 * holds is read from every target that holds it and verified (the config
 * opens with the key, sealed objects hash to their names, every blob of a
 * pack authenticates); a target that lacks an object, or holds a damaged
 * copy, gets a good copy written in its place. Locks are left alone.
 */
export async function repairTargets(repository: Repository, targets: readonly Backend[], options: RepairOptions = {}): Promise<RepairResult> {
  const into = new Set(options.into ?? targets);
  const stats = targets.map((target) => ({ location: target.location, reachable: true, error: undefined as string | undefined, copied: 0, replaced: 0 }));
  const listings = await Promise.all(targets.map((target) => listTarget(target)));
  listings.forEach((listing, i) => {
    if (!listing.names) Object.assign(stats[i] as object, { reachable: false, error: listing.error });
  });
  const lost: string[] = [];
  let objectsChecked = 0;
  const total = REPLICATED_TYPES.reduce((sum, type) => sum + new Set(listings.flatMap((l) => [...(l.names?.get(type) ?? [])])).size, 0);
  for (const type of REPLICATED_TYPES) {
    const names = [...new Set(listings.flatMap((l) => [...(l.names?.get(type) ?? [])]))].sort();
    await mapConcurrent(names, 4, async (name) => {
      stopIfAborted(options.signal, 'The copy was stopped before it finished; every object copied is whole, and running it again copies the rest.');
      const handle: ObjectHandle = { type, name };
      let good: Buffer | undefined;
      const needs: { index: number; damaged: boolean }[] = [];
      for (const [index, target] of targets.entries()) {
        if (!stats[index]?.reachable) continue;
        if (!listings[index]?.names?.get(type)?.has(name)) {
          needs.push({ index, damaged: false });
          continue;
        }
        try {
          const bytes = await target.read(handle);
          await repository.verifyObject(handle, bytes);
          good ??= bytes;
        } catch {
          needs.push({ index, damaged: true });
        }
      }
      objectsChecked += 1;
      options.onObject?.(objectsChecked, total);
      if (!good) {
        lost.push(type === 'config' ? 'config' : `${type}/${name}`);
        return;
      }
      for (const { index, damaged } of needs) {
        const target = targets[index] as Backend;
        if (!into.has(target)) continue;
        const stat = stats[index] as (typeof stats)[number];
        try {
          await target.write(handle, good);
          if (damaged) stat.replaced += 1;
          else stat.copied += 1;
        } catch (err) {
          stat.reachable = false;
          stat.error = (err as Error).message;
        }
      }
    });
  }
  return { targets: stats.map(({ error, ...rest }) => (error === undefined ? rest : { ...rest, error })), lost: lost.sort(), objectsChecked };
}

/**
 * Seeds new targets with a complete copy of `repository` (read from `sources`, its targets): each
 * destination is created empty, or must already hold this same repository (a seed run again resumes),
 * then gets every object it lacks, verified on the way. `hindsight copy` and a plan given a new target.
 */
export async function seedTargets(repository: Repository, sources: readonly Backend[], destinations: readonly Backend[], options: Omit<RepairOptions, 'into'> = {}): Promise<RepairResult> {
  for (const destination of destinations) {
    let config: Buffer | undefined;
    try {
      config = await destination.read({ type: 'config', name: 'config' });
    } catch (err) {
      if ((err as { code?: string }).code !== 'E_NOT_FOUND' && (err as { code?: string }).code !== 'E_TARGET_MISSING') throw err;
    }
    if (config === undefined) {
      await destination.create();
    } else {
      await repository.verifyObject({ type: 'config', name: 'config' }, config).catch(() => {
        throw new RepositoryError('E_INVALID_ARGUMENT', `${destination.location} holds another repository; copy only into an empty target or one holding this repository.`);
      });
    }
  }
  return repairTargets(repository, [...sources, ...destinations], { ...options, into: destinations });
}
