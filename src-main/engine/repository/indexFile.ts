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
  if (data.length < 5) throw new FormatViolation('index is truncated');
  if (data[0] !== INDEX_FORMAT_VERSION) throw new FormatViolation(`unknown index format ${data[0]}`);
  const count = data.readUInt32LE(1);
  if (5 + count * 32 > data.length) throw new FormatViolation('index is truncated');
  const supersedes: Buffer[] = [];
  for (let i = 0, at = 5; i < count; i++, at += 32) supersedes.push(Buffer.from(data.subarray(at, at + 32)));
  return supersedes;
}

export function decodeIndexFile(data: Buffer): IndexFileContent {
  const supersedes = decodeSupersedes(data);
  let at = 5 + supersedes.length * 32;
  const need = (n: number) => {
    if (at + n > data.length) throw new FormatViolation('index is truncated');
  };
  need(4);
  const packCount = data.readUInt32LE(at);
  at += 4;
  const packs: IndexedPack[] = [];
  for (let p = 0; p < packCount; p++) {
    need(PACK_PREFIX);
    const id = Buffer.from(data.subarray(at, at + 32));
    const size = data.readUInt32LE(at + 32);
    const count = data.readUInt32LE(at + 36);
    at += PACK_PREFIX;
    need(count * ENTRY_LENGTH);
    const blobs: PackedBlob[] = [];
    for (let i = 0; i < count; i++, at += ENTRY_LENGTH) {
      const blob = readEntry(data, at);
      if (blob.offset + blob.length > size) throw new FormatViolation('a blob lies beyond the end of its pack');
      blobs.push(blob);
    }
    packs.push({ id, size, blobs });
  }
  if (at !== data.length) throw new FormatViolation('index has trailing bytes');
  return { supersedes, packs };
}
