import type { KeyObject } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { BlobNotOpened, openSealedBlob } from '../repository/sealedBlobs.js';
import { YoungGarbage } from '../youngGarbage.js';
import { PackedChunk, type PackedChunks } from './packedChunks.js';

export interface VerifyRequest {
  /** A piece of a pack, the first `length` bytes of `shared`. */
  readonly shared: SharedArrayBuffer;
  readonly length: number;
  readonly keys: readonly KeyObject[];
  /** Its blobs, `count` of them, `at` counted from the piece's start: views of shared buffers the pool reuses, as `shared` is. */
  readonly blobs: PackedChunks;
  readonly count: number;
}

/** The blobs that did not open or did not match their id, by their place in the request, with what is wrong. */
export interface VerifyResults {
  readonly problems: readonly { readonly index: number; readonly problem: string }[];
}

export interface PackVerifierData {
  readonly blobIdKey: Uint8Array;
}

const blobIdKey = Buffer.from((workerData as PackVerifierData).blobIdKey);
/** Where each blob's plaintext goes: it is checked and dropped, so one buffer, grown as needed, serves all. */
let scratch = new Uint8Array(1024 * 1024);
/** What decrypting leaves behind, freed as it goes (see YoungGarbage). */
const garbage = new YoungGarbage();

/** Worker thread: decrypts, decompresses and checks every blob of a pack for `check --read-data`, so the packs are checked on every core. */
parentPort?.on('message', ({ shared, length, keys, blobs, count }: VerifyRequest) => {
  const sealed = new Uint8Array(shared, 0, length);
  const problems: { index: number; problem: string }[] = [];
  const blob = new PackedChunk(blobs);
  for (let index = 0; index < count; index++) {
    blob.moveTo(index);
    if (scratch.byteLength < blob.rawLength) scratch = new Uint8Array(blob.rawLength);
    try {
      openSealedBlob(keys, blobIdKey, sealed, blob, scratch);
      garbage.made(blob.length);
    } catch (err) {
      if (!(err instanceof BlobNotOpened)) throw err;
      problems.push({ index, problem: err.message });
    }
  }
  parentPort?.postMessage({ problems } satisfies VerifyResults);
});
