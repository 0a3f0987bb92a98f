import type { Repository } from '../repository/repository.js';
import { RepositoryError, damaged } from '../repository/repositoryError.js';
import type { TreeNode } from '../snapshot/tree.js';
import type { ChunkCache } from './chunkCache.js';

/** Where each chunk of a file starts, from the index's raw lengths: a range needs only the chunks it overlaps. */
export interface ChunkMap {
  readonly ids: readonly Buffer[];
  /** starts[i] is chunk i's first byte in the file; one more entry holds the size. */
  readonly starts: readonly number[];
}

export function chunkMapOf(repository: Repository, node: TreeNode): ChunkMap {
  const ids = node.content ?? [];
  const starts = [0];
  let at = 0;
  for (const id of ids) {
    const length = repository.index.get(id)?.rawLength;
    if (length === undefined) throw new RepositoryError('E_BLOB_NOT_FOUND', `Chunk ${id.toString('hex').slice(0, 16)} is not in the repository index; run "hindsight check".`);
    at += length;
    starts.push(at);
  }
  if (at !== node.size) throw damaged('A file entry', `its chunks hold ${at} bytes, its size says ${node.size}`);
  return { ids, starts };
}

/**
 * The bytes [start, end) of a file, a chunk's part at a time, each chunk verified as it is loaded. The
 * next chunk is asked for while this one is sent (read-ahead of one), so a sequential reader waits for
 * the repository once, not once per chunk.
 */
export async function* readRange(cache: ChunkCache, map: ChunkMap, start: number, end: number): AsyncGenerator<Buffer> {
  let index = firstChunkAt(map.starts, start);
  let next: Promise<Buffer> | undefined;
  const load = (i: number) => {
    const pending = cache.get(map.ids[i] as Buffer);
    // Awaited in turn below; a read-ahead that fails after the reader stopped must not be unhandled.
    pending.catch(() => undefined);
    return pending;
  };
  while (index < map.ids.length && (map.starts[index] as number) < end) {
    const chunkStart = map.starts[index] as number;
    const current = next ?? load(index);
    next = index + 1 < map.ids.length && (map.starts[index + 1] as number) < end ? load(index + 1) : undefined;
    const chunk = await current;
    yield chunk.subarray(Math.max(0, start - chunkStart), Math.min(chunk.length, end - chunkStart));
    index += 1;
  }
}

/** The chunk holding byte `offset` (binary search over the starts). */
function firstChunkAt(starts: readonly number[], offset: number): number {
  let low = 0;
  let high = starts.length - 2;
  while (low < high) {
    const middle = (low + high + 1) >>> 1;
    if ((starts[middle] as number) <= offset) low = middle;
    else high = middle - 1;
  }
  return Math.max(0, low);
}
