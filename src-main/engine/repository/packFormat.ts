import { BLOB_ID_LENGTH } from '../crypto/blobId.js';
import { TAG_LENGTH } from '../crypto/aead.js';

export type BlobType = 'data' | 'tree';

/** Where one blob sits in a pack, as recorded in the pack header and in index files. */
export interface PackedBlob {
  readonly id: Buffer;
  readonly type: BlobType;
  readonly compressed: boolean;
  /** Byte offset of the sealed blob in the pack; also its nonce counter. */
  readonly offset: number;
  /** Stored length: ciphertext plus 16-byte tag. */
  readonly length: number;
  /** Length of the plaintext. */
  readonly rawLength: number;
}

/**
 * A pack file:
 *
 *   sealed blob 0 | sealed blob 1 | … | sealed header | header length (u32 LE)
 *
 * Each blob is AES-256-GCM under the pack key with nonce (PackBlob, offset).
 * The header is sealed with nonce (PackHeader, 0) and lists every blob as a
 * fixed-size entry (see ENTRY_LENGTH); its plaintext starts with a version byte
 * and the entry count.
 */
export const PACK_FORMAT_VERSION = 1;
export const ENTRY_LENGTH = 1 + 1 + BLOB_ID_LENGTH + 4 + 4 + 4;
export const TRAILER_LENGTH = 4;
const HEADER_PREFIX = 1 + 4;

const TYPE_CODES: Record<BlobType, number> = { data: 0, tree: 1 };
const FLAG_COMPRESSED = 1;

/** A reason a header or index is malformed; callers wrap it with the object's name. */
export class FormatViolation extends Error {}

export function writeEntry(target: Buffer, at: number, blob: PackedBlob): void {
  target[at] = TYPE_CODES[blob.type];
  target[at + 1] = blob.compressed ? FLAG_COMPRESSED : 0;
  blob.id.copy(target, at + 2);
  target.writeUInt32LE(blob.offset, at + 2 + BLOB_ID_LENGTH);
  target.writeUInt32LE(blob.length, at + 6 + BLOB_ID_LENGTH);
  target.writeUInt32LE(blob.rawLength, at + 10 + BLOB_ID_LENGTH);
}

export function readEntry(source: Buffer, at: number): PackedBlob {
  const entry = new EntryFields(source);
  entry.check(at);
  return {
    id: Buffer.from(source.subarray(entry.idStart(at), entry.idStart(at) + BLOB_ID_LENGTH)),
    type: entry.isTree(at) ? 'tree' : 'data',
    compressed: entry.isCompressed(at),
    offset: entry.offset(at),
    length: entry.length(at),
    rawLength: entry.rawLength(at),
  };
}

/**
 * The fields of entries (see ENTRY_LENGTH) in `source`, each entry named by where it starts, read in place:
 * for a reader of many entries that keeps only their values (MemoryIndex), without an object and a copy
 * of the id for each.
 */
export class EntryFields {
  constructor(readonly source: Buffer) {}

  /** Throws FormatViolation when the entry at `at` is not one this format writes. */
  check(at: number): void {
    const typeCode = this.source[at];
    const flags = this.source[at + 1] as number;
    if (typeCode !== 0 && typeCode !== 1) throw new FormatViolation(`unknown blob type ${typeCode}`);
    if ((flags & ~FLAG_COMPRESSED) !== 0) throw new FormatViolation(`unknown blob flags ${flags}`);
    const length = this.length(at);
    if (length < TAG_LENGTH) throw new FormatViolation('blob shorter than its tag');
    if (!this.isCompressed(at) && this.rawLength(at) !== length - TAG_LENGTH) throw new FormatViolation('raw length of an uncompressed blob is wrong');
  }

  /** Where the entry's blob id starts in `source`. */
  idStart(at: number): number {
    return at + 2;
  }

  isTree(at: number): boolean {
    return this.source[at] === TYPE_CODES.tree;
  }

  isCompressed(at: number): boolean {
    return ((this.source[at + 1] as number) & FLAG_COMPRESSED) !== 0;
  }

  offset(at: number): number {
    return this.source.readUInt32LE(at + 2 + BLOB_ID_LENGTH);
  }

  length(at: number): number {
    return this.source.readUInt32LE(at + 6 + BLOB_ID_LENGTH);
  }

  rawLength(at: number): number {
    return this.source.readUInt32LE(at + 10 + BLOB_ID_LENGTH);
  }
}

export function encodePackHeader(blobs: readonly PackedBlob[]): Buffer {
  const header = Buffer.alloc(HEADER_PREFIX + blobs.length * ENTRY_LENGTH);
  header[0] = PACK_FORMAT_VERSION;
  header.writeUInt32LE(blobs.length, 1);
  blobs.forEach((blob, i) => writeEntry(header, HEADER_PREFIX + i * ENTRY_LENGTH, blob));
  return header;
}

/** Parses a decrypted pack header and checks that the blobs tile the pack from offset 0 up to `dataLength`. */
export function decodePackHeader(header: Buffer, dataLength: number): PackedBlob[] {
  if (header.length < HEADER_PREFIX) throw new FormatViolation('header too short');
  if (header[0] !== PACK_FORMAT_VERSION) throw new FormatViolation(`unknown pack format ${header[0]}`);
  const count = header.readUInt32LE(1);
  if (header.length !== HEADER_PREFIX + count * ENTRY_LENGTH) throw new FormatViolation('header length does not match its entry count');
  const blobs: PackedBlob[] = [];
  let expectedOffset = 0;
  for (let i = 0; i < count; i++) {
    const blob = readEntry(header, HEADER_PREFIX + i * ENTRY_LENGTH);
    if (blob.offset !== expectedOffset) throw new FormatViolation(`blob ${i} is not where the previous one ends`);
    expectedOffset += blob.length;
    blobs.push(blob);
  }
  if (expectedOffset !== dataLength) throw new FormatViolation('blobs do not fill the pack');
  return blobs;
}
