import { randomBytes } from 'node:crypto';
import type { Progress } from '../../../src-shared/progress.js';
import { sweepTemporaryFiles } from '../backend/backend.js';
import { stopIfAborted } from '../interruption.js';
import { ProgressMeter } from '../progressMeter.js';
import type { IndexedPack } from '../repository/indexFile.js';
import type { BlobLocation } from '../repository/memoryIndex.js';
import type { Repository } from '../repository/repository.js';
import { RepositoryError } from '../repository/repositoryError.js';
import { listSnapshots } from '../snapshot/snapshot.js';
import { dataBlobsOf } from '../snapshot/tree.js';
import { TreeLoader } from '../snapshot/treeLoader.js';

const NOTHING_CHANGED = 'The prune was stopped before it changed anything.';
const REPACK_STOPPED = 'The prune was stopped before it changed the index: nothing was removed; the next prune removes the copies it made.';

/** Packs with less than this fraction of live bytes are rewritten, unless told otherwise. */
export const DEFAULT_REPACK_BELOW = 0.8;

export interface PruneOptions {
  /** Packs with less than this fraction of live bytes are rewritten (default 0.8). */
  readonly repackBelow?: number;
  /** Plan only: report what would happen, change nothing. */
  readonly dryRun?: boolean;
  readonly onProgress?: (progress: Progress) => void;
  /**
   * Stops the prune while it finds the used data, before it repacks, between two repacked packs or
   * after repacking and before the index changes (the new packs are then unindexed, and the next prune
   * removes them): never half-way through replacing the index or deleting. Rejects with OperationInterrupted.
   */
  readonly signal?: AbortSignal;
}

export interface PrunePlan {
  readonly packsToDelete: number;
  readonly packsToRepack: number;
  readonly packsToKeep: number;
  /** Packs on storage that no index names (left by interrupted backups). */
  readonly unindexedPacks: number;
  /** Temporary files of writes that never finished (a killed backup's packs), and their bytes: not in `bytesBefore`. */
  readonly unfinishedWrites: number;
  readonly unfinishedBytes: number;
  readonly blobsUsed: number;
  readonly blobsUnused: number;
  readonly bytesBefore: number;
  /** Bytes expected after pruning (exact once done). */
  readonly bytesAfter: number;
}

export interface PruneResult extends PrunePlan {
  readonly dryRun: boolean;
}

/**
 * Removes data no snapshot uses. The caller must hold the exclusive lock.
 *
 * Order, so that an interruption at any point loses nothing a snapshot uses:
 * (1) copy the live blobs of sparse packs into new packs; (2) write index
 * files naming every pack that stays plus the new ones, the last of them
 * superseding all old index files; (3) delete the old index files; (4) only
 * then delete unused and rewritten packs. Until (2) completes the old index
 * is in force and names only packs that still exist; after it, the packs it
 * names are exactly those kept.
 */
export async function prune(repository: Repository, options: PruneOptions = {}): Promise<PruneResult> {
  const meter = new ProgressMeter('prune', options.onProgress);
  const threshold = options.repackBelow ?? DEFAULT_REPACK_BELOW;

  // The index may have changed while the caller waited for the lock.
  await repository.reloadIndex();
  meter.counts.phase = 'finding used data';
  meter.tick(true);
  const used = await usedBlobs(repository, options.signal);
  const missing = [...used].filter((id) => !repository.index.has(Buffer.from(id, 'hex')));
  if (missing.length > 0) {
    throw new RepositoryError(
      'E_DAMAGED',
      `${missing.length} chunk${missing.length === 1 ? ' that snapshots use is' : 's that snapshots use are'} missing from the index; nothing was pruned. Run "hindsight check" to see what is affected.`,
    );
  }

  meter.counts.phase = 'planning';
  const indexFiles = await repository.readIndexFiles();
  const stored = new Map<string, number>();
  for await (const { name, size } of repository.backend.list('data')) stored.set(name, size);
  const packs = new Map<string, IndexedPack>();
  for (const file of indexFiles) for (const pack of file.content.packs) if (!packs.has(pack.id.toString('hex'))) packs.set(pack.id.toString('hex'), pack);

  const keep: IndexedPack[] = [];
  const repack: string[] = [];
  const remove: string[] = [];
  const liveInRepacked: BlobLocation[] = [];
  let blobsUnused = 0;
  let bytesAfter = 0;
  for (const [name, pack] of packs) {
    if (!stored.has(name)) continue;
    let total = 0;
    let live = 0;
    const liveBlobs: BlobLocation[] = [];
    for (const blob of pack.blobs) {
      total += blob.length;
      const location = repository.index.get(blob.id);
      // Only the copy the index uses counts as live; other copies of the same blob are duplicates.
      if (used.has(blob.id.toString('hex')) && location?.pack === name && location.offset === blob.offset) {
        live += blob.length;
        liveBlobs.push(location);
      } else blobsUnused += 1;
    }
    if (live === 0) remove.push(name);
    else if (live < threshold * total) {
      repack.push(name);
      liveInRepacked.push(...liveBlobs);
      bytesAfter += live;
    } else {
      keep.push(pack);
      bytesAfter += pack.size;
    }
  }
  const unindexed = [...stored.keys()].filter((name) => !packs.has(name));
  const unfinished = await sweepTemporaryFiles(repository.backend, true);
  const bytesBefore = [...stored.values()].reduce((a, b) => a + b, 0);
  const plan: PrunePlan = {
    packsToDelete: remove.length,
    packsToRepack: repack.length,
    packsToKeep: keep.length,
    unindexedPacks: unindexed.length,
    unfinishedWrites: unfinished.files,
    unfinishedBytes: unfinished.bytes,
    blobsUsed: used.size,
    blobsUnused,
    bytesBefore,
    bytesAfter,
  };
  // Temporary files are no pack and in no index: they go at once, whatever else prune has to do.
  if (!options.dryRun && unfinished.files > 0) await sweepTemporaryFiles(repository.backend, false);
  if (options.dryRun || (remove.length === 0 && repack.length === 0 && unindexed.length === 0)) {
    return { ...plan, dryRun: options.dryRun === true, bytesAfter: options.dryRun ? bytesAfter : bytesBefore };
  }

  // The last point where stopping leaves nothing to undo; after it, every step keeps the repository whole.
  stopIfAborted(options.signal, NOTHING_CHANGED);
  // A target that refuses deletes (an append-only REST server) is found out before prune writes packs it
  // could never remove: deleting an object that does not exist fails there and does nothing elsewhere.
  await repository.backend.delete({ type: 'data', name: randomBytes(32).toString('hex') });
  meter.counts.phase = 'repacking';
  meter.counts.bytesTotal = liveInRepacked.reduce((n, b) => n + b.length, 0);
  const fresh = await repository.repackBlobs(
    liveInRepacked,
    (bytes) => {
      meter.counts.bytesDone += bytes;
      meter.tick();
    },
    () => stopIfAborted(options.signal, REPACK_STOPPED),
  );

  stopIfAborted(options.signal, REPACK_STOPPED);
  meter.counts.phase = 'writing the index';
  meter.tick(true);
  // Supersede every index file on storage, not only those in force: a file an earlier, interrupted
  // prune superseded but did not delete would otherwise come back into force once its superseder goes.
  const allIndexFiles: string[] = [];
  for await (const { name } of repository.backend.list('index')) allIndexFiles.push(name);
  await repository.replaceIndex([...keep, ...fresh], allIndexFiles);

  meter.counts.phase = 'deleting packs';
  for (const name of [...remove, ...repack, ...unindexed]) await repository.backend.delete({ type: 'data', name });
  meter.counts.phase = 'done';
  meter.tick(true);
  const after = keep.reduce((n, p) => n + p.size, 0) + fresh.reduce((n, p) => n + p.size, 0);
  return { ...plan, bytesAfter: after, dryRun: false };
}

/** Ids (hex) of every tree and data blob some snapshot uses; stops between two trees once `signal` is aborted. */
async function usedBlobs(repository: Repository, signal: AbortSignal | undefined): Promise<Set<string>> {
  const used = new Set<string>();
  const trees = new TreeLoader(repository);
  for (const snapshot of await listSnapshots(repository)) {
    const pending: Buffer[] = [Buffer.from(snapshot.tree, 'hex')];
    while (pending.length > 0) {
      stopIfAborted(signal, NOTHING_CHANGED);
      const id = pending.pop() as Buffer;
      const key = id.toString('hex');
      if (used.has(key)) continue;
      used.add(key);
      if (!repository.index.has(id)) continue;
      for (const node of await trees.load(id)) {
        if (node.subtree) pending.push(node.subtree);
        for (const blob of dataBlobsOf(node)) used.add(blob.toString('hex'));
      }
    }
  }
  return used;
}
