import { HindsightError } from '../../../src-shared/errors.js';
import { gatherSealedBlobs, gatheredRow, type SealedBlobs } from '../repository/blobBatch.js';
import { sealedBlobAt } from '../workers/packedChunks.js';
import type { Repository } from '../repository/repository.js';
import type { FilePiece } from '../workers/fileWriter.js';
import type { LargeFileWriting } from './fileWriterPool.js';
import type { ZeroChunks } from './zeroChunks.js';

/**
 * A segment of a large file ends once its chunks hold this many sealed bytes (a chunk larger than that
 * is a segment alone): two segments per file in memory at once, the one being written and the one being
 * read, so each large file restored at once holds a chunk or two twice, sealed, instead of two chunks
 * sealed and their plaintext. 1 MiB against 2: peak RSS of the 1 GiB benchmark set's restore 250–260
 * against 280 MB, and no slower.
 */
const SEGMENT_SEALED_BYTES = 1024 * 1024;
/** …or this many bytes of content (chunks of zeros take almost nothing sealed), so progress and a stop come between segments. */
const SEGMENT_BYTES = 64 * 1024 * 1024;

/** Chunks `first` to `end` (excluded) of a file, gathered for a writer thread. */
interface Segment {
  readonly first: number;
  readonly end: number;
  readonly pieces: FilePiece[];
  /** The id of each piece, for the chunks the writer finds to be zeros and the ones it cannot open. */
  readonly ids: Buffer[];
  readonly gathered: SealedBlobs;
}

export interface LargeFileContentOptions {
  readonly zeroChunks: ZeroChunks;
  /** Buffers shared with the writer threads, which the sealed chunks are read into. */
  readonly buffers: { take(size: number): Uint8Array; give(view: Uint8Array): void };
  /** Called between segments: throws to stop. */
  readonly checkpoint: () => void;
  /** Bytes of the file written (or left as holes) so far, after each segment. */
  readonly onBytes: (bytes: number) => void;
}

/**
 * Sends a large file's chunks to the writer thread writing it, a segment at a time: the main thread
 * reads each segment's chunks from their packs, still sealed (the next segment while the writer opens
 * and writes this one), and the writer decrypts, decompresses, checks and writes them. A chunk known to
 * hold only zeros is neither read nor sent: its length is all the writer needs, to leave a hole. Returns
 * the bytes written.
 */
export async function sendLargeFileContent(repository: Repository, ids: readonly Buffer[], writing: LargeFileWriting, options: LargeFileContentOptions): Promise<number> {
  let written = 0;
  let next = ids.length > 0 ? gatherSegment(repository, ids, 0, options) : undefined;
  while (next) {
    const segment = await next;
    try {
      options.checkpoint();
      next = segment.end < ids.length ? gatherSegment(repository, ids, segment.end, options) : undefined;
      // A failure of the next read is seen when it is awaited; unseen, it would end the process.
      next?.catch(() => undefined);
      const bytes = await writeSegment(repository, segment, writing, options);
      written += bytes;
      options.onBytes(bytes);
    } finally {
      options.buffers.give(segment.gathered.sealed);
    }
  }
  return written;
}

/** Reads the chunks of the segment that starts at chunk `first`, still sealed; a chunk the index lacks or whose pack could not be read is loaded by loadBlob, which finds another copy or names the failure. */
async function gatherSegment(repository: Repository, ids: readonly Buffer[], first: number, options: LargeFileContentOptions): Promise<Segment> {
  let end = first;
  let sealedBytes = 0;
  let bytes = 0;
  const sealedIds: Buffer[] = [];
  while (end < ids.length && (end === first || (sealedBytes < SEGMENT_SEALED_BYTES && bytes < SEGMENT_BYTES))) {
    const id = ids[end] as Buffer;
    end += 1;
    const zeros = options.zeroChunks.lengthOf(id);
    if (zeros !== undefined) {
      bytes += zeros;
      continue;
    }
    sealedIds.push(id);
    const entry = repository.index.entryOf(id);
    if (entry < 0) continue;
    const { length, rawLength } = repository.index.location(entry);
    sealedBytes += length;
    bytes += rawLength;
  }
  const gathered = await gatherSealedBlobs(repository, sealedIds, options.buffers);
  const pieces: FilePiece[] = [];
  try {
    for (const id of ids.slice(first, end)) {
      const zeros = options.zeroChunks.lengthOf(id);
      const row = zeros === undefined ? gatheredRow(gathered, repository.index.entryOf(id)) : -1;
      if (zeros !== undefined) pieces.push({ zeros });
      else if (row >= 0) pieces.push({ blob: sealedBlobAt(gathered.table, row) });
      else pieces.push({ bytes: await repository.loadBlob(id) });
    }
  } catch (err) {
    options.buffers.give(gathered.sealed);
    throw err;
  }
  return { first, end, pieces, ids: ids.slice(first, end), gathered };
}

/**
 * Has the writer append a segment; returns its bytes. A chunk the writer could not open (damaged where
 * the batch read it) is loaded by loadBlob, from another copy where the repository has one, and the
 * segment goes on from there; a chunk damaged everywhere fails the file.
 */
async function writeSegment(repository: Repository, segment: Segment, writing: LargeFileWriting, options: LargeFileContentOptions): Promise<number> {
  let pieces = segment.pieces;
  let ids = segment.ids;
  let bytes = 0;
  for (;;) {
    const answer = await writing.append(pieces, segment.gathered);
    for (const i of answer.zeros) options.zeroChunks.remember(ids[i] as Buffer, pieceLength(pieces[i] as FilePiece));
    for (const piece of pieces.slice(0, answer.appended)) bytes += pieceLength(piece);
    if (answer.appended === pieces.length) return bytes;
    if (!answer.unopened) throw new HindsightError('E_WRITE', `could not write the file: ${answer.error ?? 'the writer thread stopped'}`);
    const failed = answer.appended;
    pieces = [{ bytes: await repository.loadBlob(ids[failed] as Buffer) }, ...pieces.slice(failed + 1)];
    ids = ids.slice(failed);
  }
}

function pieceLength(piece: FilePiece): number {
  if ('zeros' in piece) return piece.zeros;
  if ('bytes' in piece) return piece.bytes.byteLength;
  return piece.blob.rawLength;
}
