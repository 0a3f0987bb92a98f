import type { KeyObject } from 'node:crypto';
import { readRangeInto, readScattered } from '../backend/backend.js';
import type { Repository } from './repository.js';
import { RepositoryError } from './repositoryError.js';
import { chunkTable, putIndexedChunk, type PackedChunks } from '../workers/packedChunks.js';

/** Blobs closer than this in a pack are read in one range: reading a few unused bytes costs less than another open and read. */
const MAX_GAP = 256 * 1024;
const MAX_RANGE = 8 * 1024 * 1024;
/**
 * Where the bytes between a range's blobs are read to and dropped; concurrent reads share it, since
 * nothing reads it. Read whole into a new buffer and copied out, a restore of 78,579 files made 862 MB of
 * such buffers (1,312 ranges) to keep 256 MB of blobs: a backup's two file threads interleave their
 * chunks in the packs, so a batch's blobs are a third of the ranges that hold them.
 */
const GAP = Buffer.allocUnsafeSlow(MAX_GAP);

/** Neighbouring blobs of one pack, read as one range: their index entries (see MemoryIndex.entryOf), in offset order. */
interface Range {
  readonly pack: string;
  readonly start: number;
  readonly end: number;
  readonly entries: readonly number[];
}

/**
 * Groups blobs by pack and sorts them by offset, neighbours in one range (as restic's restorer does).
 * Each id is looked up once; ids the index lacks are returned apart. `rows` numbers the blobs of the
 * ranges in order, by index entry.
 *
 * Blobs are handled as their index entries, their fields read from the index as needed: a location
 * object per blob (with a copy of its id), extended by its entry, then a SealedBlob object and a view
 * of its id, were ~100 of the 520 MB a restore of the linux tree's 78,579 files allocated on its main
 * thread (sampled), and a restore's main thread spent ~15% of its time collecting.
 */
function planRanges(repository: Pick<Repository, 'index'>, ids: readonly Buffer[]): { ranges: Range[]; missing: string[]; entries: Int32Array; rows: Map<number, number> } {
  const { index } = repository;
  // Ids seen, by index entry: numbers, where a hex string per id cost its making and hashing.
  const rows = new Map<number, number>();
  const missing = new Set<string>();
  const byPack = new Map<number, number[]>();
  const entries = new Int32Array(ids.length);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i] as Buffer;
    const entry = index.entryOf(id);
    entries[i] = entry;
    if (entry < 0) {
      missing.add(id.toString('hex'));
      continue;
    }
    if (rows.has(entry)) continue;
    rows.set(entry, -1);
    const pack = index.packNumberOf(entry);
    const members = byPack.get(pack);
    if (members) members.push(entry);
    else byPack.set(pack, [entry]);
  }
  const ranges: Range[] = [];
  let row = 0;
  for (const [pack, members] of byPack) {
    members.sort((a, b) => index.offsetOf(a) - index.offsetOf(b));
    for (let first = 0; first < members.length; ) {
      let last = first;
      const start = index.offsetOf(members[first] as number);
      let end = start + index.lengthOf(members[first] as number);
      while (last + 1 < members.length) {
        const next = members[last + 1] as number;
        const nextEnd = index.offsetOf(next) + index.lengthOf(next);
        if (index.offsetOf(next) - end > MAX_GAP || nextEnd - start > MAX_RANGE) break;
        end = Math.max(end, nextEnd);
        last += 1;
      }
      const inRange = members.slice(first, last + 1);
      for (let i = 0; i < inRange.length; i++) rows.set(inRange[i] as number, row++);
      ranges.push({ pack: index.packName(pack), start, end, entries: inRange });
      first = last + 1;
    }
  }
  return { ranges, missing: [...missing], entries, rows };
}

function notIndexed(key: string): Error {
  return new RepositoryError('E_BLOB_NOT_FOUND', `Blob ${key.slice(0, 16)} is not in the repository index.`);
}

/**
 * Loads many blobs with as few reads as the packs allow. Every blob is authenticated and its id
 * rechecked as `loadBlob` would. A blob that cannot be loaded is reported in `failed` with the reason;
 * the others are still returned.
 */
export async function loadBlobs(repository: Repository, ids: readonly Buffer[]): Promise<{ loaded: Map<string, Buffer>; failed: Map<string, Error> }> {
  const loaded = new Map<string, Buffer>();
  const failed = new Map<string, Error>();
  const { ranges, missing } = planRanges(repository, ids);
  for (const key of missing) failed.set(key, notIndexed(key));
  for (const range of ranges) {
    const read = await repository.backend
      .read({ type: 'data', name: range.pack }, { offset: range.start, length: range.end - range.start })
      .then((bytes) => ({ bytes, start: range.start }))
      .catch(() => undefined);
    for (const entry of range.entries) {
      const blob = repository.index.location(entry);
      const key = blob.id.toString('hex');
      try {
        if (!read) throw new Error('the pack could not be read');
        loaded.set(key, repository.openBlobAt(blob, read.bytes.subarray(blob.offset - read.start, blob.offset - read.start + blob.length)));
      } catch {
        // One blob at a time through loadBlob, which a replicated repository serves from another
        // target when this copy is missing or damaged; only what fails there too is a failure.
        try {
          loaded.set(key, await repository.loadBlob(blob.id));
        } catch (err) {
          failed.set(key, err as Error);
        }
      }
    }
  }
  return { loaded, failed };
}

/** Blobs still sealed, gathered into one buffer for a thread that opens them (see `gatherSealedBlobs`). */
export interface SealedBlobs {
  readonly sealed: Uint8Array;
  /** The pack keys that the table's `key` fields index. */
  readonly keys: readonly KeyObject[];
  /** Where each blob lies in `sealed`, a row per blob (see `rows`). */
  readonly table: PackedChunks;
  /** Each gathered blob's row in `table`, by index entry (MemoryIndex.entryOf); -1 for one whose pack could not be read. */
  readonly rows: ReadonlyMap<number, number>;
  /** Ids (hex) not in the index or whose pack could not be read: their callers load them by `loadBlobs`, which names the failure or finds another copy. */
  readonly unread: ReadonlySet<string>;
  /**
   * The index entry of each id asked for, in the order asked (-1: not in the index), for `rows`: a
   * caller that goes through the ids again need not look each up a second time (restoring the linux
   * tree's small files, the index lookups were 5% of the main thread, half of them repeated).
   */
  readonly entries: Int32Array;
}

/** The row of index entry `entry` in a gathering's table, or -1 when it was not gathered (not asked for, not indexed, or its pack unread). */
export function gatheredRow(gathered: SealedBlobs, entry: number): number {
  return entry < 0 ? -1 : (gathered.rows.get(entry) ?? -1);
}

/**
 * Reads blobs as `loadBlobs` does, but gathers them still sealed into one buffer for a writer thread to
 * decrypt, decompress and check, so that work leaves the main thread. One copy of the sealed bytes
 * replaces a decryption, a decompression and two copies of the plaintext there. A range with no gap
 * between its blobs (most: a backup packs a folder's files one after the other) is read straight into
 * its place; one with gaps as well, with a vectored read that drops the gaps (`readScattered`) where
 * the backend has one, else read whole and its blobs copied out. Each range is read exactly: read
 * through windows of 2 MiB, a restore of 78,579 files read its 254 MB of packs 7 times over (1.76 GB;
 * a backup's two file threads interleave their files in the packs, and the windows kept thrashing),
 * and those buffers' growth set off most of the main thread's full collections. `buffers` gives the
 * buffer they are gathered into (by default a new one).
 */
export async function gatherSealedBlobs(repository: Repository, ids: readonly Buffer[], buffers: { take(size: number): Uint8Array } = { take: (size) => new Uint8Array(size) }): Promise<SealedBlobs> {
  const { index } = repository;
  const { ranges, missing, entries, rows } = planRanges(repository, ids);
  const unread = new Set(missing);
  // Each range's blobs go into `sealed` back to back, in range order.
  let total = 0;
  let count = 0;
  const starts = ranges.map((range) => {
    const at = total;
    for (const entry of range.entries) total += index.lengthOf(entry);
    count += range.entries.length;
    return at;
  });
  const sealed = buffers.take(total);
  const read = await Promise.all(ranges.map((range, i) => readRangeInPlace(repository, range, sealed, starts[i] as number).then(() => true, () => false)));
  const keys: KeyObject[] = [];
  const keyIndex = new Map<string, number>();
  const table = chunkTable(count);
  let row = 0;
  for (const [i, range] of ranges.entries()) {
    if (!read[i]) {
      for (const entry of range.entries) {
        unread.add(index.location(entry).id.toString('hex'));
        rows.set(entry, -1);
      }
      row += range.entries.length;
      continue;
    }
    let key = keyIndex.get(range.pack);
    if (key === undefined) {
      key = keys.push(repository.packKey(range.pack)) - 1;
      keyIndex.set(range.pack, key);
    }
    let at = starts[i] as number;
    for (let j = 0; j < range.entries.length; j++) {
      const entry = range.entries[j] as number;
      putIndexedChunk(table, row, key, at, index, entry);
      at += index.lengthOf(entry);
      row += 1;
    }
  }
  return { sealed, keys, table, rows, unread, entries };
}

/** Reads a range's blobs into `sealed` from `at` on, back to back; rejects when the read fails. */
async function readRangeInPlace(repository: Pick<Repository, 'backend' | 'index'>, range: Range, sealed: Uint8Array, at: number): Promise<void> {
  const { index } = repository;
  const handle = { type: 'data', name: range.pack } as const;
  const length = range.end - range.start;
  const needed = range.entries.reduce((sum, entry) => sum + index.lengthOf(entry), 0);
  if (needed === length) {
    const into = sealed.subarray(at, at + length);
    const got = await readRangeInto(repository.backend, handle, { offset: range.start, length }, into);
    if (got.byteLength !== length) throw new Error('the pack is shorter than its index says');
    if (got.buffer !== into.buffer || got.byteOffset !== into.byteOffset) into.set(got);
    return;
  }
  // Each run of adjacent blobs straight into its place (a view per run, not per blob), the gaps between
  // them into a scratch buffer nobody reads.
  const parts: Uint8Array[] = [];
  let offset = range.start;
  let runStart = at;
  for (const entry of range.entries) {
    const blobOffset = index.offsetOf(entry);
    if (blobOffset < offset) throw new Error('the index places two blobs over each other in the pack');
    if (blobOffset > offset) {
      if (at > runStart) parts.push(sealed.subarray(runStart, at));
      parts.push(GAP.subarray(0, blobOffset - offset));
      runStart = at;
    }
    at += index.lengthOf(entry);
    offset = blobOffset + index.lengthOf(entry);
  }
  parts.push(sealed.subarray(runStart, at));
  await readScattered(repository.backend, handle, range.start, parts);
}
