import { closeSync, constants as fsConstants, fstatSync, openSync, readSync } from 'node:fs';
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { Chunker, type ChunkerParams } from '../chunker/fastCdc.js';
import { computeBlobId } from '../crypto/blobId.js';
import { ScratchCompressor } from '../repository/blobCodec.js';

export interface FileWorkerData {
  readonly blobIdKey: Uint8Array;
  readonly gear: Uint32Array;
  readonly chunker: ChunkerParams;
  readonly level: number;
  /** One Int32: bytes posted to the main thread and not yet released by it; shared by every file worker. */
  readonly credits: SharedArrayBuffer;
  readonly maxCredits: number;
  /** Where the main thread hands back the buffers of chunks it has packed, for reuse. */
  readonly returns: MessagePort;
}

export interface ReadRequest {
  readonly path: Uint8Array;
  /**
   * Ids of chunks the file had at its last backup that the repository holds, concatenated: a chunk
   * with one of these ids is sent as its id alone, neither compressed nor copied.
   */
  readonly stored: Uint8Array;
}

/** Files to read one after the other; the worker answers each in turn. */
export interface ReadBatch {
  readonly files: readonly ReadRequest[];
}

export type FileMessage =
  | {
      readonly type: 'chunk';
      readonly id: Uint8Array;
      readonly body: Uint8Array;
      readonly compressed: boolean;
      readonly rawLength: number;
    }
  | { readonly type: 'stored'; readonly id: Uint8Array; readonly rawLength: number }
  | { readonly type: 'done'; readonly bytes: number; readonly size: bigint; readonly mtimeNs: bigint }
  | { readonly type: 'failed'; readonly code: string | undefined; readonly message: string };

/** What a worker posts: its messages in order, several at once. */
export interface FileMessages {
  readonly messages: readonly FileMessage[];
}

const BLOCK_SIZE = 4 * 1024 * 1024;
/** Chunk bytes gathered before posting: a batch of small files goes back in one or a few messages, not two per file. */
const OUTBOX_BYTES = 1024 * 1024;
/** Bytes read as chunks the repository holds before posting: their messages are tiny, but progress counts their bytes. */
const OUTBOX_STORED_BYTES = 64 * 1024 * 1024;

/**
 * Worker thread: reads one file at a time with synchronous calls (no event
 * loop round trip per system call), cuts it into content-defined chunks,
 * computes each chunk's id and compresses it, and posts the chunks to the
 * main thread in order, which deduplicates, encrypts and packs them.
 *
 * The main thread releases a chunk's bytes once it is in a pack; a worker
 * waits while more than `maxCredits` bytes are out, so memory stays bounded
 * however fast files are read.
 */
const data = workerData as FileWorkerData;
const key = Buffer.from(data.blobIdKey);
const credits = new Int32Array(data.credits);
const chunker = new Chunker(data.gear, data.chunker);
const compressor = new ScratchCompressor(data.level);
const block = Buffer.allocUnsafeSlow(BLOCK_SIZE);
/** The start of a chunk that began in an earlier block, and then the whole chunk once it ends. */
const carry = Buffer.allocUnsafeSlow(data.chunker.maxSize);
const ID_LENGTH = 32;
/**
 * Buffers handed back by the main thread. Reusing them instead of allocating one per chunk keeps the
 * main thread from holding tens of MB of packed chunks as garbage until its next collection.
 */
const spare: ArrayBuffer[] = [];
const SPARE_BUFFERS = 4;
const outbox: FileMessage[] = [];
const outboxTransfer: ArrayBuffer[] = [];
let outboxBytes = 0;
let outboxStoredBytes = 0;

parentPort?.on('message', ({ files }: ReadBatch) => {
  for (const file of files) post(readRequested(file));
  flush();
});

function post(message: FileMessage, transfer?: ArrayBuffer): void {
  outbox.push(message);
  if (!transfer) return;
  outboxTransfer.push(transfer);
  outboxBytes += transfer.byteLength;
  if (outboxBytes >= OUTBOX_BYTES) flush();
}

function flush(): void {
  if (outbox.length === 0) return;
  const batch: FileMessages = { messages: outbox.splice(0) };
  parentPort?.postMessage(batch, outboxTransfer.splice(0));
  outboxBytes = 0;
  outboxStoredBytes = 0;
}

function readRequested({ path, stored }: ReadRequest): FileMessage {
  const known = new Set<string>();
  for (let at = 0; at + ID_LENGTH <= stored.byteLength; at += ID_LENGTH) known.add(Buffer.from(stored.buffer, stored.byteOffset + at, ID_LENGTH).toString('hex'));
  try {
    return readFile(Buffer.from(path.buffer, path.byteOffset, path.byteLength), known);
  } catch (err) {
    chunker.finish();
    return { type: 'failed', code: (err as NodeJS.ErrnoException).code, message: (err as Error).message };
  }
}

function readFile(path: Buffer, known: ReadonlySet<string>): FileMessage {
  // O_NONBLOCK: a name that became a named pipe since the walk looked at it would block the open until a
  // writer comes, in a synchronous call that not even worker.terminate() interrupts. Regular files ignore it.
  const fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  try {
    if (!fstatSync(fd).isFile()) return { type: 'failed', code: undefined, message: 'it is no longer a regular file' };
    let carried = 0;
    let bytes = 0;
    for (;;) {
      const bytesRead = readSync(fd, block, 0, BLOCK_SIZE, bytes);
      if (bytesRead === 0) break;
      const view = block.subarray(0, bytesRead);
      bytes += bytesRead;
      let offset = 0;
      for (const length of chunker.push(view)) {
        const take = length - carried;
        // A chunk inside this block is used where it lies; one that began earlier is completed in `carry`.
        if (carried === 0) send(view.subarray(offset, offset + take), known);
        else send(carry.subarray(0, carried + view.copy(carry, carried, offset, offset + take)), known);
        offset += take;
        carried = 0;
      }
      // The start of the next chunk waits in `carry`, so the read buffer can be reused.
      carried += view.copy(carry, carried, offset);
    }
    const last = chunker.finish();
    if (last > 0) send(carry.subarray(0, last), known);
    const after = fstatSync(fd, { bigint: true });
    return { type: 'done', bytes, size: after.size, mtimeNs: after.mtimeNs };
  } finally {
    closeSync(fd);
  }
}

/**
 * Sends one chunk, which lies in a reused buffer: what is posted is always a copy of its own, transferred.
 * A chunk the repository holds already goes as its id alone: after an edit most of a large file is such
 * chunks, and copying them out only for the main thread to drop them cost memory and page faults.
 */
function send(chunk: Uint8Array, known: ReadonlySet<string>): void {
  const id = computeBlobId(key, chunk);
  // A copy of the id: a Buffer may be a view of a shared pool, and posting a view clones its whole ArrayBuffer.
  if (known.has(id.toString('hex'))) {
    post({ type: 'stored', id: new Uint8Array(id), rawLength: chunk.byteLength });
    outboxStoredBytes += chunk.byteLength;
    if (outboxStoredBytes >= OUTBOX_STORED_BYTES) flush();
    return;
  }
  const { body, compressed } = compressor.prepare(chunk, allocate);
  acquire(body.byteLength);
  post({ type: 'chunk', id: new Uint8Array(id), body, compressed, rawLength: chunk.byteLength }, body.buffer as ArrayBuffer);
}

/** Waits until `bytes` more fit under the shared limit (a chunk larger than the limit goes alone). */
function acquire(bytes: number): void {
  for (;;) {
    const used = Atomics.load(credits, 0);
    if (used === 0 || used + bytes <= data.maxCredits) {
      Atomics.add(credits, 0, bytes);
      return;
    }
    // The main thread can only release what it has received.
    flush();
    Atomics.wait(credits, 0, used, 100);
  }
}

/** A buffer of `length` bytes for a chunk to post: the smallest returned one that fits, else a new one. */
function allocate(length: number): Uint8Array {
  for (let returned = receiveMessageOnPort(data.returns); returned; returned = receiveMessageOnPort(data.returns)) {
    if (spare.length < SPARE_BUFFERS) spare.push(returned.message as ArrayBuffer);
  }
  let best = -1;
  for (const [i, buffer] of spare.entries()) {
    if (buffer.byteLength >= length && (best < 0 || buffer.byteLength < (spare[best] as ArrayBuffer).byteLength)) best = i;
  }
  if (best < 0) return new Uint8Array(length);
  const [buffer] = spare.splice(best, 1);
  return new Uint8Array(buffer as ArrayBuffer, 0, length);
}
