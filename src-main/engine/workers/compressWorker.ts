import { parentPort } from 'node:worker_threads';
import { compressBlob } from '../repository/blobCodec.js';

export interface CompressRequest {
  readonly data: Uint8Array;
  readonly level: number;
}

export interface CompressResponse {
  readonly body: Uint8Array;
  readonly compressed: boolean;
}

/**
 * Worker thread: compresses one chunk per message. The chunk arrives
 * transferred (no copy); the answer hands back either the compressed frame,
 * copied into a buffer of its own so only its bytes are transferred, or the
 * original chunk when compression did not pay.
 */
parentPort?.on('message', ({ data, level }: CompressRequest) => {
  const { body, compressed } = compressBlob(data, level);
  const own = compressed ? new Uint8Array(body) : data;
  const response: CompressResponse = { body: own, compressed };
  parentPort?.postMessage(response, [own.buffer as ArrayBuffer]);
});
