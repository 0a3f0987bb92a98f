import type { Repository } from '../repository/repository.js';

/** What the cache keeps by default: a few dozen average chunks, enough for several readers' read-ahead. */
export const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;
/** Chunks loaded at once, from every reader together; with 8 MiB the largest chunk, a bound on what loads hold. */
const LOADS_AT_ONCE = 6;

/**
 * The chunks a mount has read lately, verified, kept within `maxBytes`, the least recently used leaving
 * first. Readers asking for a chunk that is loading share that load; at most a few loads run at once,
 * so memory stays bounded however many files are open. Every chunk comes through `Repository.loadBlob`,
 * which authenticates it and checks it against its id: a damaged chunk is an error, never bytes.
 */
export class ChunkCache {
  private readonly kept = new Map<string, Buffer>();
  private keptBytes = 0;
  private readonly loading = new Map<string, Promise<Buffer>>();
  private running = 0;
  private readonly queue: (() => void)[] = [];

  constructor(
    private readonly repository: Repository,
    private readonly maxBytes = DEFAULT_CACHE_BYTES,
  ) {}

  /** Bytes held by the cache now (not counting loads in flight). */
  get bytes(): number {
    return this.keptBytes;
  }

  get(id: Buffer): Promise<Buffer> {
    const key = id.toString('hex');
    const hit = this.kept.get(key);
    if (hit) {
      // Most recently used last.
      this.kept.delete(key);
      this.kept.set(key, hit);
      return Promise.resolve(hit);
    }
    let pending = this.loading.get(key);
    if (!pending) {
      pending = this.load(id).finally(() => this.loading.delete(key));
      this.loading.set(key, pending);
    }
    return pending;
  }

  private async load(id: Buffer): Promise<Buffer> {
    if (this.running >= LOADS_AT_ONCE) await new Promise<void>((resolve) => this.queue.push(resolve));
    this.running += 1;
    try {
      const chunk = await this.repository.loadBlob(id);
      this.keep(id.toString('hex'), chunk);
      return chunk;
    } finally {
      this.running -= 1;
      this.queue.shift()?.();
    }
  }

  private keep(key: string, chunk: Buffer): void {
    if (chunk.length > this.maxBytes) return;
    this.kept.set(key, chunk);
    this.keptBytes += chunk.length;
    for (const [oldKey, old] of this.kept) {
      if (this.keptBytes <= this.maxBytes) break;
      this.kept.delete(oldKey);
      this.keptBytes -= old.length;
    }
  }
}
