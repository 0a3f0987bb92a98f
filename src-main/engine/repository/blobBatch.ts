import type { KeyObject } from 'node:crypto';
import { readRangeInto, readScattered } from '../backend/backend.js';
import type { Repository } from './repository.js';
import { RepositoryError } from './repositoryError.js';
import type { BlobLocation } from './memoryIndex.js';
import { PackedIds, type SealedBlob } from './sealedBlobs.js';

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

/** A blob to read, with its index entry (MemoryIndex.entryOf), looked up once. */
interface PlannedBlob extends BlobLocation {
  readonly entry: number;
}

/** Neighbouring blobs of one pack, read as one range. */
interface Range {
  readonly pack: string;
  readonly start: number;
  readonly end: number;
  readonly blobs: readonly PlannedBlob[];
}

/**
 * Groups blobs by pack and sorts them by offset, neighbours in one range (as restic's restorer does).
 * Each id is looked up once; ids the index lacks are returned apart.
 */
function planRanges(repository: Pick<Repository, 'index'>, ids: readonly Buffer[]): { ranges: Range[]; missing: string[]; entries: Int32Array } {
  // Ids seen, by index entry: a set of numbers, where a hex string per id cost its making and hashing.
  const seen = new Set<number>();
  const missing = new Set<string>();
  const byPack = new Map<string, PlannedBlob[]>();
  const entries = new Int32Array(ids.length);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i] as Buffer;
    const entry = repository.index.entryOf(id);
    entries[i] = entry;
    if (entry < 0) {
      missing.add(id.toString('hex'));
      continue;
    }
    if (seen.has(entry)) continue;
    seen.add(entry);
    const location = { ...repository.index.location(entry), entry };
    const members = byPack.get(location.pack);
    if (members) members.push(location);
    else byPack.set(location.pack, [location]);
  }
  const ranges: Range[] = [];
  for (const [pack, members] of byPack) {
    members.sort((a, b) => a.offset - b.offset);
    for (let first = 0; first < members.length; ) {
      let last = first;
      const start = (members[first] as BlobLocation).offset;
      while (last + 1 < members.length) {
        const next = members[last + 1] as BlobLocation;
        const end = (members[last] as BlobLocation).offset + (members[last] as BlobLocation).length;
        if (next.offset - end > MAX_GAP || next.offset + next.length - start > MAX_RANGE) break;
        last += 1;
      }
      const blobs = members.slice(first, last + 1);
      ranges.push({ pack, start, end: Math.max(...blobs.map((blob) => blob.offset + blob.length)), blobs });
      first = last + 1;
    }
  }
  return { ranges, missing: [...missing], entries };
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
    for (const blob of range.blobs) {
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
  /** The pack keys that `SealedBlob.key` indexes. */
  readonly keys: readonly KeyObject[];
  /** By index entry (MemoryIndex.entryOf): numbers, where hex ids cost a string to make and hash per blob on each side. */
  readonly blobs: ReadonlyMap<number, SealedBlob>;
  /** Ids (hex) not in the index or whose pack could not be read: their callers load them by `loadBlobs`, which names the failure or finds another copy. */
  readonly unread: ReadonlySet<string>;
  /**
   * The index entry of each id asked for, in the order asked (-1: not in the index), for `blobs`: a
   * caller that goes through the ids again need not look each up a second time (restoring the linux
   * tree's small files, the index lookups were 5% of the main thread, half of them repeated).
   */
  readonly entries: Int32Array;
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
  const { ranges, missing, entries } = planRanges(repository, ids);
  const unread = new Set(missing);
  // Each range's blobs go into `sealed` back to back, in range order.
  let total = 0;
  const starts = ranges.map((range) => {
    const at = total;
    for (const blob of range.blobs) total += blob.length;
    return at;
  });
  const sealed = buffers.take(total);
  const read = await Promise.all(ranges.map((range, i) => readRangeInPlace(repository, range, sealed, starts[i] as number).then(() => true, () => false)));
  const keys: KeyObject[] = [];
  const keyIndex = new Map<string, number>();
  const blobs = new Map<number, SealedBlob>();
  const packedIds = new PackedIds(ranges.reduce((sum, range) => sum + range.blobs.length, 0));
  for (const [i, range] of ranges.entries()) {
    if (!read[i]) {
      for (const blob of range.blobs) unread.add(blob.id.toString('hex'));
      continue;
    }
    let key = keyIndex.get(range.pack);
    if (key === undefined) {
      key = keys.push(repository.packKey(range.pack)) - 1;
      keyIndex.set(range.pack, key);
    }
    let at = starts[i] as number;
    for (const blob of range.blobs) {
      blobs.set(blob.entry, { key, at, length: blob.length, offset: blob.offset, compressed: blob.compressed, rawLength: blob.rawLength, id: packedIds.add(blob.id) });
      at += blob.length;
    }
  }
  return { sealed, keys, blobs, unread, entries };
}

/** Reads a range's blobs into `sealed` from `at` on, back to back; rejects when the read fails. */
async function readRangeInPlace(repository: Pick<Repository, 'backend'>, range: Range, sealed: Uint8Array, at: number): Promise<void> {
  const handle = { type: 'data', name: range.pack } as const;
  const length = range.end - range.start;
  const needed = range.blobs.reduce((sum, blob) => sum + blob.length, 0);
  if (needed === length) {
    const into = sealed.subarray(at, at + length);
    const got = await readRangeInto(repository.backend, handle, { offset: range.start, length }, into);
    if (got.byteLength !== length) throw new Error('the pack is shorter than its index says');
    if (got.buffer !== into.buffer || got.byteOffset !== into.byteOffset) into.set(got);
    return;
  }
  // Each blob straight into its place, the gaps between them into a scratch buffer nobody reads.
  const parts: Uint8Array[] = [];
  let offset = range.start;
  for (const blob of range.blobs) {
    if (blob.offset < offset) throw new Error('the index places two blobs over each other in the pack');
    if (blob.offset > offset) parts.push(GAP.subarray(0, blob.offset - offset));
    parts.push(sealed.subarray(at, at + blob.length));
    at += blob.length;
    offset = blob.offset + blob.length;
  }
  await readScattered(repository.backend, handle, range.start, parts);
}
