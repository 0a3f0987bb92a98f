import { BLOB_ID_LENGTH } from '../crypto/blobId.js';
import { ENTRY_LENGTH, FormatViolation, readEntry, writeEntry, type PackedBlob } from './packFormat.js';

/** One pack as an index file records it. */
export interface IndexedPack {
  readonly id: Buffer;
  readonly size: number;
  readonly blobs: readonly PackedBlob[];
}

export interface IndexFileContent {
  /** Index files this one replaces (written by prune or index rebuild); they may be deleted once this one is saved. */
  readonly supersedes: readonly Buffer[];
  readonly packs: readonly IndexedPack[];
}

/**
 * Plaintext of index/<id> (sealed like every small object):
 *
 *   version (u8) | n (u32) | n superseded index ids (32 bytes each)
 *   | m (u32) | m × [pack id (32) | pack size (u32) | k (u32) | k pack-header entries]
 */
const INDEX_FORMAT_VERSION = 1;
const PACK_PREFIX = BLOB_ID_LENGTH + 4 + 4;

export function encodeIndexFile(content: IndexFileContent): Buffer {
  const blobCount = content.packs.reduce((n, pack) => n + pack.blobs.length, 0);
  const out = Buffer.alloc(1 + 4 + content.supersedes.length * 32 + 4 + content.packs.length * PACK_PREFIX + blobCount * ENTRY_LENGTH);
  let at = 0;
  out[at++] = INDEX_FORMAT_VERSION;
  out.writeUInt32LE(content.supersedes.length, at);
  at += 4;
  for (const id of content.supersedes) at += id.copy(out, at);
  out.writeUInt32LE(content.packs.length, at);
  at += 4;
  for (const pack of content.packs) {
    at += pack.id.copy(out, at);
    out.writeUInt32LE(pack.size, at);
    out.writeUInt32LE(pack.blobs.length, at + 4);
    at += 8;
    for (const blob of pack.blobs) {
      writeEntry(out, at, blob);
      at += ENTRY_LENGTH;
    }
  }
  return out;
}

/** Only the ids of the index files this one supersedes: which files are in force is known before any is decoded in full. */
export function decodeSupersedes(data: Buffer): Buffer[] {
  const supersedes: Buffer[] = [];
  for (let at = 5, end = packsStart(data); at < end; at += 32) supersedes.push(Buffer.from(data.subarray(at, at + 32)));
  return supersedes;
}

/** Where the pack count follows the superseded ids, after checking the version and that the ids are all there. */
function packsStart(data: Buffer): number {
  if (data.length < 5) throw new FormatViolation('index is truncated');
  if (data[0] !== INDEX_FORMAT_VERSION) throw new FormatViolation(`unknown index format ${data[0]}`);
  const start = 5 + data.readUInt32LE(1) * 32;
  if (start > data.length) throw new FormatViolation('index is truncated');
  return start;
}

export function decodeIndexFile(data: Buffer): IndexFileContent {
  const supersedes = decodeSupersedes(data);
  const packs: IndexedPack[] = [];
  forEachIndexedPack(data, (pack) => {
    const blobs: PackedBlob[] = [];
    for (let i = 0, at = pack.start; i < pack.count; i++, at += ENTRY_LENGTH) {
      const blob = readEntry(data, at);
      if (blob.offset + blob.length > pack.size) throw new FormatViolation('a blob lies beyond the end of its pack');
      blobs.push(blob);
    }
    packs.push({ id: Buffer.from(pack.id), size: pack.size, blobs });
  });
  return { supersedes, packs };
}

/** One pack of an index file, its entries left where they are: `count` of them from `start` in the file's bytes. */
export interface IndexedPackEntries {
  /** A view into the file's bytes. */
  readonly id: Buffer;
  readonly size: number;
  readonly start: number;
  readonly count: number;
}

/**
 * Hands each pack of an index file to `visit` with its entries in place (for MemoryIndex.addEntries, which
 * checks them as it reads them); throws FormatViolation where the file's own layout is wrong.
 */
export function forEachIndexedPack(data: Buffer, visit: (pack: IndexedPackEntries) => void): void {
  let at = packsStart(data);
  const need = (n: number) => {
    if (at + n > data.length) throw new FormatViolation('index is truncated');
  };
  need(4);
  const packCount = data.readUInt32LE(at);
  at += 4;
  for (let p = 0; p < packCount; p++) {
    need(PACK_PREFIX);
    const id = data.subarray(at, at + 32);
    const size = data.readUInt32LE(at + 32);
    const count = data.readUInt32LE(at + 36);
    at += PACK_PREFIX;
    need(count * ENTRY_LENGTH);
    visit({ id, size, start: at, count });
    at += count * ENTRY_LENGTH;
  }
  if (at !== data.length) throw new FormatViolation('index has trailing bytes');
}
