import type Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import type { JobKind, JobRecord, JobResult, Settings } from '../../src-shared/api.js';
import type { Plan, PlanFields, TargetSettings } from '../../src-shared/plan.js';
import { openCacheDatabase } from '../engine/cacheDatabase.js';

const MIGRATIONS: readonly string[] = [
  `CREATE TABLE plans (id TEXT PRIMARY KEY, definition TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
   CREATE TABLE plan_state (
     plan_id TEXT PRIMARY KEY REFERENCES plans(id) ON DELETE CASCADE,
     last_run_at INTEGER, last_result TEXT, last_message TEXT,
     failures INTEGER NOT NULL DEFAULT 0, retry_at INTEGER,
     last_full_at INTEGER, last_prune_at INTEGER,
     scan_all INTEGER NOT NULL DEFAULT 1);
   CREATE TABLE jobs (
     id TEXT PRIMARY KEY, kind TEXT NOT NULL, plan_id TEXT, repository TEXT,
     started_at TEXT NOT NULL, ended_at TEXT, result TEXT NOT NULL, message TEXT,
     summary TEXT, warnings INTEGER NOT NULL DEFAULT 0);
   CREATE INDEX jobs_by_start ON jobs(started_at);
   CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE pauses (scope TEXT PRIMARY KEY, until INTEGER);
   CREATE TABLE targets (location TEXT PRIMARY KEY, repository_id TEXT NOT NULL, last_success TEXT);`,
  // How to reach a target beyond its location (a CA certificate, the rclone program); never a secret.
  `CREATE TABLE target_settings (location TEXT PRIMARY KEY, settings TEXT NOT NULL);`,
];

export const DEFAULT_SETTINGS: Settings = { maxConcurrentJobs: 1, deferOnBattery: false, deferOnMetered: true, uploadLimitKiBps: 0 };

export interface PlanState {
  readonly lastRunAt?: number;
  readonly lastResult?: JobResult;
  readonly lastMessage?: string;
  readonly failures: number;
  readonly retryAt?: number;
  readonly lastFullAt?: number;
  readonly lastPruneAt?: number;
  /** The next backup must walk everything (first run, changed plan, watcher overflow). */
  readonly scanAll: boolean;
}

/** All scope: pause of everything. */
export const ALL_PLANS = '*';

interface PlanRow {
  id: string;
  definition: string;
  created_at: string;
  updated_at: string;
}

interface JobRow {
  id: string;
  kind: JobKind;
  plan_id: string | null;
  repository: string | null;
  started_at: string;
  ended_at: string | null;
  result: JobResult;
  message: string | null;
  summary: string | null;
  warnings: number;
}

/**
 * The agent's own state in SQLite: plans, their run state, job history,
 * settings, pauses and known targets. Never a password.
 */
export class AgentDatabase {
  private readonly db: Database.Database;

  constructor(folder: string) {
    this.db = openCacheDatabase(folder, 'agent.sqlite', MIGRATIONS);
    this.db.pragma('foreign_keys = ON');
  }

  close(): void {
    this.db.close();
  }

  // ---- plans

  listPlans(): Plan[] {
    return (this.db.prepare('SELECT * FROM plans ORDER BY created_at, id').all() as PlanRow[]).map(planOf);
  }

  getPlan(id: string): Plan | undefined {
    const row = this.db.prepare('SELECT * FROM plans WHERE id = ?').get(id) as PlanRow | undefined;
    return row ? planOf(row) : undefined;
  }

  insertPlan(fields: PlanFields, now: Date): Plan {
    const id = randomUUID();
    const at = now.toISOString();
    this.db.transaction(() => {
      this.db.prepare('INSERT INTO plans (id, definition, created_at, updated_at) VALUES (?, ?, ?, ?)').run(id, JSON.stringify(fields), at, at);
      this.db.prepare('INSERT INTO plan_state (plan_id) VALUES (?)').run(id);
    })();
    return { ...fields, id, createdAt: at, updatedAt: at };
  }

  updatePlan(id: string, fields: PlanFields, now: Date): Plan {
    const at = now.toISOString();
    this.db.transaction(() => {
      this.db.prepare('UPDATE plans SET definition = ?, updated_at = ? WHERE id = ?').run(JSON.stringify(fields), at, id);
      // Sources or excludes may have changed: what the parent snapshot says no longer stands in for a walk.
      this.db.prepare('UPDATE plan_state SET scan_all = 1 WHERE plan_id = ?').run(id);
    })();
    return this.getPlan(id) as Plan;
  }

  deletePlan(id: string): boolean {
    this.db.prepare('DELETE FROM pauses WHERE scope = ?').run(id);
    return this.db.prepare('DELETE FROM plans WHERE id = ?').run(id).changes > 0;
  }

  planState(id: string): PlanState {
    const row = this.db.prepare('SELECT * FROM plan_state WHERE plan_id = ?').get(id) as Record<string, number | string | null> | undefined;
    if (!row) return { failures: 0, scanAll: true };
    const num = (key: string) => (row[key] === null ? undefined : (row[key] as number));
    return {
      ...(num('last_run_at') !== undefined ? { lastRunAt: num('last_run_at') as number } : {}),
      ...(row.last_result !== null ? { lastResult: row.last_result as JobResult } : {}),
      ...(row.last_message !== null ? { lastMessage: row.last_message as string } : {}),
      failures: row.failures as number,
      ...(num('retry_at') !== undefined ? { retryAt: num('retry_at') as number } : {}),
      ...(num('last_full_at') !== undefined ? { lastFullAt: num('last_full_at') as number } : {}),
      ...(num('last_prune_at') !== undefined ? { lastPruneAt: num('last_prune_at') as number } : {}),
      scanAll: row.scan_all === 1,
    };
  }

  updatePlanState(id: string, change: { -readonly [K in keyof PlanState]?: PlanState[K] | null }): void {
    const columns: Record<keyof PlanState, string> = {
      lastRunAt: 'last_run_at',
      lastResult: 'last_result',
      lastMessage: 'last_message',
      failures: 'failures',
      retryAt: 'retry_at',
      lastFullAt: 'last_full_at',
      lastPruneAt: 'last_prune_at',
      scanAll: 'scan_all',
    };
    const entries = Object.entries(change) as [keyof PlanState, unknown][];
    if (entries.length === 0) return;
    const sets = entries.map(([key]) => `${columns[key]} = ?`).join(', ');
    const values = entries.map(([, value]) => (typeof value === 'boolean' ? (value ? 1 : 0) : (value ?? null)));
    this.db.prepare(`UPDATE plan_state SET ${sets} WHERE plan_id = ?`).run(...values, id);
  }

  // ---- jobs

  startJob(job: { kind: JobKind; planId?: string; repository?: string }, result: JobResult, now: Date): JobRecord {
    const record: JobRecord = {
      id: randomUUID(),
      kind: job.kind,
      ...(job.planId !== undefined ? { planId: job.planId } : {}),
      ...(job.repository !== undefined ? { repository: job.repository } : {}),
      startedAt: now.toISOString(),
      result,
      warnings: 0,
    };
    this.db
      .prepare('INSERT INTO jobs (id, kind, plan_id, repository, started_at, result) VALUES (?, ?, ?, ?, ?, ?)')
      .run(record.id, record.kind, job.planId ?? null, job.repository ?? null, record.startedAt, record.result);
    return record;
  }

  finishJob(id: string, end: { result: JobResult; message?: string; summary?: Record<string, number | string>; warnings: number }, now: Date): JobRecord {
    this.db
      .prepare('UPDATE jobs SET ended_at = ?, result = ?, message = ?, summary = ?, warnings = ? WHERE id = ?')
      .run(now.toISOString(), end.result, end.message ?? null, end.summary ? JSON.stringify(end.summary) : null, end.warnings, id);
    return this.getJob(id) as JobRecord;
  }

  /** A run that did not happen, and why (paused, already running, deferred). */
  recordSkipped(job: { kind: JobKind; planId: string }, reason: string, now: Date): JobRecord {
    const started = this.startJob(job, 'running', now);
    return this.finishJob(started.id, { result: 'skipped', message: reason, warnings: 0 }, now);
  }

  setJobResult(id: string, result: JobResult): void {
    this.db.prepare('UPDATE jobs SET result = ? WHERE id = ?').run(result, id);
  }

  getJob(id: string): JobRecord | undefined {
    const row = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | undefined;
    return row ? jobOf(row) : undefined;
  }

  listJobs(limit: number): JobRecord[] {
    return (this.db.prepare('SELECT * FROM jobs ORDER BY started_at DESC, rowid DESC LIMIT ?').all(limit) as JobRow[]).map(jobOf);
  }

  /**
   * Jobs still marked running from a previous agent that died (killed, or a shutdown that gave it no time
   * to stop): they did not finish. Returns the plans whose backups were among them, to run again.
   */
  abandonRunningJobs(now: Date): string[] {
    return this.db.transaction(() => {
      const plans = this.db.prepare("SELECT DISTINCT plan_id FROM jobs WHERE result IN ('running', 'queued') AND kind = 'backup' AND plan_id IS NOT NULL").pluck().all() as string[];
      this.db.prepare("UPDATE jobs SET result = 'failed', ended_at = ?, message = 'The agent stopped while this job ran.' WHERE result IN ('running', 'queued')").run(now.toISOString());
      return plans;
    })();
  }

  // ---- settings, pauses, targets

  settings(): Settings {
    const stored = Object.fromEntries(
      (this.db.prepare('SELECT key, value FROM settings').all() as { key: string; value: string }[]).map((r) => [r.key, JSON.parse(r.value) as unknown]),
    );
    return { ...DEFAULT_SETTINGS, ...stored } as Settings;
  }

  updateSettings(change: Partial<Settings>): Settings {
    const put = this.db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');
    this.db.transaction(() => {
      for (const [key, value] of Object.entries(change)) if (value !== undefined) put.run(key, JSON.stringify(value));
    })();
    return this.settings();
  }

  /** Pauses by scope (a plan id or ALL_PLANS); `until` undefined means until resumed. */
  pauses(): Map<string, number | undefined> {
    return new Map((this.db.prepare('SELECT scope, until FROM pauses').all() as { scope: string; until: number | null }[]).map((r) => [r.scope, r.until ?? undefined]));
  }

  setPause(scope: string, until: number | undefined): void {
    this.db.prepare('INSERT INTO pauses (scope, until) VALUES (?, ?) ON CONFLICT(scope) DO UPDATE SET until = excluded.until').run(scope, until ?? null);
  }

  clearPause(scope: string | undefined): void {
    if (scope === undefined) this.db.prepare('DELETE FROM pauses').run();
    else this.db.prepare('DELETE FROM pauses WHERE scope = ?').run(scope);
  }

  rememberTarget(location: string, repositoryId: string): void {
    this.db.prepare('INSERT INTO targets (location, repository_id) VALUES (?, ?) ON CONFLICT(location) DO UPDATE SET repository_id = excluded.repository_id').run(location, repositoryId);
  }

  targetSucceeded(location: string, now: Date): void {
    this.db.prepare('UPDATE targets SET last_success = ? WHERE location = ?').run(now.toISOString(), location);
  }

  /** Replaces the settings of a target (none given: forgets them). */
  setTargetSettings(location: string, settings: TargetSettings): void {
    const defined = Object.fromEntries(Object.entries(settings).filter(([, value]) => value !== undefined && value !== ''));
    if (Object.keys(defined).length === 0) this.db.prepare('DELETE FROM target_settings WHERE location = ?').run(location);
    else this.db.prepare('INSERT INTO target_settings (location, settings) VALUES (?, ?) ON CONFLICT(location) DO UPDATE SET settings = excluded.settings').run(location, JSON.stringify(defined));
  }

  targetSettings(location: string): TargetSettings | undefined {
    const row = this.db.prepare('SELECT settings FROM target_settings WHERE location = ?').get(location) as { settings: string } | undefined;
    return row ? (JSON.parse(row.settings) as TargetSettings) : undefined;
  }

  targets(): { location: string; repositoryId: string; lastSuccess?: string }[] {
    return (this.db.prepare('SELECT * FROM targets ORDER BY location').all() as { location: string; repository_id: string; last_success: string | null }[]).map((r) => ({
      location: r.location,
      repositoryId: r.repository_id,
      ...(r.last_success ? { lastSuccess: r.last_success } : {}),
    }));
  }
}

function planOf(row: PlanRow): Plan {
  return { ...(JSON.parse(row.definition) as PlanFields), id: row.id, createdAt: row.created_at, updatedAt: row.updated_at };
}

function jobOf(row: JobRow): JobRecord {
  return {
    id: row.id,
    kind: row.kind,
    ...(row.plan_id !== null ? { planId: row.plan_id } : {}),
    ...(row.repository !== null ? { repository: row.repository } : {}),
    startedAt: row.started_at,
    ...(row.ended_at !== null ? { endedAt: row.ended_at } : {}),
    result: row.result,
    ...(row.message !== null ? { message: row.message } : {}),
    ...(row.summary !== null ? { summary: JSON.parse(row.summary) as Record<string, number | string> } : {}),
    warnings: row.warnings,
  };
}
