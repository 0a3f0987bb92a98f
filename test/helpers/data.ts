import { createCipheriv, createHash } from 'node:crypto';

/** Deterministic incompressible bytes: the AES-256-CTR keystream of a key derived from `seed`. */
export function seededBytes(seed: string, length: number): Buffer {
  const key = createHash('sha256').update(seed).digest();
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(length));
}

/** Deterministic, highly compressible text-like bytes. */
export function compressibleBytes(seed: string, length: number): Buffer {
  const words = ['backup', 'restore', 'snapshot', 'pack', 'index', 'chunk', 'tree', 'blob', seed];
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; size < length; i++) {
    const word = `${words[(i * 7 + (i >> 3)) % words.length]} ${i % 1000}\n`;
    parts.push(word);
    size += word.length;
  }
  return Buffer.from(parts.join(''), 'latin1').subarray(0, length);
}

/** Flips one bit of a copy of `data`. */
export function flipBit(data: Buffer, position: number, bit = 0): Buffer {
  const copy = Buffer.from(data);
  copy[position] = (copy[position] as number) ^ (1 << bit);
  return copy;
}

/** `count` positions spread evenly over [0, length), always including the first and last byte. */
export function samplePositions(length: number, count: number): number[] {
  if (length <= count) return Array.from({ length }, (_, i) => i);
  const positions = new Set<number>([0, length - 1]);
  for (let i = 1; positions.size < count; i++) positions.add(Math.floor((i * length) / count) % length);
  return [...positions].sort((a, b) => a - b);
}

/** mulberry32: a small seeded generator of numbers in [0, 1), so a failing run can be repeated. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
