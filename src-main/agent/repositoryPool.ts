import type { AgentEvent, RepositoryInfo } from '../../src-shared/api.js';
import { HindsightError } from '../../src-shared/errors.js';
import { backendFor } from '../engine/backend/location.js';
import { Repository } from '../engine/repository/repository.js';
import type { AgentDatabase } from './agentDatabase.js';
import { KeychainUnavailable, type SecretStore } from './secretStore.js';

export type LockMode = 'none' | 'shared' | 'exclusive';

/**
 * Opens the agent's repositories with passwords from the keychain (or this
 * session), by location. Each job opens its own instance, as a separate
 * process would; queries share one per location, under a shared lock.
 */
export class RepositoryPool {
  private readonly forQueries = new Map<string, Promise<Repository>>();

  constructor(
    private readonly db: AgentDatabase,
    private readonly keychain: SecretStore,
    private readonly session: SecretStore,
    private readonly emit: (event: AgentEvent) => void,
  ) {}

  async create(location: string, password: string, remember: boolean): Promise<RepositoryInfo> {
    const repository = await Repository.init(backendFor(location), { password });
    try {
      return await this.adopt(location, repository, password, remember);
    } finally {
      await repository.close();
    }
  }

  async connect(location: string, password: string, remember: boolean): Promise<RepositoryInfo> {
    const repository = await Repository.open(backendFor(location), password);
    try {
      return await this.adopt(location, repository, password, remember);
    } finally {
      await repository.close();
    }
  }

  async list(): Promise<RepositoryInfo[]> {
    const out: RepositoryInfo[] = [];
    for (const target of this.db.targets()) {
      out.push({ location: target.location, id: target.repositoryId, unlocked: (await this.password(target.repositoryId)) !== undefined, ...(target.lastSuccess ? { lastSuccess: target.lastSuccess } : {}) });
    }
    return out;
  }

  /** Runs `work` on the repository at `location`; jobs get their own instance, locked as asked. */
  async withRepository<T>(location: string, work: (repository: Repository) => Promise<T>, lock: LockMode | 'query' = 'query'): Promise<T> {
    if (lock === 'query') {
      const repository = await this.queryInstance(location);
      const held = await repository.lock(false);
      try {
        await repository.reloadIndex();
        return await work(repository);
      } finally {
        await held.release();
      }
    }
    const repository = await this.open(location);
    try {
      if (lock === 'none') return await work(repository);
      const held = await repository.lock(lock === 'exclusive');
      try {
        await repository.reloadIndex();
        return await work(repository);
      } finally {
        await held.release();
      }
    } finally {
      await repository.close();
    }
  }

  async close(): Promise<void> {
    for (const pending of this.forQueries.values()) await (await pending.catch(() => undefined))?.close();
    this.forQueries.clear();
  }

  private queryInstance(location: string): Promise<Repository> {
    let pending = this.forQueries.get(location);
    if (!pending) {
      pending = this.open(location);
      pending.catch(() => this.forQueries.delete(location));
      this.forQueries.set(location, pending);
    }
    return pending;
  }

  private async open(location: string): Promise<Repository> {
    const target = this.db.targets().find((t) => t.location === location);
    const password = (target ? await this.password(target.repositoryId) : undefined) ?? process.env.HINDSIGHT_PASSWORD;
    if (password === undefined) {
      this.emit({ type: 'password.needed', repository: location });
      throw new HindsightError(
        'E_PASSWORD_NEEDED',
        `The password of the repository at ${location} is not known here: connect it with its password (in the app, or \`hindsight agent\` with HINDSIGHT_PASSWORD).`,
      );
    }
    const repository = await Repository.open(backendFor(location), password);
    if (!target) this.db.rememberTarget(location, repository.config.id);
    return repository;
  }

  private async adopt(location: string, repository: Repository, password: string, remember: boolean): Promise<RepositoryInfo> {
    const id = repository.config.id;
    this.db.rememberTarget(location, id);
    await this.session.set(id, password);
    if (remember) {
      try {
        await this.keychain.set(id, password);
      } catch (err) {
        if (!(err instanceof KeychainUnavailable)) throw err;
        this.emit({ type: 'warning', warning: { path: location, message: err.message } });
      }
    }
    this.forQueries.delete(location);
    return { location, id, unlocked: true, reachable: true };
  }

  /** Session first (no keychain prompt), then the keychain; undefined when neither has it. */
  private async password(repositoryId: string): Promise<string | undefined> {
    const inSession = await this.session.get(repositoryId);
    if (inSession !== undefined) return inSession;
    try {
      const stored = await this.keychain.get(repositoryId);
      if (stored !== undefined) await this.session.set(repositoryId, stored);
      return stored;
    } catch (err) {
      if (err instanceof KeychainUnavailable) return undefined;
      throw err;
    }
  }
}
