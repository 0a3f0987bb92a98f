import type { KeyObject } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { BlobNotOpened, openSealedBlob, type SealedBlob } from '../repository/sealedBlobs.js';
import { YoungGarbage } from '../youngGarbage.js';

export interface VerifyRequest {
  /** A pack's bytes, the first `length` of `shared`, and the blobs in it, `at` counted from its start. */
  readonly shared: SharedArrayBuffer;
  readonly length: number;
  readonly keys: readonly KeyObject[];
  readonly blobs: readonly SealedBlob[];
}

/** One entry per blob, in order: undefined when it opened and matched its id, else what is wrong. */
export interface VerifyResults {
  readonly problems: readonly (string | undefined)[];
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
parentPort?.on('message', ({ shared, length, keys, blobs }: VerifyRequest) => {
  const sealed = new Uint8Array(shared, 0, length);
  const problems = blobs.map((blob) => {
    if (scratch.byteLength < blob.rawLength) scratch = new Uint8Array(blob.rawLength);
    try {
      openSealedBlob(keys, blobIdKey, sealed, blob, scratch);
      garbage.decrypted(blob.length);
      return undefined;
    } catch (err) {
      if (!(err instanceof BlobNotOpened)) throw err;
      return err.message;
    }
  });
  parentPort?.postMessage({ problems } satisfies VerifyResults);
});
