import type { AgentEvent, AgentState, JobKind, JobRecord, Method, ParsedParams, PlanStatus, Result, Status } from '../../src-shared/api.js';
import { HindsightError } from '../../src-shared/errors.js';
import { DEFAULT_EXCLUDES } from '../../src-shared/defaultExcludes.js';
import { planSourcesProblem, type CommandSource, type Plan, type PlanFields, type TargetSettings } from '../../src-shared/plan.js';
import type { Progress, Warning } from '../../src-shared/progress.js';
import { formatLocalTime } from '../../src-shared/units.js';
import { BackupInterrupted, backup, type BackupOptions, type BackupResult } from '../engine/archiver/backup.js';
import { sourcePathsFor } from '../engine/source/sourceFor.js';
import { listRcloneRemotes } from '../engine/backend/rcloneRemotes.js';
import { fetchServerCertificate } from '../engine/backend/serverCertificate.js';
import { ReplicatedBackend } from '../engine/backend/replicatedBackend.js';
import { recordTargets } from '../engine/backend/targetHistory.js';
import { OperationInterrupted } from '../engine/interruption.js';
import { checkRepository } from '../engine/maintenance/check.js';
import { forgetSnapshots } from '../engine/maintenance/forget.js';
import { isEmptyPolicy } from '../engine/maintenance/retention.js';
import { prune } from '../engine/maintenance/prune.js';
import { retentionLockWait, retentionNotDone, type RetentionStep } from './planRetention.js';
import { restore } from '../engine/restorer/restore.js';
import { resolveSnapshot, type Snapshot } from '../engine/snapshot/snapshot.js';
import { backupStream } from '../engine/archiver/streamBackup.js';
import { runCommandSource } from '../engine/source/commandSource.js';
import type { Repository } from '../engine/repository/repository.js';
import { ALL_PLANS, AgentDatabase } from './agentDatabase.js';
import { systemClock, type Clock } from './clock.js';
import { PlanWatcher } from './planWatcher.js';
import { RepositoryPool } from './repositoryPool.js';
import { listHostFolder, listRemoteFolder } from './hostFolders.js';
import { dueAt, retryDelayMs, validateSchedule } from './schedule.js';
import { SessionSecretStore, type SecretStore } from './secretStore.js';
import { snapshotQueries } from './snapshotQueries.js';
import { openInFileManager, type FolderOpener } from './fileManager.js';
import { SnapshotMounts } from './snapshotMounts.js';
import { TargetAccess } from './targetAccess.js';

export interface AgentOptions {
  /** Plans, job history and settings live here. */
  readonly dataDir: string;
  /** The OS keychain (or what stands in for it). */
  readonly secrets: SecretStore;
  readonly clock?: Clock;
  /** Run due plans on their schedule (off when the CLI acts without a running agent). */
  readonly schedule?: boolean;
  /** Watch continuous plans' sources. */
  readonly watch?: boolean;
  /** Compression workers per backup. */
  readonly workers?: number;
  /** How a snapshot is opened in the file manager (default: the system's own, see fileManager.ts). */
  readonly openFolder?: FolderOpener;
  /** A mount's WebDAV server closes after this long without a request (default 15 minutes). */
  readonly mountIdleMs?: number;
}

/** The scheduler wakes at least this often, so a clock that jumped (sleep, suspend) is noticed. */
const MAX_SLEEP_MS = 60_000;

interface JobContext {
  readonly signal: AbortSignal;
  progress(progress: Progress): void;
  warn(warning: Warning): void;
}

interface JobOutcome {
  readonly summary?: Record<string, number | string>;
  readonly message?: string;
}

interface QueuedJob {
  record: JobRecord;
  readonly run: (context: JobContext) => Promise<JobOutcome>;
  readonly controller: AbortController;
  warnings: number;
  progress?: Progress;
  /** Called when the job ends without doing its work (failed, paused, cancelled). */
  readonly onNotDone?: () => void;
}

/** Why a job was stopped through its signal: paused (a backup continues later), cancelled, or the agent is stopping. */
type StopReason = 'paused' | 'cancelled' | 'stopping';

/**
 * The engine host: keeps plans, runs them on schedule or as files change,
 * queues jobs (one per plan at a time, a global limit), pauses and resumes,
 * and answers every call of the API contract. It runs in Electron's utility
 * process, in a Node child process, or in-process for the CLI; it never
 * imports Electron and never writes a password anywhere.
 */
export class Agent {
  private readonly db: AgentDatabase;
  private readonly clock: Clock;
  private readonly session = new SessionSecretStore();
  private readonly pool: RepositoryPool;
  private readonly mounts: SnapshotMounts;
  private readonly access: TargetAccess;
  private readonly listeners = new Set<(event: AgentEvent) => void>();
  private readonly queue: QueuedJob[] = [];
  private readonly running = new Map<string, QueuedJob>();
  private readonly watchers = new Map<string, PlanWatcher>();
  /** Continuous plans' changed paths not yet backed up. */
  private readonly changes = new Map<string, Set<string>>();
  private readonly hints = new Set<string>();
  /** The last skip reason recorded per plan, so a held run is written to the history once, not at every tick. */
  private readonly skipNoted = new Map<string, string>();
  private cancelTick: (() => void) | undefined;
  private stopped = false;

  constructor(private readonly options: AgentOptions) {
    this.db = new AgentDatabase(options.dataDir);
    this.clock = options.clock ?? systemClock;
    this.access = new TargetAccess(this.db, options.secrets, this.session, (warning) => this.emit({ type: 'warning', warning }));
    this.pool = new RepositoryPool(this.db, options.secrets, this.session, (event) => this.emit(event), this.access);
    this.mounts = new SnapshotMounts(this.pool, options.openFolder ?? openInFileManager, (line) => console.error(line), options.mountIdleMs);
  }

  async start(): Promise<void> {
    const cutOff = this.db.abandonRunningJobs(this.date());
    if (this.options.watch ?? true) for (const plan of this.db.listPlans()) await this.syncWatcher(plan);
    // Backups the previous agent could not finish run again: what they had saved is reused, not sent twice.
    for (const id of cutOff) {
      const plan = this.db.getPlan(id);
      if (plan?.enabled && !this.existingJob(id)) this.enqueueBackup(plan);
    }
    this.tick();
  }

  /** Stops timers and watchers; running jobs stop at a safe point (their finished work is kept). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelTick?.();
    for (const watcher of this.watchers.values()) await watcher.close();
    this.watchers.clear();
    const running = [...this.running.values()];
    // A backup continues from where it stopped at the next start; a restore, check or prune does not.
    for (const job of running) job.controller.abort((job.record.kind === 'backup' ? 'paused' : 'stopping') satisfies StopReason);
    while (this.running.size > 0) await new Promise((r) => setTimeout(r, 20));
    await this.mounts.closeAll();
    await this.pool.close();
    this.db.close();
  }

  subscribe(listener: (event: AgentEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** One call of the contract, with parameters already checked against its schema. */
  async call<M extends Method>(method: M, params: ParsedParams<M>): Promise<Result<M>> {
    const handler = this.handlers[method] as (p: ParsedParams<M>) => Promise<Result<M>> | Result<M>;
    return handler(await this.adoptLocations(params));
  }

  /**
   * Every location a call names, as the agent keeps it: credentials written in a rest: location go to the
   * keychain and out of the location (so out of plans, job records and messages), and settings given with
   * a target are kept for it. Plans do not keep `targetSettings` themselves; they are shown with them.
   */
  private async adoptLocations<P>(params: P): Promise<P> {
    const given = params as Record<string, unknown>;
    const adopted: Record<string, unknown> = { ...given };
    if (typeof given.location === 'string') adopted.location = await this.access.adopt(given.location, given.settings as TargetSettings | undefined);
    if (typeof given.repository === 'string') adopted.repository = await this.access.adopt(given.repository);
    if (Array.isArray(given.targets)) Object.assign(adopted, await this.adoptTargets(given.targets as string[], given.targetSettings as Record<string, TargetSettings> | undefined));
    const changes = given.changes as { targets?: string[]; targetSettings?: Record<string, TargetSettings> } | undefined;
    if (changes && typeof changes === 'object') adopted.changes = { ...changes, ...(await this.adoptTargets(changes.targets, changes.targetSettings)) };
    return adopted as P;
  }

  private async adoptTargets(targets: readonly string[] | undefined, settings: Record<string, TargetSettings> | undefined): Promise<{ targets?: string[]; targetSettings: undefined }> {
    const bare: string[] = [];
    for (const target of targets ?? []) bare.push(await this.access.adopt(target, settings?.[target]));
    for (const [location, each] of Object.entries(settings ?? {})) if (!targets?.includes(location)) await this.access.adopt(location, each);
    return { ...(targets ? { targets: bare } : {}), targetSettings: undefined };
  }

  /** A plan as the API shows it: with the settings kept for its targets. */
  private shown(plan: Plan): Plan {
    const settings = Object.fromEntries(plan.targets.flatMap((target) => {
      const each = this.db.targetSettings(target);
      return each ? [[target, each] as const] : [];
    }));
    return Object.keys(settings).length > 0 ? { ...plan, targetSettings: settings } : plan;
  }

  private readonly handlers: { [M in Method]: (params: ParsedParams<M>) => Promise<Result<M>> | Result<M> } = {
    'status.get': () => this.status(),
    'plans.list': () => this.db.listPlans().map((plan) => this.shown(plan)),
    'plans.create': async (input) => {
      const fields = { ...input, excludes: input.excludes.length > 0 ? input.excludes : [...DEFAULT_EXCLUDES] };
      validateSchedule(fields.schedule);
      validateSources(fields);
      const plan = this.db.insertPlan(definedOnly(fields), this.date());
      await this.syncWatcher(plan);
      this.tick();
      return this.shown(plan);
    },
    'plans.update': async ({ id, changes }) => {
      const current = this.plan(id);
      const next: PlanFields = { ...planFields(current), ...definedOnly(changes) };
      validateSchedule(next.schedule);
      validateSources(next);
      // A new target joins the plan once it holds a complete copy of the others: a seed job of the plan
      // (its backups wait for it) copies the repository there, then adds it. A removed one is no longer written.
      const added = next.targets.filter((t) => !current.targets.includes(t));
      const kept = next.targets.filter((t) => current.targets.includes(t));
      const seeding = added.length > 0 && kept.length > 0;
      const plan = this.db.updatePlan(id, seeding ? { ...next, targets: kept } : next, this.date());
      if (seeding) {
        this.enqueue({ kind: 'seed', planId: plan.id, repository: added.join(', ') }, async (context) => {
          const summary = await this.pool.seed(kept, added, context.signal);
          const now = this.plan(id);
          this.db.updatePlan(id, { ...planFields(now), targets: [...now.targets, ...added.filter((t) => !now.targets.includes(t))] }, this.date());
          return { summary };
        });
      }
      await this.syncWatcher(plan);
      this.tick();
      return this.shown(plan);
    },
    'plans.delete': async ({ id }) => {
      this.plan(id);
      for (const job of this.running.values()) if (job.record.planId === id) job.controller.abort('cancelled' satisfies StopReason);
      await this.watchers.get(id)?.close();
      this.watchers.delete(id);
      this.changes.delete(id);
      this.db.deletePlan(id);
      return { deleted: true as const };
    },
    'repositories.create': async ({ location, password, remember }) => this.pool.create(location, password, remember),
    'repositories.connect': async ({ location, password, remember }) => this.pool.connect(location, password, remember),
    'repositories.list': async () => this.pool.list(),
    'snapshots.list': ({ repository }) => this.pool.withRepository(repository, (repo) => snapshotQueries.list(repo)),
    'snapshots.browse': ({ repository, snapshot, path }) => this.pool.withRepository(repository, (repo) => snapshotQueries.browse(repo, snapshot, path)),
    'snapshots.browsePage': ({ repository, snapshot, path, offset, limit, ...order }) =>
      this.pool.withRepository(repository, (repo) => snapshotQueries.browsePage(repo, snapshot, path, order, offset, limit)),
    'snapshots.versions': ({ repository, path }) => this.pool.withRepository(repository, (repo) => snapshotQueries.versions(repo, path)),
    'snapshots.diff': ({ repository, from, to }) => this.pool.withRepository(repository, (repo) => snapshotQueries.diff(repo, from, to)),
    'snapshots.search': ({ repository, pattern }) => this.pool.withRepository(repository, (repo) => snapshotQueries.search(repo, pattern)),
    'snapshots.read': ({ repository, snapshot, path, offset, length }) =>
      this.pool.withRepository(repository, (repo) => snapshotQueries.read(repo, snapshot, path, offset, length)),
    'mounts.open': ({ repository, snapshot, open }) => this.mounts.open(repository, snapshot, open),
    'mounts.close': async ({ repository }) => ({ closed: await this.mounts.close(repository) }),
    'jobs.backup': ({ planId }) => {
      const plan = this.plan(planId);
      const paused = this.pauseReason(plan.id);
      if (paused) throw new HindsightError('E_PAUSED', `Plan "${plan.name}" is paused (${paused}); resume it first.`);
      return this.existingJob(plan.id) ?? this.enqueueBackup(plan);
    },
    'jobs.restore': ({ repository, snapshot, paths, target, overwrite }) =>
      this.enqueue({ kind: 'restore', repository }, (context) =>
        this.pool.withRepository(repository, async (repo) => {
          const chosen = await resolveSnapshot(repo, snapshot);
          let files = 0;
          let bytes = 0;
          const problems: Warning[] = [];
          for (const path of paths ?? [undefined]) {
            const result = await restore(repo, {
              snapshot: chosen,
              target,
              overwrite,
              ...(path !== undefined ? { path } : {}),
              signal: context.signal,
              onProgress: (p) => context.progress(p),
              onProblem: (w) => {
                problems.push(w);
                context.warn(w);
              },
            }).catch((err: unknown) => {
              if (!(err instanceof OperationInterrupted)) throw err;
              throw new PartialRestore(
                `The restore into ${target} is partial: it stopped before it finished. Every file it wrote is whole and no temporary file is left; restore again to bring back the rest.`,
                { snapshot: chosen.id, partial: 'yes', target },
              );
            });
            files += result.filesRestored;
            bytes += result.bytesWritten;
          }
          if (problems.length > 0) throw new HindsightError('E_RESTORE_INCOMPLETE', `${problems.length} item(s) could not be restored; the rest is in ${target}.`);
          return { summary: { snapshot: chosen.id, files, bytes } };
        }, 'shared'),
      ),
    'jobs.check': ({ repository, readData }) =>
      this.enqueue({ kind: 'check', repository }, (context) =>
        this.pool.withRepository(repository, async (repo) => {
          const result = await checkRepository(repo, { ...(readData ? { readData: { kind: 'all' as const } } : {}), signal: context.signal, onProgress: (p) => context.progress(p) });
          for (const problem of result.errors) context.warn({ path: problem.kind, message: problem.message });
          if (result.errors.length > 0) throw new HindsightError('E_CHECK_FAILED', `The check found ${result.errors.length} problem(s) in ${repository}.`);
          return { summary: { snapshots: result.snapshots, packs: result.packs, packsRead: result.packsRead } };
        }, 'shared'),
      ),
    'jobs.prune': ({ repository }) =>
      this.enqueue({ kind: 'prune', repository }, (context) =>
        this.pool.withRepository(repository, async (repo) => {
          const result = await prune(repo, { signal: context.signal, onProgress: (p) => context.progress(p) });
          return { summary: { packsDeleted: result.packsToDelete, packsRepacked: result.packsToRepack, blobsUnused: result.blobsUnused } };
        }, 'exclusive', retentionLockWait(context)),
      ),
    'jobs.list': ({ limit }) => this.db.listJobs(limit).map((job) => this.live(job)),
    'jobs.cancel': ({ jobId }) => {
      const queued = this.queue.findIndex((job) => job.record.id === jobId);
      if (queued >= 0) {
        const [job] = this.queue.splice(queued, 1);
        job?.onNotDone?.();
        if (job) this.finish(job, { result: 'cancelled', message: 'Cancelled before it started.' });
        this.emit({ type: 'status', status: this.status() });
        return { cancelled: true };
      }
      // Every kind of job stops at its next safe point; the job then ends as cancelled.
      const running = this.running.get(jobId);
      if (!running || running.controller.signal.aborted) return { cancelled: false };
      running.controller.abort('cancelled' satisfies StopReason);
      return { cancelled: true };
    },
    'agent.pause': ({ planId, forSeconds }) => {
      if (planId !== undefined) this.plan(planId);
      const until = forSeconds === undefined ? undefined : this.clock.now() + forSeconds * 1000;
      this.db.setPause(planId ?? ALL_PLANS, until);
      for (const job of this.running.values()) {
        if (job.record.kind === 'backup' && (planId === undefined || job.record.planId === planId)) job.controller.abort('paused' satisfies StopReason);
      }
      this.tick();
      return this.status();
    },
    'agent.resume': ({ planId }) => {
      this.db.clearPause(planId);
      this.skipNoted.clear();
      this.tick();
      return this.status();
    },
    'settings.get': () => this.db.settings(),
    'settings.update': (change) => {
      const settings = this.db.updateSettings(definedOnly(change));
      this.pump();
      return settings;
    },
    'host.listFolder': ({ path }) => listHostFolder(path),
    'host.listRemoteFolder': ({ location }) => listRemoteFolder(location),
    'host.rcloneRemotes': async ({ program }) => ({ remotes: await listRcloneRemotes(program) }),
    'host.serverCertificate': ({ host, port }) => fetchServerCertificate(host, port),
    'host.hint': ({ hint }) => {
      const opposite: Record<string, string> = { suspend: 'resume', resume: 'suspend', 'on-battery': 'on-ac', 'on-ac': 'on-battery', metered: 'unmetered', unmetered: 'metered' };
      this.hints.delete(opposite[hint] as string);
      if (hint === 'suspend') {
        this.hints.add(hint);
        // The machine is going to sleep: stop at a safe point now rather than be frozen mid-pack.
        for (const job of this.running.values()) if (job.record.kind === 'backup') job.controller.abort('paused' satisfies StopReason);
      } else if (hint !== 'resume' && hint !== 'on-ac' && hint !== 'unmetered') this.hints.add(hint);
      this.skipNoted.clear();
      this.tick();
      return this.status();
    },
  };

  // ---- scheduling

  /** Looks at every plan, queues those due, and sets the timer for the next one. */
  private tick(): void {
    if (this.stopped) return;
    this.cancelTick?.();
    this.cancelTick = undefined;
    const now = this.clock.now();
    let next = now + MAX_SLEEP_MS;
    for (const [scope, until] of this.db.pauses()) {
      if (until === undefined) continue;
      if (until <= now) this.db.clearPause(scope);
      else next = Math.min(next, until);
    }
    if (this.options.schedule ?? true) {
      for (const plan of this.db.listPlans()) {
        const due = dueAt(plan, this.db.planState(plan.id), { watching: this.watchers.has(plan.id) });
        const pendingChanges = (this.changes.get(plan.id)?.size ?? 0) > 0;
        if ((due === undefined || due > now) && !pendingChanges) {
          if (due !== undefined) next = Math.min(next, due);
          continue;
        }
        if (this.existingJob(plan.id)) continue;
        const reason = this.pauseReason(plan.id) ?? this.deferReason();
        if (reason) {
          this.noteSkip(plan, reason);
          continue;
        }
        this.skipNoted.delete(plan.id);
        this.enqueueBackup(plan);
      }
    }
    this.cancelTick = this.clock.setTimer(() => this.tick(), Math.max(0, next - now));
    // A job queued before its plan was paused waits in the queue; a resume, or a pause that ran out, lets it start.
    this.pump();
    this.emit({ type: 'status', status: this.status() });
  }

  private noteSkip(plan: Plan, reason: string): void {
    if (this.skipNoted.get(plan.id) === reason) return;
    this.skipNoted.set(plan.id, reason);
    this.db.recordSkipped({ kind: 'backup', planId: plan.id }, reason, this.date());
  }

  /** Why a plan is held by a pause, for the history ("paused", "paused until …"); undefined when it is not. */
  private pauseReason(planId: string): string | undefined {
    const until = this.pauseUntil(planId);
    if (until === undefined) return undefined;
    // Read by people (the history, the message of a refused run): local time, as every command shows it.
    return until === 'resumed by hand' ? 'paused' : `paused until ${formatLocalTime(until, true)}`;
  }

  private deferReason(): string | undefined {
    const settings = this.db.settings();
    if (this.hints.has('suspend')) return 'the computer is going to sleep';
    if (settings.deferOnBattery && this.hints.has('on-battery')) return 'deferred while on battery';
    if (settings.deferOnMetered && this.hints.has('metered')) return 'deferred on a metered network';
    return undefined;
  }

  private async syncWatcher(plan: Plan): Promise<void> {
    await this.watchers.get(plan.id)?.close();
    this.watchers.delete(plan.id);
    if (!(this.options.watch ?? true) || plan.schedule.kind !== 'continuous' || !plan.enabled) return;
    const watcher = new PlanWatcher(plan, this.clock, {
      onChanges: (paths) => {
        const set = this.changes.get(plan.id) ?? new Set<string>();
        for (const path of paths) set.add(path);
        this.changes.set(plan.id, set);
        this.tick();
      },
      onFallback: (reason) => {
        this.watchers.delete(plan.id);
        this.db.updatePlanState(plan.id, { scanAll: true });
        this.emit({ type: 'warning', warning: { path: plan.sources.join(', '), message: reason } });
        this.tick();
      },
    });
    try {
      await watcher.start();
      this.watchers.set(plan.id, watcher);
    } catch (err) {
      this.emit({ type: 'warning', warning: { path: plan.sources.join(', '), message: `cannot watch for changes (${(err as Error).message}); scanning periodically instead` } });
    }
  }

  // ---- jobs

  private enqueueBackup(plan: Plan): JobRecord {
    const changed = this.changes.get(plan.id);
    this.changes.delete(plan.id);
    return this.enqueue({ kind: 'backup', planId: plan.id }, (context) => this.runBackup(plan.id, changed, context), () => {
      // Not backed up after all (failed, paused, cancelled): the changes wait for the next run.
      if (!changed) return;
      const set = this.changes.get(plan.id) ?? new Set<string>();
      for (const path of changed) set.add(path);
      this.changes.set(plan.id, set);
    });
  }

  private async runBackup(planId: string, changed: Set<string> | undefined, context: JobContext): Promise<JobOutcome> {
    const plan = this.plan(planId);
    const state = this.db.planState(plan.id);
    const now = this.clock.now();
    const full = plan.fullEveryDays !== undefined && (state.lastFullAt === undefined || now - state.lastFullAt >= plan.fullEveryDays * 86_400_000);
    const changedPaths = plan.schedule.kind === 'continuous' && !state.scanAll && changed && !full ? [...changed] : undefined;
    const summary: Record<string, number | string> = {};
    // The snapshot saved is the job's success; forgetting and pruning after it (retention) may still fail or stop.
    let retention: { step: RetentionStep; err: unknown } | undefined;
    // Several targets are one repository replicated on all of them (each holds the same copy).
    await this.pool.withRepository(plan.targets, async (repository) => {
      const { snapshot } = plan.command
        ? { snapshot: await this.backupCommandOutput(repository, plan, plan.command, context) }
        : await this.backupSources(repository, plan.sources, {
            type: full ? 'full' : 'incremental',
            tags: [`plan:${plan.id}`],
            excludes: { patterns: plan.excludes },
            ...(this.options.workers !== undefined ? { workers: this.options.workers } : {}),
            ...(changedPaths ? { changedPaths } : {}),
            signal: context.signal,
            onProgress: (p) => context.progress(p),
            onWarning: (w) => context.warn(w),
          });
      Object.assign(summary, {
        snapshot: snapshot.id,
        filesNew: snapshot.summary.filesNew,
        filesChanged: snapshot.summary.filesChanged,
        filesUnchanged: snapshot.summary.filesUnchanged,
        bytesAdded: snapshot.summary.bytesAdded,
        totalBytes: snapshot.summary.totalBytes,
      });
      // Only this plan's snapshots (by their tag): other plans may share the repository.
      if (plan.retention && !isEmptyPolicy(plan.retention)) {
        try {
          const decisions = await forgetSnapshots(repository, plan.retention, { select: (s) => s.tags.includes(`plan:${plan.id}`), lockWait: retentionLockWait(context) });
          summary.forgotten = decisions.filter((d) => !d.keep).length;
        } catch (err) {
          retention = { step: 'forget', err };
        }
      }
      if (repository.backend instanceof ReplicatedBackend) {
        const statuses = repository.backend.status();
        await recordTargets(statuses);
        for (const target of statuses) {
          if (target.behind) context.warn({ path: target.location, message: `target is behind (${target.lastError ?? 'it missed writes'}); run "hindsight repair" when it is reachable` });
        }
      }
    }, 'none');
    for (const target of plan.targets) this.db.targetSucceeded(target, this.date());
    this.db.updatePlanState(plan.id, { scanAll: false, ...(full ? { lastFullAt: now } : {}) });
    const pruneDue = plan.pruneEveryDays !== undefined && (state.lastPruneAt === undefined || now - state.lastPruneAt >= plan.pruneEveryDays * 86_400_000);
    if (!retention && pruneDue) {
      try {
        await this.pool.withRepository(plan.targets, (repository) => prune(repository, { signal: context.signal, onProgress: (p) => context.progress(p) }), 'exclusive', retentionLockWait(context));
        this.db.updatePlanState(plan.id, { lastPruneAt: now });
      } catch (err) {
        retention = { step: 'prune', err };
      }
    }
    if (!retention) return { summary };
    const notDone = retentionNotDone(retention.step, retention.err, context, plan.targets.join(', '));
    return { summary: { ...summary, ...notDone.summary }, message: notDone.message };
  }

  /** Backs up a plan's paths, on this computer or (sftp://) on another machine, reached with the default SSH keys and known_hosts. */
  private async backupSources(repository: Repository, paths: readonly string[], options: Omit<BackupOptions, 'paths' | 'source'>): Promise<BackupResult> {
    const where = await sourcePathsFor(paths);
    try {
      return await backup(repository, { ...options, paths: where.paths, source: where.source });
    } finally {
      await where.close();
    }
  }

  /** A plan's command run and its standard output stored as one file; a command that fails fails the job, with no snapshot. */
  private async backupCommandOutput(repository: Repository, plan: Plan, source: CommandSource, context: JobContext): Promise<Snapshot> {
    const command = runCommandSource(source.command, { signal: context.signal });
    try {
      return await backupStream(repository, {
        filename: source.filename,
        input: command.stdout,
        finished: command.exited,
        tags: [`plan:${plan.id}`],
        signal: context.signal,
        onProgress: (p) => context.progress(p),
      });
    } finally {
      command.kill();
    }
  }

  private enqueue(job: { kind: JobKind; planId?: string; repository?: string }, run: QueuedJob['run'], onNotDone?: () => void): JobRecord {
    const record = this.db.startJob(job, 'queued', this.date());
    const queued: QueuedJob = { record, run, controller: new AbortController(), warnings: 0, ...(onNotDone ? { onNotDone } : {}) };
    this.queue.push(queued);
    this.emit({ type: 'job.started', job: record });
    this.emit({ type: 'status', status: this.status() });
    queueMicrotask(() => this.pump());
    return record;
  }

  /** Starts queued jobs while the limit allows; a paused plan's job waits. */
  private pump(): void {
    const limit = this.db.settings().maxConcurrentJobs;
    for (let i = 0; i < this.queue.length && this.running.size < limit; ) {
      const job = this.queue[i] as QueuedJob;
      if (job.record.planId !== undefined && this.pauseReason(job.record.planId)) {
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      void this.execute(job);
    }
  }

  private async execute(job: QueuedJob): Promise<void> {
    job.record = { ...job.record, result: 'running' };
    this.db.setJobResult(job.record.id, 'running');
    this.running.set(job.record.id, job);
    this.emit({ type: 'status', status: this.status() });
    const context: JobContext = {
      signal: job.controller.signal,
      progress: (progress) => {
        job.progress = progress;
        this.emit({ type: 'job.progress', jobId: job.record.id, progress });
      },
      warn: (warning) => {
        job.warnings += 1;
        this.emit({ type: 'warning', jobId: job.record.id, warning });
      },
    };
    try {
      const outcome = await job.run(context);
      this.finish(job, { result: 'succeeded', ...outcome });
    } catch (err) {
      const reason = job.controller.signal.aborted ? (job.controller.signal.reason as StopReason) : undefined;
      job.onNotDone?.();
      if (reason && (err instanceof BackupInterrupted || err instanceof OperationInterrupted || (err as Error).name === 'AbortError')) {
        this.finish(job, { result: reason === 'paused' ? 'paused' : 'cancelled', message: stoppedMessage(reason, err), ...(err instanceof PartialRestore ? { summary: err.summary } : {}) });
      } else {
        this.finish(job, { result: 'failed', message: (err as Error).message, code: (err as HindsightError).code ?? 'E_INTERNAL' });
      }
    } finally {
      this.running.delete(job.record.id);
      this.pump();
      this.tick();
    }
  }

  private finish(job: QueuedJob, end: { result: 'succeeded' | 'failed' | 'cancelled' | 'paused'; message?: string; summary?: Record<string, number | string>; code?: string }): void {
    const record = this.db.finishJob(job.record.id, { result: end.result, ...(end.message ? { message: end.message } : {}), ...(end.summary ? { summary: end.summary } : {}), warnings: job.warnings }, this.date());
    const planId = job.record.planId;
    if (planId !== undefined && job.record.kind === 'backup' && this.db.getPlan(planId)) {
      const state = this.db.planState(planId);
      const started = Date.parse(job.record.startedAt);
      if (end.result === 'succeeded') this.db.updatePlanState(planId, { lastRunAt: started, lastResult: 'succeeded', lastMessage: end.message ?? null, failures: 0, retryAt: null });
      else if (end.result === 'failed') {
        const failures = state.failures + 1;
        this.db.updatePlanState(planId, { lastRunAt: started, lastResult: 'failed', lastMessage: end.message ?? null, failures, retryAt: this.clock.now() + retryDelayMs(failures) });
      } else if (end.result === 'paused') {
        // Runs again as soon as the pause ends, without counting as a failure.
        this.db.updatePlanState(planId, { lastResult: 'paused', retryAt: this.clock.now() });
      } else this.db.updatePlanState(planId, { lastResult: 'cancelled' });
    }
    if (end.result === 'failed') this.emit({ type: 'error', code: end.code ?? 'E_INTERNAL', message: end.message ?? 'The job failed.' });
    this.emit({ type: 'job.finished', job: record });
  }

  private existingJob(planId: string): JobRecord | undefined {
    return [...this.running.values(), ...this.queue].find((job) => job.record.planId === planId)?.record;
  }

  // ---- status

  private status(): Status {
    const plans: PlanStatus[] = this.db.listPlans().map((plan) => {
      const state = this.db.planState(plan.id);
      const pause = this.pauseUntil(plan.id);
      const runningJob = [...this.running.values()].some((job) => job.record.planId === plan.id);
      // Paused wins over running: a paused job is only winding down to its safe point.
      const planState: AgentState = pause !== undefined ? 'paused' : runningJob ? 'running' : state.lastResult === 'failed' ? 'error' : 'idle';
      const due = dueAt(plan, state, { watching: this.watchers.has(plan.id) });
      return {
        planId: plan.id,
        name: plan.name,
        state: planState,
        ...(pause !== undefined ? { pausedUntil: pause } : {}),
        ...(state.lastRunAt !== undefined && state.lastResult !== undefined
          ? { lastRun: { at: new Date(state.lastRunAt).toISOString(), result: state.lastResult, ...(state.lastMessage ? { message: state.lastMessage } : {}) } }
          : {}),
        ...(due !== undefined ? { nextRun: new Date(Math.max(due, this.clock.now())).toISOString() } : {}),
        ...(plan.schedule.kind === 'continuous' ? { watching: this.watchers.has(plan.id) } : {}),
      };
    });
    const globalPause = this.pauseUntil(ALL_PLANS, true);
    const state: AgentState =
      globalPause !== undefined ? 'paused' : this.running.size > 0 ? 'running' : plans.some((p) => p.state === 'error') ? 'error' : 'idle';
    return {
      state,
      ...(globalPause !== undefined ? { pausedUntil: globalPause } : {}),
      plans,
      runningJobs: [...this.running.values()].map((job) => this.live(job.record)),
      queuedJobs: this.queue.map((job) => job.record),
      hints: [...this.hints],
    };
  }

  /** Until when a plan (or, with `onlyThis` and ALL_PLANS, everything) is paused; expired pauses do not count. */
  private pauseUntil(planId: string, onlyThis = false): string | undefined {
    const pauses = this.db.pauses();
    const now = this.clock.now();
    for (const scope of onlyThis ? [planId] : [ALL_PLANS, planId]) {
      if (!pauses.has(scope)) continue;
      const until = pauses.get(scope);
      if (until === undefined) return 'resumed by hand';
      if (until > now) return new Date(until).toISOString();
    }
    return undefined;
  }

  /** A stored job record with the live progress of a running job. */
  private live(record: JobRecord): JobRecord {
    const job = this.running.get(record.id);
    return job ? { ...job.record, warnings: job.warnings, ...(job.progress ? { progress: job.progress } : {}) } : record;
  }

  private plan(id: string): Plan {
    const plan = this.db.getPlan(id);
    if (!plan) throw new HindsightError('E_PLAN_NOT_FOUND', `There is no plan with id ${id}.`);
    return plan;
  }

  private emit(event: AgentEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  private date(): Date {
    return new Date(this.clock.now());
  }
}

/** A restore stopped through its signal, with what the job record keeps of it: the target holds part of what was asked. */
class PartialRestore extends OperationInterrupted {
  constructor(
    message: string,
    readonly summary: Record<string, string>,
  ) {
    super(message);
  }
}

/** What a stopped job's record says: why it stopped, and what the operation left (its own message, when it gave one). */
function stoppedMessage(reason: StopReason, err: unknown): string {
  if (reason === 'paused') return 'Paused; the work done so far is kept and the next run continues from there.';
  const left = err instanceof OperationInterrupted ? ` ${err.message}` : '';
  return `${reason === 'stopping' ? 'Stopped because the agent stopped.' : 'Cancelled.'}${left}`;
}

/** A plan backs up files and folders or one command's output (see planSourcesProblem). */
function validateSources(plan: PlanFields): void {
  const problem = planSourcesProblem(plan);
  if (problem) throw new HindsightError('E_INVALID_PLAN', problem);
}

function planFields(plan: Plan): PlanFields {
  const { id: _id, createdAt: _created, updatedAt: _updated, ...fields } = plan;
  return fields;
}

function definedOnly<T extends object>(value: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as { [K in keyof T]: Exclude<T[K], undefined> };
}
