import { BLOB_ID_LENGTH } from '../crypto/blobId.js';
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

/** Room for `count` chunks, for putChunk to fill. */
export function chunkTable(count: number): PackedChunks {
  return { chunks: new Float64Array(CHUNK_FIELDS * count), ids: new Uint8Array(BLOB_ID_LENGTH * count) };
}

/** Writes `blob` as chunk number `index`. */
export function putChunk({ chunks, ids }: PackedChunks, index: number, blob: SealedBlob): void {
  const c = CHUNK_FIELDS * index;
  chunks[c + ChunkField.key] = blob.key;
  chunks[c + ChunkField.at] = blob.at;
  chunks[c + ChunkField.length] = blob.length;
  chunks[c + ChunkField.offset] = blob.offset;
  chunks[c + ChunkField.compressed] = blob.compressed ? 1 : 0;
  chunks[c + ChunkField.rawLength] = blob.rawLength;
  ids.set(blob.id, BLOB_ID_LENGTH * index);
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
