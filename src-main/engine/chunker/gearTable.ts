import { hkdfSync } from 'node:crypto';

const SEED_LENGTH = 32;
const GEAR_LABEL = 'hindsight v1 fastcdc gear';

/**
 * The 256 words of the gear hash, from HKDF-SHA256(seed, info = GEAR_LABEL),
 * read as little-endian 32-bit words. The seed is a per-repository secret, so
 * chunk boundaries (and with them chunk sizes) cannot be predicted by whoever
 * stores the repository: a known file is not recognisable by its size pattern.
 * HKDF rather than a raw keystream so the table stays independent of any other
 * use of the same seed; changing the label changes every boundary, so it is
 * part of the repository format.
 */
export function gearTable(seed: Buffer): Uint32Array {
  if (seed.length !== SEED_LENGTH) throw new RangeError(`the chunker seed must be ${SEED_LENGTH} bytes`);
  const words = Buffer.from(hkdfSync('sha256', seed, Buffer.alloc(0), GEAR_LABEL, 256 * 4));
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) table[i] = words.readUInt32LE(i * 4);
  return table;
}
