import { OBJECT_TYPES } from '../engine/backend/backend.js';
import type { RepositoryStorage } from './repositoryStorage.js';

export interface Usage {
  readonly bytes: number;
  readonly objects: number;
  readonly repositories: number;
}

interface Counted {
  bytes: number;
  objects: number;
  readonly at: number;
}

/**
 * How much the repositories hold, for quotas, /metrics and `server status`. A repository is counted by
 * listing it once, then kept up to date by what the server itself stores and deletes; counts older than
 * `maxAgeMs` are redone, so changes made beside the server (a prune on the server itself) show too.
 */
export class UsageLedger {
  private readonly counted = new Map<string, Counted>();
  private readonly found = new Map<string, { readonly repositories: readonly (readonly string[])[]; readonly at: number }>();
  /** Bytes of uploads under way, by quota prefix: counted as held, so uploads at once cannot together pass a quota. */
  private readonly reserved = new Map<string, number>();

  constructor(
    private readonly storage: RepositoryStorage,
    private readonly maxAgeMs = 10 * 60_000,
  ) {}

  /** What the repositories at or below `prefix` hold together (uploads under way included). */
  async below(prefix: readonly string[]): Promise<Usage> {
    await this.count(prefix);
    return this.held(prefix);
  }

  /**
   * `below` as last counted, without waiting: a quota check reads this and reserves in one step, so
   * two uploads cannot both see the room that only one of them fits in. Call after `below` or `count`.
   */
  held(prefix: readonly string[]): Usage {
    const key = prefix.join('/');
    const repositories = this.found.get(key)?.repositories ?? [];
    let bytes = this.reserved.get(key) ?? 0;
    let objects = 0;
    for (const repository of repositories) {
      const counted = this.counted.get(repository.join('/'));
      bytes += counted?.bytes ?? 0;
      objects += counted?.objects ?? 0;
    }
    return { bytes, objects, repositories: repositories.length };
  }

  /** Finds and counts the repositories below `prefix` where that was not done lately. */
  async count(prefix: readonly string[]): Promise<void> {
    const key = prefix.join('/');
    let found = this.found.get(key);
    if (!found || Date.now() - found.at > this.maxAgeMs) {
      const repositories: (readonly string[])[] = [];
      for await (const repository of this.storage.repositories(prefix)) repositories.push(repository);
      found = { repositories, at: Date.now() };
      this.found.set(key, found);
    }
    for (const repository of found.repositories) await this.of(repository);
  }

  /** Holds `bytes` below `prefix` for an upload under way; the returned function lets them go (once stored, they count as stored). */
  reserve(prefix: readonly string[], bytes: number): () => void {
    const key = prefix.join('/');
    this.reserved.set(key, (this.reserved.get(key) ?? 0) + bytes);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.reserved.get(key) ?? 0) - bytes;
      if (left > 0) this.reserved.set(key, left);
      else this.reserved.delete(key);
    };
  }

  /** A repository was created: the lists of repositories are made again when next needed. */
  created(): void {
    this.found.clear();
  }

  /** The server stored (`bytes` > 0) or deleted (`bytes` < 0) an object; `objects` is +1, -1 or 0 for a replacement. */
  changed(repository: readonly string[], bytes: number, objects: number): void {
    const counted = this.counted.get(repository.join('/'));
    if (!counted) {
      // One not counted yet, maybe not even found (made beside the server): looked for again when next needed.
      this.found.clear();
      return;
    }
    counted.bytes += bytes;
    counted.objects += objects;
  }

  private async of(repository: readonly string[]): Promise<Counted> {
    const key = repository.join('/');
    const known = this.counted.get(key);
    if (known && Date.now() - known.at <= this.maxAgeMs) return known;
    const counted: Counted = { bytes: 0, objects: 0, at: Date.now() };
    const backend = this.storage.backendFor(repository);
    for (const type of OBJECT_TYPES) {
      for await (const { size } of backend.list(type)) {
        counted.bytes += size;
        counted.objects += 1;
      }
    }
    this.counted.set(key, counted);
    return counted;
  }
}
