import type { Repository } from './repository.js';
import { RepositoryError } from './repositoryError.js';
import type { BlobLocation } from './memoryIndex.js';
import type { PackWindows } from './packWindows.js';

/** Blobs closer than this in a pack are read in one range: reading a few unused bytes costs less than another open and read. */
const MAX_GAP = 256 * 1024;
const MAX_RANGE = 8 * 1024 * 1024;

/**
 * Loads many blobs with as few reads as the packs allow (as restic's
 * restorer does): the blobs are grouped by pack and sorted by offset, and
 * neighbours are read as one range. Every blob is authenticated and its id
 * rechecked as `loadBlob` would. A blob that cannot be loaded is reported in
 * `failed` with the reason; the others are still returned. With `windows`,
 * ranges are read through them, so calls for neighbouring blobs share reads.
 */
export async function loadBlobs(repository: Repository, ids: readonly Buffer[], windows?: PackWindows): Promise<{ loaded: Map<string, Buffer>; failed: Map<string, Error> }> {
  const loaded = new Map<string, Buffer>();
  const failed = new Map<string, Error>();
  const byPack = new Map<string, BlobLocation[]>();
  for (const id of ids) {
    const key = id.toString('hex');
    if (loaded.has(key) || failed.has(key)) continue;
    const location = repository.index.get(id);
    if (!location) {
      failed.set(key, new RepositoryError('E_BLOB_NOT_FOUND', `Blob ${key.slice(0, 16)} is not in the repository index.`));
      continue;
    }
    // Placeholder so a duplicate id is looked up once.
    loaded.set(key, Buffer.alloc(0));
    const members = byPack.get(location.pack);
    if (members) members.push(location);
    else byPack.set(location.pack, [location]);
  }
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
      const group = members.slice(first, last + 1);
      const end = Math.max(...group.map((blob) => blob.offset + blob.length));
      let bytes: Buffer | undefined;
      let bytesStart = start;
      let readError: Error | undefined;
      try {
        if (windows) {
          const window = windows.cover(pack, start, end);
          bytes = await window.bytes;
          bytesStart = window.start;
        } else bytes = await repository.backend.read({ type: 'data', name: pack }, { offset: start, length: end - start });
      } catch (err) {
        readError = err as Error;
      }
      for (const blob of group) {
        const key = blob.id.toString('hex');
        try {
          if (!bytes) throw readError ?? new Error('the pack could not be read');
          loaded.set(key, repository.openBlobAt(blob, bytes.subarray(blob.offset - bytesStart, blob.offset - bytesStart + blob.length)));
        } catch {
          // One blob at a time through loadBlob, which a replicated repository serves from another
          // target when this copy is missing or damaged; only what fails there too is a failure.
          try {
            loaded.set(key, await repository.loadBlob(blob.id));
          } catch (err) {
            loaded.delete(key);
            failed.set(key, err as Error);
          }
        }
      }
      first = last + 1;
    }
  }
  return { loaded, failed };
}
