import { createCipheriv, createHash } from 'node:crypto';

/** Deterministic pseudo-random numbers and bytes: the same seed gives the same dataset and the same mutations on every machine. */
export class Seeded {
  private counter = 0;
  constructor(private readonly seed: string) {}

  bytes(length: number): Buffer {
    const key = createHash('sha256').update(`${this.seed}:${this.counter++}`).digest();
    return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(length));
  }

  /** A number in [0, 1). */
  next(): number {
    return this.bytes(4).readUInt32LE(0) / 2 ** 32;
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }

  /**
   * `count` distinct indexes below `n`, in pick order: the first steps of a Fisher–Yates shuffle, so
   * picking 1% of 100k files costs 1k draws, not 100k.
   */
  pickIndexes(count: number, n: number): number[] {
    const swapped = new Map<number, number>();
    const picked: number[] = [];
    for (let i = 0; i < Math.min(count, n); i++) {
      const j = i + this.below(n - i);
      picked.push(swapped.get(j) ?? j);
      swapped.set(j, swapped.get(i) ?? i);
    }
    return picked;
  }
}
