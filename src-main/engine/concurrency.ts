/** Maps over `items` with at most `limit` calls of `fn` running at once; results keep the input order. */
export async function mapConcurrent<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T, index);
    }
  });
  await Promise.all(lanes);
  return results;
}

/** How far `forEachInOrder` loads ahead of the item being used. */
export interface LoadAhead<T> {
  /** Items loading or loaded and not yet used, at most. */
  readonly items: number;
  /** Their weight (`weigh`), at most; one item is loaded whatever it weighs. */
  readonly weight: number;
  readonly weigh: (item: T) => number;
}

/**
 * Loads `items`, a few at once, and hands each result to `use` in the items' order: what mapConcurrent
 * does, without holding every result until the last is in. Loads run ahead of the item being used as far
 * as `ahead` lets them. A load that fails stops the loading; the loads already started settle before the
 * failure goes up.
 */
export async function forEachInOrder<T, R>(items: readonly T[], ahead: LoadAhead<T>, load: (item: T) => Promise<R>, use: (result: R, item: T) => void): Promise<void> {
  // Each load from its start until its result is used (then undefined: the result is not kept past its use).
  const started: (Promise<R> | undefined)[] = [];
  let weight = 0;
  const startMore = (using: number) => {
    while (started.length < items.length) {
      const next = items[started.length] as T;
      const fits = started.length === using || (started.length - using < ahead.items && weight + ahead.weigh(next) <= ahead.weight);
      if (!fits) return;
      weight += ahead.weigh(next);
      const loading = load(next);
      // Awaited in order below, or settled after a failure: never left unhandled meanwhile.
      loading.catch(() => undefined);
      started.push(loading);
    }
  };
  try {
    for (let index = 0; index < items.length; index += 1) {
      startMore(index);
      const result = await (started[index] as Promise<R>);
      started[index] = undefined;
      weight -= ahead.weigh(items[index] as T);
      use(result, items[index] as T);
    }
  } catch (err) {
    await Promise.allSettled(started);
    throw err;
  }
}

/** Counts bytes in flight and makes producers wait while more than `limit` are outstanding. */
export class ByteBudget {
  private used = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  /** Waits until `bytes` fit (a single request larger than the limit is let through alone). */
  async acquire(bytes: number): Promise<void> {
    while (this.used > 0 && this.used + bytes > this.limit) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    this.used += bytes;
  }

  release(bytes: number): void {
    this.used -= bytes;
    const waiting = this.waiters.splice(0);
    for (const wake of waiting) wake();
  }
}
