import { BLOB_ID_LENGTH } from '../crypto/blobId.js';
import type { FileFlags } from '../metadata/fileFlags.js';

/** How a file worker ended a file: read whole, or failed (vanished, permission denied, …). */
export type FileEnd =
  | {
      readonly type: 'done';
      readonly bytes: number;
      /** Of `bytes`, those the chunker ran over; the rest were recognised as the file's previous chunks. */
      readonly chunked: number;
      readonly size: bigint;
      readonly mtimeNs: bigint;
      /** Its file flags, read on the open file; absent when it has none. */
      readonly flags?: FileFlags;
    }
  | { readonly type: 'failed'; readonly code: string | undefined; readonly message: string };

/**
 * What a file worker posts: the chunks it cut and the files it ended, in order, in a few arrays rather
 * than an object per chunk and per file. As objects, every chunk's message and its id (a 32-byte
 * ArrayBuffer of its own) were cloned, received and later collected one by one on the main thread, the
 * pipeline's busiest: the deserializer alone was 3% of it in a first backup of the GCC tree (116,000
 * files, perf), and the ids' ArrayBuffers were swept one by one.
 */
export interface FileAnswers {
  /** CHUNK_FIELDS per chunk (see ChunkField). */
  readonly chunks: Int32Array;
  /** The chunks' ids, BLOB_ID_LENGTH bytes each, in the same order. */
  readonly ids: Uint8Array;
  /** The stored forms of the chunks of kind ASIDE, in order. */
  readonly aside: readonly Uint8Array[];
  /** END_FIELDS per file ended (see EndField). */
  readonly ends: Float64Array;
  /** Per file ended: its size and its modification time in nanoseconds (0 for a failed file). */
  readonly times: BigInt64Array;
  /** What does not fit the arrays, rare: failures and file flags, by their file's place among the ends. */
  readonly notes: readonly { readonly end: number; readonly failed?: { readonly code: string | undefined; readonly message: string }; readonly flags?: FileFlags }[];
}

export const ChunkKind = {
  /** Its stored form lies in the worker's ring (offset, length, span). */
  ring: 0,
  /** Too large for the ring: its stored form is the next of `aside`. */
  aside: 1,
  /** The repository holds it already: its id alone. */
  stored: 2,
} as const;

export const ChunkField = { kind: 0, offset: 1, length: 2, span: 3, rawLength: 4, compressed: 5 } as const;
export const CHUNK_FIELDS = 6;
/** `before`: how many of the message's chunks come before the file's end (they are the file's last ones). */
export const EndField = { before: 0, failed: 1, bytes: 2, chunked: 3 } as const;
export const END_FIELDS = 4;

/** Gathers a worker's answers until they are posted (see take). */
export class FileAnswersOutbox {
  private chunks = new Int32Array(CHUNK_FIELDS * 256);
  private ids = new Uint8Array(BLOB_ID_LENGTH * 256);
  private chunkCount = 0;
  private aside: Uint8Array[] = [];
  private ends = new Float64Array(END_FIELDS * 64);
  private times = new BigInt64Array(2 * 64);
  private endCount = 0;
  private notes: FileAnswers['notes'][number][] = [];

  get empty(): boolean {
    return this.chunkCount === 0 && this.endCount === 0;
  }

  /** A chunk of the file being read. `body`: the stored form of an ASIDE chunk, copied by the caller. */
  chunk(kind: number, id: Uint8Array, offset: number, length: number, span: number, rawLength: number, compressed: boolean, body?: Uint8Array): void {
    if (this.chunkCount * CHUNK_FIELDS === this.chunks.length) {
      this.chunks = grown(this.chunks, new Int32Array(2 * this.chunks.length));
      this.ids = grown(this.ids, new Uint8Array(2 * this.ids.length));
    }
    const c = this.chunkCount * CHUNK_FIELDS;
    this.chunks[c + ChunkField.kind] = kind;
    this.chunks[c + ChunkField.offset] = offset;
    this.chunks[c + ChunkField.length] = length;
    this.chunks[c + ChunkField.span] = span;
    this.chunks[c + ChunkField.rawLength] = rawLength;
    this.chunks[c + ChunkField.compressed] = compressed ? 1 : 0;
    this.ids.set(id, this.chunkCount * BLOB_ID_LENGTH);
    this.chunkCount += 1;
    if (body) this.aside.push(body);
  }

  /** The end of the file being read, after its last chunk. */
  end(end: FileEnd): void {
    if (this.endCount * END_FIELDS === this.ends.length) {
      this.ends = grown(this.ends, new Float64Array(2 * this.ends.length));
      this.times = grown(this.times, new BigInt64Array(2 * this.times.length));
    }
    const e = this.endCount * END_FIELDS;
    this.ends[e + EndField.before] = this.chunkCount;
    this.ends[e + EndField.failed] = end.type === 'failed' ? 1 : 0;
    if (end.type === 'done') {
      this.ends[e + EndField.bytes] = end.bytes;
      this.ends[e + EndField.chunked] = end.chunked;
      this.times[2 * this.endCount] = end.size;
      this.times[2 * this.endCount + 1] = end.mtimeNs;
      if (end.flags) this.notes.push({ end: this.endCount, flags: end.flags });
    } else {
      this.notes.push({ end: this.endCount, failed: { code: end.code, message: end.message } });
    }
    this.endCount += 1;
  }

  /** What was gathered, in arrays of its own (to transfer: see transferables), and the outbox emptied. */
  take(): FileAnswers {
    const answers: FileAnswers = {
      chunks: this.chunks.slice(0, this.chunkCount * CHUNK_FIELDS),
      ids: this.ids.slice(0, this.chunkCount * BLOB_ID_LENGTH),
      aside: this.aside,
      ends: this.ends.slice(0, this.endCount * END_FIELDS),
      times: this.times.slice(0, 2 * this.endCount),
      notes: this.notes,
    };
    this.chunkCount = 0;
    this.endCount = 0;
    this.aside = [];
    this.notes = [];
    return answers;
  }
}

/** The buffers of `answers` that postMessage can hand over instead of copying. */
export function transferables(answers: FileAnswers): ArrayBuffer[] {
  return [answers.chunks.buffer, answers.ids.buffer, answers.ends.buffer, answers.times.buffer, ...answers.aside.map((body) => body.buffer)] as ArrayBuffer[];
}

/** File `end` of `answers` as the worker ended it; `note`: its entry in `notes`, if it has one. */
export function fileEnd(answers: FileAnswers, end: number, note: FileAnswers['notes'][number] | undefined): FileEnd {
  const e = end * END_FIELDS;
  if (answers.ends[e + EndField.failed] === 1) return { type: 'failed', ...(note?.failed ?? { code: undefined, message: 'the file could not be read' }) };
  return {
    type: 'done',
    bytes: answers.ends[e + EndField.bytes] as number,
    chunked: answers.ends[e + EndField.chunked] as number,
    size: answers.times[2 * end] as bigint,
    mtimeNs: answers.times[2 * end + 1] as bigint,
    ...(note?.flags ? { flags: note.flags } : {}),
  };
}

function grown<T extends Int32Array | Uint8Array | Float64Array | BigInt64Array>(from: T, to: T): T {
  to.set(from as never);
  return to;
}
