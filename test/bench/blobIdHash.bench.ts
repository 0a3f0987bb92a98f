import { createHmac, randomBytes } from 'node:crypto';
import { computeBlobId } from '../../src-main/engine/crypto/blobId.js';

/**
 * Measures the two candidates for blob ids on this machine: HMAC-SHA256 from
 * Node's crypto and keyed BLAKE3 (the one Hindsight uses), on 1 MiB chunks.
 * Run with `npm run bench:hash`.
 */
const key = randomBytes(32);
const chunk = randomBytes(1 << 20);
const rounds = 1024;

function measure(name: string, hash: (data: Buffer) => Buffer): void {
  for (let i = 0; i < 32; i++) hash(chunk);
  const start = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) hash(chunk);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(`${name.padEnd(24)} ${(rounds / seconds).toFixed(0).padStart(6)} MiB/s`);
}

for (let pass = 0; pass < 2; pass++) {
  measure('HMAC-SHA256', (data) => createHmac('sha256', key).update(data).digest());
  measure('BLAKE3 keyed (native)', (data) => computeBlobId(key, data));
}
