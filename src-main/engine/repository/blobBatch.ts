import type { KeyObject } from 'node:crypto';
import type { Repository } from './repository.js';
import { RepositoryError } from './repositoryError.js';
import type { BlobLocation } from './memoryIndex.js';
import type { PackWindows } from './packWindows.js';
import type { SealedBlob } from './sealedBlobs.js';

/** Blobs closer than this in a pack are read in one range: reading a few unused bytes costs less than another open and read. */
const MAX_GAP = 256 * 1024;
const MAX_RANGE = 8 * 1024 * 1024;

/** Neighbouring blobs of one pack, read as one range. */
interface Range {
  readonly pack: string;
  readonly start: number;
  readonly end: number;
  readonly blobs: readonly BlobLocation[];
}

/**
 * Groups blobs by pack and sorts them by offset, neighbours in one range (as restic's restorer does).
 * Each id is looked up once; ids the index lacks are returned apart.
 */
function planRanges(repository: Pick<Repository, 'index'>, ids: readonly Buffer[]): { ranges: Range[]; missing: string[] } {
  const seen = new Set<string>();
  const missing: string[] = [];
  const byPack = new Map<string, BlobLocation[]>();
  for (const id of ids) {
    const key = id.toString('hex');
    if (seen.has(key)) continue;
    seen.add(key);
    const location = repository.index.get(id);
    if (!location) {
      missing.push(key);
      continue;
    }
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
  return { ranges, missing };
}

/** A range's bytes, through the windows when given; rejects when the read fails. */
async function readRange(repository: Pick<Repository, 'backend'>, range: Range, windows: PackWindows | undefined): Promise<{ bytes: Buffer; start: number }> {
  if (!windows) return { bytes: await repository.backend.read({ type: 'data', name: range.pack }, { offset: range.start, length: range.end - range.start }), start: range.start };
  const window = windows.cover(range.pack, range.start, range.end);
  const bytes = await window.bytes;
  if (!bytes) throw new Error('the pack could not be read');
  return { bytes, start: window.start };
}

function notIndexed(key: string): Error {
  return new RepositoryError('E_BLOB_NOT_FOUND', `Blob ${key.slice(0, 16)} is not in the repository index.`);
}

/**
 * Loads many blobs with as few reads as the packs allow. Every blob is authenticated and its id
 * rechecked as `loadBlob` would. A blob that cannot be loaded is reported in `failed` with the reason;
 * the others are still returned. With `windows`, ranges are read through them, so calls for
 * neighbouring blobs share reads.
 */
export async function loadBlobs(repository: Repository, ids: readonly Buffer[], windows?: PackWindows): Promise<{ loaded: Map<string, Buffer>; failed: Map<string, Error> }> {
  const loaded = new Map<string, Buffer>();
  const failed = new Map<string, Error>();
  const { ranges, missing } = planRanges(repository, ids);
  for (const key of missing) failed.set(key, notIndexed(key));
  for (const range of ranges) {
    const read = await readRange(repository, range, windows).catch(() => undefined);
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
  readonly blobs: ReadonlyMap<string, SealedBlob>;
  /** Ids (hex) not in the index or whose pack could not be read: their callers load them by `loadBlobs`, which names the failure or finds another copy. */
  readonly unread: ReadonlySet<string>;
}

/**
 * Reads blobs as `loadBlobs` does, but copies them still sealed into one buffer for a writer thread to
 * decrypt, decompress and check, so that work leaves the main thread. One copy of the sealed bytes
 * replaces a decryption, a decompression and two copies of the plaintext there.
 */
export async function gatherSealedBlobs(repository: Repository, ids: readonly Buffer[], windows?: PackWindows): Promise<SealedBlobs> {
  const { ranges, missing } = planRanges(repository, ids);
  const unread = new Set(missing);
  const reads = [];
  let total = 0;
  for (const range of ranges) {
    const read = await readRange(repository, range, windows).catch(() => undefined);
    reads.push(read);
    if (read) for (const blob of range.blobs) total += blob.length;
    else for (const blob of range.blobs) unread.add(blob.id.toString('hex'));
  }
  const sealed = new Uint8Array(total);
  const keys: KeyObject[] = [];
  const keyIndex = new Map<string, number>();
  const blobs = new Map<string, SealedBlob>();
  let at = 0;
  for (const [i, range] of ranges.entries()) {
    const read = reads[i];
    if (!read) continue;
    let key = keyIndex.get(range.pack);
    if (key === undefined) {
      key = keys.push(repository.packKey(range.pack)) - 1;
      keyIndex.set(range.pack, key);
    }
    for (const blob of range.blobs) {
      const from = blob.offset - read.start;
      sealed.set(read.bytes.subarray(from, from + blob.length), at);
      blobs.set(blob.id.toString('hex'), { key, at, length: blob.length, offset: blob.offset, compressed: blob.compressed, rawLength: blob.rawLength, id: new Uint8Array(blob.id) });
      at += blob.length;
    }
  }
  return { sealed, keys, blobs, unread };
}
