import { BLOB_ID_LENGTH } from '../crypto/blobId.js';
import type { MemoryIndex } from '../repository/memoryIndex.js';
import type { SealedBlob } from '../repository/sealedBlobs.js';

/** Where sealed chunks lie in a buffer of sealed bytes, as SealedBlobs say, packed into two arrays. */
export interface PackedChunks {
  /** CHUNK_FIELDS per chunk (see ChunkField). */
  readonly chunks: Float64Array;
  /** The chunks' ids, BLOB_ID_LENGTH bytes each. */
  readonly ids: Uint8Array;
}

const ChunkField = { key: 0, at: 1, length: 2, offset: 3, compressed: 4, rawLength: 5 } as const;
export const CHUNK_FIELDS = 6;

/** Room for `count` chunks, for putIndexedChunk to fill. */
export function chunkTable(count: number): PackedChunks {
  return { chunks: new Float64Array(CHUNK_FIELDS * count), ids: new Uint8Array(BLOB_ID_LENGTH * count) };
}

/**
 * Writes index entry `entry` of `blobs` as chunk number `index`, sealed with key number `key` at `at` of
 * the sealed bytes: its fields read from the index one by one, no location object made (see MemoryIndex).
 */
export function putIndexedChunk(packed: PackedChunks, index: number, key: number, at: number, blobs: MemoryIndex, entry: number): void {
  putChunkFields(packed, index, key, at, blobs.lengthOf(entry), blobs.offsetOf(entry), blobs.isCompressed(entry), blobs.rawLengthOf(entry));
  blobs.copyId(entry, packed.ids, BLOB_ID_LENGTH * index);
}

/** Writes chunk number `index`'s fields as SealedBlob names them. */
function putChunkFields({ chunks }: PackedChunks, index: number, key: number, at: number, length: number, offset: number, compressed: boolean, rawLength: number): void {
  const c = CHUNK_FIELDS * index;
  chunks[c + ChunkField.key] = key;
  chunks[c + ChunkField.at] = at;
  chunks[c + ChunkField.length] = length;
  chunks[c + ChunkField.offset] = offset;
  chunks[c + ChunkField.compressed] = compressed ? 1 : 0;
  chunks[c + ChunkField.rawLength] = rawLength;
}

/** Copies chunk `from` of `source` to chunk `to` of `target`. */
export function copyChunk(source: PackedChunks, from: number, target: PackedChunks, to: number): void {
  // Element by element: views to copy from with `set` were two objects per chunk.
  for (let i = 0; i < CHUNK_FIELDS; i++) target.chunks[CHUNK_FIELDS * to + i] = source.chunks[CHUNK_FIELDS * from + i] as number;
  for (let i = 0; i < BLOB_ID_LENGTH; i++) target.ids[BLOB_ID_LENGTH * to + i] = source.ids[BLOB_ID_LENGTH * from + i] as number;
}

/** Chunk `index` as a SealedBlob of its own: plain data (with a copy of its id), for a message of objects. */
export function sealedBlobAt(packed: PackedChunks, index: number): SealedBlob {
  const chunk = new PackedChunk(packed).moveTo(index);
  return { key: chunk.key, at: chunk.at, length: chunk.length, offset: chunk.offset, compressed: chunk.compressed, rawLength: chunk.rawLength, id: chunk.id.slice() };
}

/**
 * A SealedBlob read from packed chunks: one object moved from chunk to chunk (`moveTo`), so opening a
 * chunk makes no object of its own.
 */
export class PackedChunk implements SealedBlob {
  private base = 0;
  private chunk = 0;

  constructor(private readonly packed: PackedChunks) {}

  /** Moves to chunk number `chunk`. */
  moveTo(chunk: number): this {
    this.chunk = chunk;
    this.base = CHUNK_FIELDS * chunk;
    return this;
  }

  get key(): number {
    return this.packed.chunks[this.base + ChunkField.key] as number;
  }

  get at(): number {
    return this.packed.chunks[this.base + ChunkField.at] as number;
  }

  get length(): number {
    return this.packed.chunks[this.base + ChunkField.length] as number;
  }

  get offset(): number {
    return this.packed.chunks[this.base + ChunkField.offset] as number;
  }

  get compressed(): boolean {
    return this.packed.chunks[this.base + ChunkField.compressed] === 1;
  }

  get rawLength(): number {
    return this.packed.chunks[this.base + ChunkField.rawLength] as number;
  }

  get id(): Uint8Array {
    return this.packed.ids.subarray(BLOB_ID_LENGTH * this.chunk, BLOB_ID_LENGTH * (this.chunk + 1));
  }
}
