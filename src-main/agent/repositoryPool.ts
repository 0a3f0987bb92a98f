import type { AgentEvent, RepositoryInfo } from '../../src-shared/api.js';
import { HindsightError } from '../../src-shared/errors.js';
import { backendFor, backendForTargets, type TargetOptions } from '../engine/backend/location.js';
import { checkNewRepositoryFolder } from '../engine/backend/newRepositoryFolder.js';
import { seedTargets } from '../engine/maintenance/repair.js';
import { readTargetHistory } from '../engine/backend/targetHistory.js';
import { Repository } from '../engine/repository/repository.js';
import type { LockWait } from '../engine/repository/lock.js';
import type { AgentDatabase } from './agentDatabase.js';
import { KeychainUnavailable, type SecretStore } from './secretStore.js';
import type { TargetAccess } from './targetAccess.js';

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
    private readonly access: TargetAccess,
  ) {}

  async create(location: string, password: string, remember: boolean): Promise<RepositoryInfo> {
    // The app's "new repository" step follows init's rule: no missing parent (an unmounted disk), no folder of the user's files.
    await checkNewRepositoryFolder(location);
    const repository = await Repository.init(backendFor(location, await this.access.options(location)), { password });
    try {
      return await this.adopt(location, repository, password, remember);
    } finally {
      await repository.close();
    }
  }

  async connect(location: string, password: string, remember: boolean): Promise<RepositoryInfo> {
    const repository = await Repository.open(backendFor(location, await this.access.options(location)), password);
    try {
      return await this.adopt(location, repository, password, remember);
    } finally {
      await repository.close();
    }
  }

  /**
   * Gives `added` targets a complete copy of the repository on `targets` (a plan given another target),
   * and remembers them as targets of that repository, so its password opens them.
   */
  async seed(targets: readonly string[], added: readonly string[], signal?: AbortSignal): Promise<{ copied: number }> {
    const repository = await this.open(targets);
    const limit = this.db.settings().uploadLimitKiBps;
    const uploads = limit > 0 ? { uploadBytesPerSecond: limit * 1024 } : {};
    const reach = await this.optionsOf([...targets, ...added]);
    const sources = targets.map((location) => backendFor(location, { ...uploads, ...reach(location) }));
    const destinations = added.map((location) => backendFor(location, { ...uploads, ...reach(location) }));
    try {
      const result = await seedTargets(repository, sources, destinations, signal ? { signal } : {});
      const unreachable = result.targets.find((t) => !t.reachable);
      if (unreachable) throw new HindsightError('E_TARGET_UNREACHABLE', `${unreachable.location} could not be reached (${unreachable.error ?? 'no answer'}); saving the plan again retries.`);
      if (result.lost.length > 0) throw new HindsightError('E_REPOSITORY_DAMAGED', `${result.lost.length} object(s) have no good copy on any target; run a check.`);
      for (const location of added) this.db.rememberTarget(location, repository.config.id);
      return { copied: result.targets.filter((t) => added.includes(t.location)).reduce((sum, t) => sum + t.copied, 0) };
    } finally {
      await repository.close();
      await Promise.all([...sources, ...destinations].map((backend) => backend.close()));
    }
  }

  async list(): Promise<RepositoryInfo[]> {
    const out: RepositoryInfo[] = [];
    // What this computer remembers of each target across runs (reachable, behind, last success).
    const history = await readTargetHistory();
    for (const target of this.db.targets()) {
      const seen = history[target.location];
      const lastSuccess = [target.lastSuccess, seen?.lastSuccess].filter((t): t is string => t !== undefined).sort().pop();
      out.push({
        location: target.location,
        id: target.repositoryId,
        unlocked: (await this.password(target.repositoryId)) !== undefined,
        ...(lastSuccess ? { lastSuccess } : {}),
        ...(seen ? { behind: seen.behind, ...(seen.lastError ? { lastError: seen.lastError } : {}), reachable: !(seen.lastFailure && (!seen.lastSuccess || seen.lastFailure > seen.lastSuccess)) } : {}),
      });
    }
    return out;
  }

  /**
   * Runs `work` on the repository at `location`, or on one repository replicated on several targets
   * (a plan's targets: every target holds the same copy); jobs get their own instance, locked as asked,
   * waiting for a lock another process holds as `wait` says.
   */
  async withRepository<T>(location: string | readonly string[], work: (repository: Repository) => Promise<T>, lock: LockMode | 'query' = 'query', wait?: LockWait): Promise<T> {
    if (lock === 'query') {
      const repository = await this.queryInstance(location);
      return repository.withLock(false, () => work(repository));
    }
    const repository = await this.open(location);
    try {
      return lock === 'none' ? await work(repository) : await repository.withLock(lock === 'exclusive', () => work(repository), wait);
    } finally {
      await repository.close();
    }
  }

  async close(): Promise<void> {
    for (const pending of this.forQueries.values()) await (await pending.catch(() => undefined))?.close();
    this.forQueries.clear();
  }

  private queryInstance(location: string | readonly string[]): Promise<Repository> {
    const key = typeof location === 'string' ? location : location.join('\n');
    let pending = this.forQueries.get(key);
    if (!pending) {
      pending = this.open(location);
      pending.catch(() => this.forQueries.delete(key));
      this.forQueries.set(key, pending);
    }
    return pending;
  }

  private async open(location: string | readonly string[]): Promise<Repository> {
    const locations = typeof location === 'string' ? [location] : [...location];
    const known = this.db.targets();
    const target = known.find((t) => locations.includes(t.location));
    const password = (target ? await this.password(target.repositoryId) : undefined) ?? process.env.HINDSIGHT_PASSWORD;
    if (password === undefined) {
      this.emit({ type: 'password.needed', repository: locations.join(', ') });
      throw new HindsightError(
        'E_PASSWORD_NEEDED',
        `The password of the repository at ${locations.join(', ')} is not known here: connect it with its password (in the app, or \`hindsight agent\` with HINDSIGHT_PASSWORD).`,
      );
    }
    const limit = this.db.settings().uploadLimitKiBps;
    const uploads = limit > 0 ? { uploadBytesPerSecond: limit * 1024 } : {};
    const reach = await this.optionsOf(locations);
    const backend =
      locations.length === 1
        ? backendFor(locations[0] as string, { ...uploads, ...reach(locations[0] as string) })
        : backendForTargets(locations, {
            ...uploads,
            onReplicationEvent: (event) =>
              this.emit({
                type: 'warning',
                warning:
                  event.kind === 'target-down'
                    ? { path: event.location, message: `target unreachable (${event.error}); it is behind until repaired (hindsight repair)` }
                    : { path: event.failed, message: `${event.object}: ${event.reason}; read from ${event.readFrom ?? 'no other target'}` },
              }),
          }, reach);
    const repository = await Repository.open(backend, password);
    for (const each of locations) if (!known.some((t) => t.location === each)) this.db.rememberTarget(each, repository.config.id);
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

  /** Each target's own options (settings, credentials), read once for a set of targets. */
  private async optionsOf(locations: readonly string[]): Promise<(location: string) => TargetOptions> {
    const options = new Map(await Promise.all(locations.map(async (location) => [location, await this.access.options(location)] as const)));
    return (location) => options.get(location) ?? {};
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
