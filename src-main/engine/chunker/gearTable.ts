import { createCipheriv } from 'node:crypto';

/**
 * The gear table of the rolling hash: 256 pseudo-random 32-bit words, taken
 * from the AES-256-CTR keystream of the repository's chunker seed. A secret
 * table makes chunk boundaries, and so chunk sizes, depend on the key: the
 * storage cannot recognise a known file by its chunk-size pattern.
 */
export function gearTable(seed: Buffer): Uint32Array {
  if (seed.length !== 32) throw new RangeError('the chunker seed must be 32 bytes');
  const stream = createCipheriv('aes-256-ctr', seed, Buffer.alloc(16)).update(Buffer.alloc(256 * 4));
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) table[i] = stream.readUInt32LE(i * 4);
  return table;
}
