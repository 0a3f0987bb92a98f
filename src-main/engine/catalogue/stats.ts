import type { Repository } from '../repository/repository.js';
import { listSnapshots } from '../snapshot/snapshot.js';

export interface RepositoryStats {
  readonly snapshots: number;
  /** Files in the newest snapshot. */
  readonly files: number;
  /** What all snapshots would take as plain copies (sum of their sizes). */
  readonly logicalBytes: number;
  /** Distinct data after deduplication, before compression. */
  readonly uniqueBytes: number;
  /** Bytes in packs on storage. */
  readonly storedBytes: number;
  readonly dedupRatio: number;
  readonly compressionRatio: number;
  readonly perSnapshot: readonly { id: string; time: string; totalBytes: number; bytesAdded: number }[];
}

/** Sizes and ratios from the snapshot records and the index, without reading any pack. */
export async function repositoryStats(repository: Repository): Promise<RepositoryStats> {
  const snapshots = await listSnapshots(repository);
  let uniqueBytes = 0;
  for (const blob of repository.index.blobs()) if (blob.type === 'data') uniqueBytes += blob.rawLength;
  let storedBytes = 0;
  for (const pack of repository.index.packs()) storedBytes += pack.size;
  const logicalBytes = snapshots.reduce((n, s) => n + s.summary.totalBytes, 0);
  const newest = snapshots[snapshots.length - 1];
  return {
    snapshots: snapshots.length,
    files: newest?.summary.totalFiles ?? 0,
    logicalBytes,
    uniqueBytes,
    storedBytes,
    dedupRatio: uniqueBytes > 0 ? logicalBytes / uniqueBytes : 1,
    compressionRatio: storedBytes > 0 ? uniqueBytes / storedBytes : 1,
    perSnapshot: snapshots.map((s) => ({ id: s.id, time: s.time, totalBytes: s.summary.totalBytes, bytesAdded: s.summary.bytesAdded })),
  };
}
