import { fstatSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { Chunker, type ChunkerParams } from '../chunker/fastCdc.js';
import { BLOB_ID_LENGTH, computeBlobId } from '../crypto/blobId.js';
import { SlotCompressor } from '../repository/blobCodec.js';
import { ChunkKind, FileAnswersOutbox, transferables, type FileEnd } from './fileAnswers.js';
import { closeFile, openForReading } from './fileOpening.js';
import { RecentChunks } from './recentChunks.js';
import { lowerThreadPriority } from './threadPriority.js';
import { ZeroChunkIds } from './zeroChunkIds.js';

export interface FileWorkerData {
  readonly blobIdKey: Uint8Array;
  readonly gear: Uint32Array;
  readonly chunker: ChunkerParams;
  readonly level: number;
  /**
   * This worker's chunk ring: each chunk's stored form is written here (contiguous, wrapping to the
   * start when it does not fit at the end) and the main thread encrypts it into a pack from here.
   * Its size is a power of two, at least twice the largest chunk.
   */
  readonly ring: SharedArrayBuffer;
  /** One Int32: the ring's bytes the main thread has released, in order, counted from 0 and wrapping at 2^32. */
  readonly released: SharedArrayBuffer;
}

export interface ReadRequest {
  /**
   * The path's bytes as a latin1 string (one character per byte, so any name round-trips). A string
   * crosses to the thread as one copy; typed arrays made a batch of 14 new files cost 31 µs to post
   * instead of 6.
   */
  readonly path: string;
  /**
   * The file's chunks at its last backup, absent for a new file: their ids in order, concatenated, and
   * their lengths, 0 for a chunk the repository does not hold. A chunk the repository holds is sent as
   * its id alone, neither compressed nor copied; one found where it was is not even cut again.
   */
  readonly previous?: { readonly ids: Uint8Array; readonly lengths: Uint32Array };
}

/** Files to read one after the other; the worker answers each in turn. */
export interface ReadBatch {
  readonly files: readonly ReadRequest[];
}

const BLOCK_SIZE = 4 * 1024 * 1024;
/**
 * Below the main thread (see lowerThreadPriority). 5 steps give the main thread about three times a
 * worker's share of a contended core. Backup after a 2% change, 256 MiB set, 5 alternating rounds:
 * 0.88 -> 0.81 s (10 steps: 0.80 s); a first backup took as long as before.
 */
const WORKER_NICENESS = 5;
/** Chunk bytes gathered before posting: a batch of small files goes back in one or a few messages, not two per file. */
const OUTBOX_BYTES = 1024 * 1024;
/** Bytes read as chunks the repository holds before posting: each is a few numbers and an id, but progress counts their bytes. */
const OUTBOX_STORED_BYTES = 64 * 1024 * 1024;
/** Chunks remembered as sent (see RecentChunks): a few hundred 64-character strings. */
const RECENT_CHUNKS = 256;

/**
 * Worker thread: reads one file at a time with synchronous calls (no event
 * loop round trip per system call), cuts it into content-defined chunks,
 * computes each chunk's id and compresses it, and posts the chunks to the
 * main thread in order, which deduplicates, encrypts and packs them.
 *
 * A chunk's stored form goes to the main thread through this worker's ring
 * (shared memory), which the main thread releases in order once each chunk
 * is in a pack; a worker waits while the ring is full, so memory stays
 * bounded however fast files are read.
 */
const data = workerData as FileWorkerData;
lowerThreadPriority(WORKER_NICENESS);
const key = Buffer.from(data.blobIdKey);
const ring = Buffer.from(data.ring);
const released = new Int32Array(data.released);
/** Ring bytes handed out so far, counted like `released` (wrapping at 2^32). */
let produced = 0;
/** Where in the ring byte count `produced` lies, less `produced` itself: set each time the ring is found empty (see allocate). */
let shift = 0;
const chunker = new Chunker(data.gear, data.chunker);
const recent = new RecentChunks(RECENT_CHUNKS);
const zeroIds = new ZeroChunkIds(key);
const compressor = new SlotCompressor(data.level);
const block = Buffer.allocUnsafeSlow(BLOCK_SIZE);
/** Where a chunk too large for the ring is prepared (see send); made when one first comes. */
let aside = Buffer.alloc(0);
/** The start of a chunk that began in an earlier block, and then the whole chunk once it ends. */
const carry = Buffer.allocUnsafeSlow(data.chunker.maxSize);
const outbox = new FileAnswersOutbox();
let outboxBytes = 0;
let outboxStoredBytes = 0;

parentPort?.on('message', ({ files }: ReadBatch) => {
  for (const file of files) outbox.end(readRequested(file));
  flush();
});

/** A chunk with its stored form (in the ring, or `body` beside it), posted once enough bytes wait. */
function postChunk(kind: number, id: Uint8Array, offset: number, length: number, span: number, rawLength: number, compressed: boolean, body?: Uint8Array): void {
  outbox.chunk(kind, id, offset, length, span, rawLength, compressed, body);
  outboxBytes += length;
  if (outboxBytes >= OUTBOX_BYTES) flush();
}

function flush(): void {
  if (outbox.empty) return;
  const answers = outbox.take();
  parentPort?.postMessage(answers, transferables(answers));
  outboxBytes = 0;
  outboxStoredBytes = 0;
}

/** The file's chunks at its last backup, in order: their ids (hex) and lengths, 0 for a chunk the repository does not hold. */
interface Previous {
  readonly ids: readonly string[];
  readonly lengths: Uint32Array;
  /** Ids the repository holds: chunks with these ids are sent as ids alone. */
  readonly known: ReadonlySet<string>;
  /** Where each id last occurs in `ids`. */
  readonly at: ReadonlyMap<string, number>;
}

const NO_PREVIOUS = { ids: new Uint8Array(0), lengths: new Uint32Array(0) };

function readRequested({ path, previous = NO_PREVIOUS }: ReadRequest): FileEnd {
  const { lengths } = previous;
  const ids: string[] = [];
  const known = new Set<string>();
  const at = new Map<string, number>();
  for (let i = 0; i < lengths.length; i++) {
    const id = Buffer.from(previous.ids.buffer, previous.ids.byteOffset + i * BLOB_ID_LENGTH, BLOB_ID_LENGTH).toString('hex');
    ids.push(id);
    at.set(id, i);
    if ((lengths[i] as number) > 0) known.add(id);
  }
  try {
    return readFile(Buffer.from(path, 'latin1'), { ids, lengths, known, at });
  } catch (err) {
    chunker.finish();
    return { type: 'failed', code: (err as NodeJS.ErrnoException).code, message: (err as Error).message };
  }
}

/**
 * Reads a file as chunks. Where the file still holds its previous chunks, they are recognised by their
 * hash alone: at a chunk boundary, the bytes that follow are compared (by id) with the previous chunk
 * expected there, and if they match, the chunker would cut exactly where it cut before (its cuts depend
 * only on the bytes since the last cut, and every chunk but a file's last ended at a cut), so it need not
 * run over them. After an append or an edit the chunker runs from the first chunk that differs until it
 * produces a chunk the file had before, and the comparison takes over again from there. Hashing runs
 * at several times the chunker's speed, so a large file with a small change is read at nearly that rate.
 */
function readFile(path: Buffer, previous: Previous): FileEnd {
  // The previous chunk expected at `offset` (a chunk boundary), or -1 when none can be compared there.
  let expected = comparable(previous, 0);
  // Where no previous chunk is compared at the start, the first block is read as the file is opened (with
  // its flags: one system call more on a file open anyway, where by path they cost an open and a close).
  const file = openForReading(path, block, expected >= 0 ? 0 : BLOCK_SIZE);
  try {
    if (!file.regular) return { type: 'failed', code: undefined, message: 'it is no longer a regular file' };
    const size = Number(file.size);
    let offset = 0;
    let chunked = 0;
    let reads = 0;
    let firstRead = expected >= 0 ? -1 : file.firstRead;
    for (;;) {
      if (expected >= 0 && matches(file.fd, offset, previous, expected)) {
        const length = previous.lengths[expected] as number;
        sendStored(Buffer.from(previous.ids[expected] as string, 'hex'), length);
        offset += length;
        // One read; a previous chunk is compared only where another follows (see comparable), so more come.
        reads += 1;
        expected = comparable(previous, expected + 1);
        continue;
      }
      const stop = chunkFrom(file.fd, offset, size, previous, firstRead);
      firstRead = -1;
      chunked += stop.offset - offset;
      offset = stop.offset;
      reads += stop.reads;
      if (stop.expected < 0) break;
      expected = stop.expected;
    }
    // A file read in one call was read as the stat just before it shows it (a change during that one call
    // is not seen; the files cache keeps the walk's stat, so the next backup reads it again). A file read
    // in several calls is looked at again, to tell a change while it was being read.
    const after = reads > 1 ? fstatSync(file.fd, { bigint: true }) : file;
    return { type: 'done', bytes: offset, chunked, size: after.size, mtimeNs: after.mtimeNs, ...(file.flags ? { flags: file.flags } : {}) };
  } finally {
    closeFile(file);
  }
}

/** `index` if that previous chunk can be compared at a boundary: one the repository holds, and not the file's last (which ended at the end of the file, not at a cut). */
function comparable(previous: Previous, index: number): number {
  return index < previous.ids.length - 1 && (previous.lengths[index] as number) > 0 && (previous.lengths[index] as number) <= carry.length ? index : -1;
}

/** Whether the bytes at `offset` are previous chunk `index`, read into `carry`. */
function matches(fd: number, offset: number, previous: Previous, index: number): boolean {
  const length = previous.lengths[index] as number;
  let got = 0;
  while (got < length) {
    const bytesRead = readSync(fd, carry, got, length - got, offset + got);
    if (bytesRead === 0) return false;
    got += bytesRead;
  }
  return computeBlobId(key, carry.subarray(0, length)).toString('hex') === previous.ids[index];
}

/**
 * Runs the chunker from `offset` (a chunk boundary) and sends the chunks it cuts, until the end of the
 * file, or until it cuts a chunk the file had before, after which the next previous chunk can be compared.
 * Returns where it stopped and that chunk's index (-1 at the end of the file). `firstRead`, unless
 * negative: the first block is in `block` already, that many bytes read as the file was opened.
 */
function chunkFrom(fd: number, offset: number, size: number, previous: Previous, firstRead: number): { offset: number; expected: number; reads: number } {
  let carried = 0;
  let position = offset;
  let boundary = offset;
  let reads = 0;
  for (;;) {
    const bytesRead = reads === 0 && firstRead >= 0 ? firstRead : readSync(fd, block, 0, BLOCK_SIZE, position);
    reads += 1;
    if (bytesRead === 0) break;
    const view = block.subarray(0, bytesRead);
    position += bytesRead;
    let at = 0;
    for (const length of chunker.push(view)) {
      const take = length - carried;
      // A chunk inside this block is used where it lies; one that began earlier is completed in `carry`.
      const id = carried === 0 ? send(view.subarray(at, at + take), previous.known) : send(carry.subarray(0, carried + view.copy(carry, carried, at, at + take)), previous.known);
      at += take;
      carried = 0;
      boundary += length;
      const seen = previous.at.get(id);
      // A file read whole at opening is closed already: its chunks are all cut from the block in hand.
      const next = seen === undefined || fd < 0 ? -1 : comparable(previous, seen + 1);
      if (next >= 0) {
        // The chunker has run past this boundary into the rest of the block: start it afresh there.
        chunker.finish();
        return { offset: boundary, expected: next, reads };
      }
    }
    // The start of the next chunk waits in `carry`, so the read buffer can be reused.
    carried += view.copy(carry, carried, at);
    // A short read that reached the size the file had when opened is its end: the read that would return
    // nothing is one system call of six per small file (first backup of a 78,579-file source tree: 160,798
    // preads, half of them empty). A file that grew meanwhile is read on; its second stat tells the change.
    if (bytesRead < BLOCK_SIZE && position >= size) break;
  }
  const last = chunker.finish();
  if (last > 0) send(carry.subarray(0, last), previous.known);
  return { offset: boundary + last, expected: -1, reads };
}

/**
 * Sends one chunk, which lies in a reused buffer: its stored form is copied into the ring.
 * A chunk the repository holds already goes as its id alone: after an edit most of a large file is such
 * chunks, and copying them out only for the main thread to drop them cost memory and page faults. So
 * does a chunk this worker sent with its content a little earlier (RecentChunks).
 * Returns the chunk's id, in hex.
 */
function send(chunk: Uint8Array, known: ReadonlySet<string>): string {
  const id = zeroIds.idOf(chunk) ?? computeBlobId(key, chunk);
  const hex = id.toString('hex');
  if (known.has(hex) || recent.has(hex)) {
    sendStored(id, chunk.byteLength);
    return hex;
  }
  const slotLength = compressor.slotLength(chunk.byteLength);
  if (slotLength > ring.length / 2) {
    // Only a chunk of half the ring or less is sure to find room in it (see allocate): a larger one, rare
    // (chunks are 1 MiB on average), is prepared aside and sent as a copy of its stored form.
    if (aside.length < slotLength) aside = Buffer.allocUnsafeSlow(slotLength);
    const { body, compressed } = compressor.prepareInto(chunk, aside.subarray(0, slotLength));
    postChunk(ChunkKind.aside, id, 0, body.byteLength, 0, chunk.byteLength, compressed, new Uint8Array(body));
    recent.add(hex);
    return hex;
  }
  const before = produced;
  const slot = allocate(slotLength);
  const { body, compressed } = compressor.prepareInto(chunk, slot);
  // What compression saved goes back to the ring at once: nothing was handed out after the slot.
  produced = (produced - (slot.byteLength - body.byteLength)) | 0;
  // `body` lies in the ring; the span adds the bytes `allocate` skipped at the ring's end for it.
  const offset = body.byteOffset - ring.byteOffset;
  const span = (produced - before) | 0;
  postChunk(ChunkKind.ring, id, offset, body.byteLength, span, chunk.byteLength, compressed);
  recent.add(hex);
  return hex;
}

function sendStored(id: Buffer, rawLength: number): void {
  outbox.chunk(ChunkKind.stored, id, 0, 0, 0, rawLength, false);
  outboxStoredBytes += rawLength;
  if (outboxStoredBytes >= OUTBOX_STORED_BYTES) flush();
}

/**
 * The next `length` bytes of the ring, contiguous, from its start when it is empty: where they would run
 * past its end, the bytes up to the end are skipped (and released with this chunk). Waits while the main thread still holds them.
 * A chunk sent through the ring is at most half of it (see send), so an empty ring always has room.
 */
function allocate(length: number): Uint8Array {
  for (;;) {
    const done = Atomics.load(released, 0);
    // An empty ring starts over at its start, so only as much of it is touched as is ever in flight at once:
    // backing up small files, that is little of it. Only where bytes lie moves (`shift`), not the count of
    // bytes in flight: counting the rest of the ring as skipped, as at its end, held up to all of it until
    // that chunk was packed, and the worker waited (linux tree's first backup onto ext4: 3-4% slower).
    if (produced === done) shift = -produced & (ring.length - 1);
    const position = (produced + shift) & (ring.length - 1);
    const skip = position + length > ring.length ? ring.length - position : 0;
    if (((produced - done) | 0) + skip + length <= ring.length) {
      const offset = skip > 0 ? 0 : position;
      produced = (produced + skip + length) | 0;
      return ring.subarray(offset, offset + length);
    }
    // The main thread can only release what it has received.
    flush();
    Atomics.wait(released, 0, done, 100);
  }
}
