import { Worker } from 'node:worker_threads';
import type { ChunkerParams } from '../chunker/fastCdc.js';
import { BLOB_ID_LENGTH } from '../crypto/blobId.js';
import { CHUNK_FIELDS, ChunkField, ChunkKind, END_FIELDS, EndField, fileEnd, type FileAnswers } from '../workers/fileAnswers.js';
import type { FileWorkerData, ReadBatch, ReadRequest } from '../workers/fileWorker.js';
import { workerScript } from '../workers/workerScript.js';
import type { BlobSaver } from './blobSaver.js';
import type { FileFlags } from '../metadata/fileFlags.js';

/** What a file held when it was read, and what it looked like just after. */
export interface FileContent {
  readonly ids: Buffer[];
  readonly bytes: number;
  /** Of `bytes`, those the chunker ran over; the rest were recognised as the file's previous chunks by their hash. */
  readonly chunked: number;
  readonly size: bigint;
  readonly mtimeNs: bigint;
  /** File flags, read while the file was open; absent when it has none. */
  readonly flags?: FileFlags;
}

/** A file's chunks at its last backup, in order, and their lengths (0 for a chunk the repository does not hold). */
export interface PreviousChunks {
  readonly ids: readonly Buffer[];
  readonly lengths: readonly number[];
}

/** A file that could not be opened or read (vanished, permission denied, …): the backup warns and goes on. */
export interface FileFailure {
  readonly failed: { readonly code: string | undefined; readonly message: string };
}

export interface FileSaverOptions {
  readonly workers: number;
  readonly blobIdKey: Buffer;
  readonly gear: Uint32Array;
  readonly chunker: ChunkerParams;
  readonly level: number;
  /** Each worker's ring of chunks on their way to a pack (default RING_BYTES); raised to a power of two, at least twice the largest chunk up to RING_BYTES / 2. */
  readonly ringBytes?: number;
  /**
   * Stops mid-file: files being read fail at once and the chunks the workers
   * still send are dropped; chunks already handed to the packer are kept. A
   * large file therefore pauses within a chunk or two, not at its end.
   */
  readonly signal?: AbortSignal;
}

/** Files up to this size go to a worker several in one message: for a 4 KiB file, posting the request costs as much as reading it. */
const BATCH_BELOW = 64 * 1024;
/** A quarter of the backup's SMALL_FILES_IN_FLIGHT: while each of two workers reads a batch, the next two gather. */
const BATCH_FILES = 32;
/** Batches a worker holds at once: the next is there when it finishes one. */
const BATCHES_PER_WORKER = 2;

/**
 * New bytes (to chunk, hash and compress) waiting behind busy workers that bring in one more worker.
 * Bytes a file had at its last backup cost the worker a hash only. A backup after a 2% change (256 MiB
 * set, 2 cores) took 0.85 s with a worker per core, 0.75 s with one: the second worker took the main
 * thread's core, the pipeline's bottleneck, for cheap work. With this rule it starts one worker (0.79
 * -> 0.76 s, 5 alternating rounds), and a backup that adds 143 MB of new files starts both, as fast as
 * before (1.06 s).
 */
const SPAWN_BACKLOG = 4 * 1024 * 1024;

interface Job {
  readonly request: ReadRequest;
  readonly small: boolean;
  /** Bytes not among the file's chunks at its last backup (its size less theirs): the worker's real work. */
  readonly fresh: number;
  readonly onChunk: (rawLength: number) => void;
  /** The last file of the batch it was sent in. */
  lastOfBatch: boolean;
  readonly ids: Buffer[];
  readonly adds: Promise<void>[];
  resolve(result: FileContent | FileFailure): void;
  reject(err: unknown): void;
}

/**
 * Each worker's ring of chunks on their way to a pack. The worker writes a chunk's stored form there and
 * the main thread encrypts it into a pack from there, so no buffer is made, sent or collected per chunk.
 * Before, with a buffer per chunk sent and handed back, a worker held 20–64 MB of ArrayBuffers in a
 * 1 GiB backup, only 15–23 MB of them in use. A chunk larger than half the ring (chunks are 1 MiB on
 * average, 8 MiB at most) goes beside it, copied, each in a buffer of its own that lives until the main
 * thread's next collection. The ring was twice the largest chunk, 16 MiB, all of it touched in time: 8 MiB
 * spared a backup 16 MB of its peak. A ring of 4 MiB spared trees of small files another 8 MB, but sent
 * more of the 1 GiB benchmark set's chunks beside it. An empty ring starting over at its start (see the
 * worker's allocate) touches only what is in flight at once: 8 MiB that way, against 4 MiB used round and
 * round, first backups into tmpfs, 3 alternating rounds: linux tree 205-206 -> 195-200 MB, gcc tree
 * 206-210 -> 200-208 MB, 1 GiB set 217-231 -> 206-212 MB, times within 2%.
 */
const RING_BYTES = 8 * 1024 * 1024;

interface Slot {
  worker: Worker;
  ring: SharedArrayBuffer;
  /** Ring bytes released so far (wrapping at 2^32), shared with the worker. */
  released: Int32Array;
  /** Chunks in the ring not yet released, in ring order: released only in that order, as each is packed. */
  held: { readonly span: number; packed: boolean }[];
  /** Files sent to this worker, in the order it answers them. */
  jobs: Job[];
  /** Batches sent to this worker and not yet answered in full. */
  batches: number;
}

/**
 * Reads, chunks, hashes and compresses files in worker threads, one file per
 * worker at a time (small files sent over in batches), so several files are
 * in progress at once and the main thread only deduplicates and packs. A
 * file's chunk ids come back in file order. A worker that crashes fails its
 * files' backup and is replaced.
 */
export class FileSaver {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private readonly workerData: Omit<FileWorkerData, 'ring' | 'released'>;
  private readonly ringBytes: number;
  private readonly workerCount: number;
  private failure: unknown;
  private closed = false;
  private stopped = false;
  private dispatchScheduled = false;

  constructor(
    private readonly saver: BlobSaver,
    options: FileSaverOptions,
  ) {
    this.workerData = {
      blobIdKey: new Uint8Array(options.blobIdKey),
      gear: options.gear,
      chunker: { minSize: options.chunker.minSize, avgSize: options.chunker.avgSize, maxSize: options.chunker.maxSize },
      level: options.level,
    };
    let ringBytes = 1;
    // At least twice the largest chunk, unless that is more than RING_BYTES: larger chunks then go beside the ring.
    while (ringBytes < Math.max(options.ringBytes ?? RING_BYTES, 2 * Math.min(options.chunker.maxSize, RING_BYTES / 2))) ringBytes *= 2;
    this.ringBytes = ringBytes;
    // Spawned with the first file to read: a backup that finds nothing changed never pays for starting
    // them (~0.1 s of CPU each, taken from the walk on a 2-core machine).
    this.workerCount = Math.max(1, options.workers);
    options.signal?.addEventListener('abort', () => this.stop(), { once: true });
  }

  /** Fails every queued and unfinished file; the workers' further chunks for them are dropped as they arrive. */
  private stop(): void {
    this.stopped = true;
    const reason = new Error('the backup was stopped');
    for (const job of this.queue.splice(0)) job.reject(reason);
    for (const slot of this.slots) for (const job of slot.jobs) job.reject(reason);
  }

  /**
   * Reads one file into chunks and saves the new ones. `previous`: the file's
   * chunks at its last backup, in order, each with its length as the index
   * has it (0: not in the repository; the index only grows during a backup).
   * Chunks the repository holds come back as ids alone, and those still where
   * they were are recognised without running the chunker over them.
   * Rejects only on a failure that ends the backup (a pack could not be written).
   */
  read(path: Buffer, size: number, previous: PreviousChunks, onChunk: (rawLength: number) => void): Promise<FileContent | FileFailure> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error('the file saver is closed'));
    if (this.stopped) return Promise.reject(new Error('the backup was stopped'));
    // Copies, not views: posting a view of a pooled Buffer would clone the whole pool.
    const request: ReadRequest = {
      path: path.toString('latin1'),
      ...(previous.ids.length > 0 ? { previous: { ids: new Uint8Array(Buffer.concat(previous.ids)), lengths: Uint32Array.from(previous.lengths) } } : {}),
    };
    return new Promise((resolve, reject) => {
      const fresh = Math.max(0, size - previous.lengths.reduce((sum, length) => sum + length, 0));
      const small = size < BATCH_BELOW;
      this.queue.push({ request, small, fresh, onChunk, lastOfBatch: false, ids: [], adds: [], resolve, reject });
      // A large file goes at once. The walk does not yield while the answers it waits for keep coming
      // (folder listings, parent trees read ahead): a file left for setImmediate waited 60–80 ms there
      // while its worker idled, in a backup after a 2% change.
      if (!small) {
        this.dispatch();
        return;
      }
      // Small files go once the walk yields, so the files of a folder listed in one go leave in one message.
      if (this.dispatchScheduled) return;
      this.dispatchScheduled = true;
      setImmediate(() => {
        this.dispatchScheduled = false;
        this.dispatch();
      });
    });
  }

  /**
   * Starts every worker now (when all files will be read anyway). Otherwise the first starts with the
   * first file to read and more only as new bytes back up (SPAWN_BACKLOG).
   */
  startWorkers(): void {
    this.spawnUpTo(this.workerCount);
  }

  /** Worker threads started so far. */
  get workersStarted(): number {
    return this.slots.length;
  }

  async close(): Promise<void> {
    this.closed = true;
    // Files still queued or being read (a backup that failed part-way) fail rather than wait forever.
    const unfinished = [...this.queue.splice(0), ...this.slots.flatMap((slot) => slot.jobs.splice(0))];
    for (const job of unfinished) job.reject(new Error('the file saver is closed'));
    // terminate() was seen never to resolve on CI (two backups at once on a loaded machine: the backup
    // hung after finishing, holding its lock). The workers are unref'ed and have no work left, so a
    // bounded wait is enough; they do not keep the process alive.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(this.slots.map((slot) => slot.worker.terminate())),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, 2000);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
  }

  private spawnUpTo(count: number): void {
    while (!this.closed && this.slots.length < count) this.slots.push(this.spawn());
  }

  private spawn(): Slot {
    const ring = new SharedArrayBuffer(this.ringBytes);
    const released = new SharedArrayBuffer(4);
    const workerData: FileWorkerData = { ...this.workerData, ring, released };
    const slot: Slot = { worker: new Worker(workerScript('fileWorker'), { workerData }), ring, released: new Int32Array(released), held: [], jobs: [], batches: 0 };
    slot.worker.unref();
    slot.worker.on('message', (answers: FileAnswers) => this.receive(slot, answers));
    slot.worker.on('error', (err) => {
      this.failure ??= err;
      for (const job of slot.jobs.splice(0)) job.reject(err);
      slot.batches = 0;
      if (this.closed) return;
      const index = this.slots.indexOf(slot);
      if (index >= 0) this.slots[index] = this.spawn();
      this.dispatch();
    });
    return slot;
  }

  /** A worker's answers, in order: each chunk goes to its file, and each file ended is settled. */
  private receive(slot: Slot, answers: FileAnswers): void {
    const ends = answers.ends.length / END_FIELDS;
    let chunk = 0;
    let aside = 0;
    let note = 0;
    for (let end = 0; end <= ends; end++) {
      const before = end < ends ? (answers.ends[end * END_FIELDS + EndField.before] as number) : answers.chunks.length / CHUNK_FIELDS;
      for (; chunk < before; chunk++) {
        const kind = answers.chunks[chunk * CHUNK_FIELDS + ChunkField.kind] as number;
        this.chunk(slot, answers, chunk, kind === ChunkKind.aside ? answers.aside[aside++] : undefined);
      }
      if (end === ends) break;
      const noted = answers.notes[note]?.end === end ? answers.notes[note++] : undefined;
      const job = slot.jobs.shift();
      if (!job) continue;
      if (job.lastOfBatch) slot.batches -= 1;
      const ended = fileEnd(answers, end, noted);
      const settle = () => {
        if (this.failure !== undefined) job.reject(this.failure);
        else if (ended.type === 'failed') job.resolve({ failed: { code: ended.code, message: ended.message } });
        else job.resolve({ ids: job.ids, bytes: ended.bytes, chunked: ended.chunked, size: ended.size, mtimeNs: ended.mtimeNs, ...(ended.flags ? { flags: ended.flags } : {}) });
      };
      if (job.adds.length === 0) settle();
      else void Promise.all(job.adds).then(settle);
    }
    if (ends > 0) this.dispatch();
  }

  /** Chunk `index` of `answers`, for the file being read; `body`: its stored form when it came beside the ring. */
  private chunk(slot: Slot, answers: FileAnswers, index: number, body: Uint8Array | undefined): void {
    const job = slot.jobs[0];
    const c = index * CHUNK_FIELDS;
    const rawLength = answers.chunks[c + ChunkField.rawLength] as number;
    const id = Buffer.from(answers.ids.buffer, answers.ids.byteOffset + index * BLOB_ID_LENGTH, BLOB_ID_LENGTH);
    if (answers.chunks[c + ChunkField.kind] === ChunkKind.stored) {
      if (!job || this.stopped) return;
      job.ids.push(id);
      job.onChunk(rawLength);
      return;
    }
    // A chunk beside the ring holds no ring bytes.
    const held = { span: body ? 0 : (answers.chunks[c + ChunkField.span] as number), packed: false };
    slot.held.push(held);
    if (!job || this.stopped) {
      this.release(slot, held);
      return;
    }
    // A view of the ring: valid until released, which waits until the pack has it.
    const stored = body ? Buffer.from(body.buffer, body.byteOffset, body.byteLength) : Buffer.from(slot.ring, answers.chunks[c + ChunkField.offset] as number, answers.chunks[c + ChunkField.length] as number);
    job.ids.push(id);
    job.onChunk(rawLength);
    let storing: Promise<void> | undefined;
    try {
      storing = this.saver.storeChunk(id, { body: stored, compressed: answers.chunks[c + ChunkField.compressed] === 1 }, rawLength);
    } catch (err) {
      this.failure ??= err;
    }
    // Packed (encrypted into the pack's buffer) or found stored: its ring bytes are free.
    if (storing === undefined) {
      this.release(slot, held);
      return;
    }
    job.adds.push(
      storing
        .catch((err: unknown) => {
          this.failure ??= err;
        })
        .finally(() => this.release(slot, held)),
    );
  }

  /** Marks a chunk packed and releases the ring up to the first chunk still held, in ring order. */
  private release(slot: Slot, held: { packed: boolean }): void {
    held.packed = true;
    let bytes = 0;
    while (slot.held[0]?.packed) bytes += (slot.held.shift() as { span: number }).span;
    if (bytes === 0) return;
    Atomics.add(slot.released, 0, bytes);
    Atomics.notify(slot.released, 0);
  }

  private dispatch(): void {
    if (this.stopped || this.queue.length === 0) return;
    this.spawnUpTo(Math.max(1, this.slots.length));
    this.assign();
    // What is still queued waits behind busy workers; the backup lets only some 70 files in at once, so the sum is short.
    const backlog = this.queue.reduce((sum, job) => sum + job.fresh, 0);
    if (backlog >= SPAWN_BACKLOG && this.slots.length < this.workerCount) {
      this.spawnUpTo(this.slots.length + 1);
      this.assign();
    }
  }

  /**
   * Hands queued files to the workers, up to BATCHES_PER_WORKER batches each: with one, a worker that
   * finished its batch idled until the main thread had taken its answers and sent the next (a round trip
   * of two thread wake-ups, ~80 µs each on a 2-core VM, per 32 small files).
   */
  private assign(): void {
    for (const slot of this.slots) {
      while (slot.batches < BATCHES_PER_WORKER && this.queue.length > 0) {
        // Nothing waits behind a large file: the other worker may be free long before it is read.
        if (slot.batches > 0 && !(slot.jobs[slot.jobs.length - 1] as Job).small) break;
        const batch: Job[] = [];
        // Small files first, as a batch: a large file can take a worker for a quarter of a second, and
        // small files queued behind it would leave the main thread, which does most of their work, idle.
        for (let i = 0; i < this.queue.length && batch.length < BATCH_FILES; ) {
          if ((this.queue[i] as Job).small) batch.push(...this.queue.splice(i, 1));
          else i += 1;
        }
        if (batch.length === 0) batch.push(this.queue.shift() as Job);
        (batch[batch.length - 1] as Job).lastOfBatch = true;
        slot.jobs.push(...batch);
        slot.batches += 1;
        slot.worker.postMessage({ files: batch.map((job) => job.request) } satisfies ReadBatch);
      }
    }
  }
}
