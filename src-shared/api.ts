import * as v from 'valibot';
import { PlanInputSchema, TargetSettingsSchema, type Plan } from './plan.js';
import type { Progress, Warning } from './progress.js';

/**
 * The one contract between every UI (Electron renderer, browser, CLI) and the
 * agent. Each method has a schema for its parameters, checked by the agent
 * before anything runs, and a result type. The transport carries `Request`,
 * `Response` and `AgentEvent` messages; it is not part of the contract.
 */

const id = v.pipe(v.string(), v.minLength(1), v.maxLength(200));
const location = v.pipe(v.string(), v.minLength(1), v.maxLength(4096));
const repoPath = v.pipe(v.string(), v.minLength(1), v.maxLength(4096));
const none = v.strictObject({});

/** The most one `snapshots.read` returns: enough for a preview, small enough for one message. */
export const MAX_READ_BYTES = 4 * 1024 * 1024;
/** The most entries one `snapshots.browsePage` returns: a folder of 50,000 files is read in pages. */
export const MAX_BROWSE_PAGE = 2000;

export const methods = {
  'status.get': none,
  'plans.list': none,
  'plans.create': PlanInputSchema,
  'plans.update': v.strictObject({ id, changes: v.partial(PlanInputSchema) }),
  'plans.delete': v.strictObject({ id }),
  /**
   * Creates a new repository at `location`; `remember` keeps the password in the OS keychain. `settings`
   * are how to reach the target (kept for it); a user name and password in a rest: location go to the keychain.
   */
  'repositories.create': v.strictObject({ location, password: v.pipe(v.string(), v.minLength(1)), remember: v.optional(v.boolean(), true), settings: v.optional(TargetSettingsSchema) }),
  /** Opens an existing repository with its password (checked) and, with `remember`, keeps the password; `settings` as for create. */
  'repositories.connect': v.strictObject({ location, password: v.pipe(v.string(), v.minLength(1)), remember: v.optional(v.boolean(), true), settings: v.optional(TargetSettingsSchema) }),
  'repositories.list': none,
  'snapshots.list': v.strictObject({ repository: location }),
  'snapshots.browse': v.strictObject({ repository: location, snapshot: id, path: repoPath }),
  /** A window of a folder's entries, sorted (folders first) and filtered by name, with how many there are in all. */
  'snapshots.browsePage': v.strictObject({
    repository: location,
    snapshot: id,
    path: repoPath,
    offset: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 0),
    limit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(MAX_BROWSE_PAGE)), 500),
    sort: v.optional(v.picklist(['name', 'size', 'mtime']), 'name'),
    descending: v.optional(v.boolean(), false),
    /** Only entries whose name contains this (case-insensitive). */
    filter: v.optional(v.pipe(v.string(), v.maxLength(1000)), ''),
    /** Only folders: the folder tree beside the list. */
    foldersOnly: v.optional(v.boolean(), false),
  }),
  'snapshots.versions': v.strictObject({ repository: location, path: repoPath }),
  'snapshots.diff': v.strictObject({ repository: location, from: id, to: id }),
  'snapshots.search': v.strictObject({ repository: location, pattern: v.pipe(v.string(), v.minLength(1), v.maxLength(1000)) }),
  /** A byte range of a file in a snapshot (previews, downloads); every chunk read is verified. */
  'snapshots.read': v.strictObject({
    repository: location,
    snapshot: id,
    path: repoPath,
    offset: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 0),
    length: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(MAX_READ_BYTES)), MAX_READ_BYTES),
  }),
  /**
   * Opens the repository as a read-only WebDAV drive on 127.0.0.1 (started on the first call, closed after
   * a while without requests) and, with `open`, the snapshot's folder (or, without one, the list of
   * snapshots) in the file manager of the agent's machine. The answer has the address and credentials
   * for connecting by hand.
   */
  'mounts.open': v.strictObject({ repository: location, snapshot: v.optional(id), open: v.optional(v.boolean(), true) }),
  /** Stops the repository's WebDAV drive; false when none was open. */
  'mounts.close': v.strictObject({ repository: location }),
  'jobs.backup': v.strictObject({ planId: id }),
  'jobs.restore': v.strictObject({
    repository: location,
    snapshot: id,
    paths: v.optional(v.array(repoPath)),
    target: location,
    overwrite: v.optional(v.picklist(['always', 'if-changed', 'never']), 'if-changed'),
  }),
  'jobs.check': v.strictObject({ repository: location, readData: v.optional(v.boolean(), false) }),
  'jobs.prune': v.strictObject({ repository: location }),
  'jobs.list': v.strictObject({ limit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(10_000)), 100) }),
  /**
   * Stops a queued job, or a running one of any kind at its next safe point (true); it then ends as
   * cancelled, a restore marked partial. False when the job has ended or is already being cancelled.
   */
  'jobs.cancel': v.strictObject({ jobId: id }),
  /** Pauses everything or one plan, for a while or until resumed; running jobs stop at a safe point. */
  'agent.pause': v.strictObject({ planId: v.optional(id), forSeconds: v.optional(v.pipe(v.number(), v.minValue(1), v.maxValue(366 * 24 * 3600))) }),
  'agent.resume': v.strictObject({ planId: v.optional(id) }),
  'settings.get': none,
  'settings.update': v.strictObject({
    maxConcurrentJobs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(16))),
    deferOnBattery: v.optional(v.boolean()),
    deferOnMetered: v.optional(v.boolean()),
    /** Upload at most this many KiB per second to the targets (on average across objects); 0 means no limit. */
    uploadLimitKiBps: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(10_000_000))),
  }),
  /** The folders and files in a folder of the machine the agent runs on (choosing sources and restore targets in a browser). */
  'host.listFolder': v.strictObject({ path: v.optional(v.pipe(v.string(), v.maxLength(4096))) }),
  /**
   * The remotes of the rclone configuration on the agent's machine (`rclone listremotes`), for choosing an
   * rclone: target; `program` is the rclone program when not the one on the PATH. E_RCLONE_MISSING when there is none.
   */
  /**
   * The folders and files in a folder on another machine, over SFTP with the agent's SSH keys and
   * known_hosts (choosing an sftp:// source): `location` is sftp://USER@HOST[:PORT][/PATH], without a
   * path the user's home folder. The answer's paths are sftp:// locations too.
   */
  'host.listRemoteFolder': v.strictObject({ location: v.pipe(v.string(), v.regex(/^sftp:\/\//i), v.maxLength(4096)) }),
  'host.rcloneRemotes': v.strictObject({ program: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(4096))) }),
  /**
   * The certificate an HTTPS server shows (a TLS handshake from the agent's machine, nothing sent): its
   * SHA-256 fingerprint for a person to compare with the one `hindsight server` printed, before it is
   * pinned as the target's `restFingerprint`; `trusted` when the system's CAs vouch for it (no pin needed).
   */
  'host.serverCertificate': v.strictObject({ host: v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(253)), port: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65535)) }),
  /** What the host knows about power and network; the agent defers scheduled work accordingly. */
  'host.hint': v.strictObject({ hint: v.picklist(['suspend', 'resume', 'on-battery', 'on-ac', 'metered', 'unmetered']) }),
} as const;

export type Method = keyof typeof methods;
export type Params<M extends Method> = v.InferInput<(typeof methods)[M]>;
export type ParsedParams<M extends Method> = v.InferOutput<(typeof methods)[M]>;

export type AgentState = 'idle' | 'running' | 'paused' | 'error';
/** `seed`: a plan's new target given a complete copy of the repository before its first backup. */
export type JobKind = 'backup' | 'restore' | 'check' | 'prune' | 'seed';
export type JobResult = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'paused' | 'skipped';

export interface PlanStatus {
  readonly planId: string;
  readonly name: string;
  readonly state: AgentState;
  readonly pausedUntil?: string | 'resumed by hand';
  readonly lastRun?: { readonly at: string; readonly result: JobResult; readonly message?: string };
  readonly nextRun?: string;
  /** Continuous plans: false when the watcher fell back to periodic scans. */
  readonly watching?: boolean;
}

export interface Status {
  readonly state: AgentState;
  readonly pausedUntil?: string | 'resumed by hand';
  readonly plans: readonly PlanStatus[];
  readonly runningJobs: readonly JobRecord[];
  /** Jobs waiting for a free slot (settings' maxConcurrentJobs) or for their plan's pause to end, first to start first. */
  readonly queuedJobs: readonly JobRecord[];
  readonly hints: readonly string[];
}

export interface JobRecord {
  readonly id: string;
  readonly kind: JobKind;
  readonly planId?: string;
  readonly repository?: string;
  readonly startedAt: string;
  readonly endedAt?: string;
  readonly result: JobResult;
  /** Why it failed or was skipped, for a person. */
  readonly message?: string;
  readonly summary?: Readonly<Record<string, number | string>>;
  readonly warnings: number;
  readonly progress?: Progress;
}

export interface RepositoryInfo {
  readonly location: string;
  readonly id: string;
  /** Whether the password is known (keychain or this session). */
  readonly unlocked: boolean;
  readonly reachable?: boolean;
  readonly lastSuccess?: string;
  /** A replicated target that missed writes and has not been repaired since. */
  readonly behind?: boolean;
  readonly lastError?: string;
}

export interface SnapshotInfo {
  readonly id: string;
  readonly time: string;
  readonly host: string;
  readonly paths: readonly string[];
  readonly tags: readonly string[];
  readonly type: string;
  readonly parent?: string;
  readonly totalFiles?: number;
  readonly totalBytes?: number;
  readonly bytesAdded?: number;
}

export interface BrowseEntry {
  readonly name: string;
  readonly type: string;
  readonly size?: number;
  readonly mtime: string;
  readonly linkTarget?: string;
  /** Names of its extended attributes (POSIX ACLs are `system.posix_acl_access` and `system.posix_acl_default`). */
  readonly xattrs?: readonly string[];
}

export interface BrowsePage {
  readonly entries: BrowseEntry[];
  /** Where `entries` starts among the matching entries. */
  readonly offset: number;
  /** How many entries match (all of the folder without a filter). */
  readonly total: number;
}

export interface VersionEntry {
  readonly type: string;
  readonly size: number;
  readonly mtime: string;
  readonly content: string;
  readonly snapshots: readonly { readonly id: string; readonly time: string }[];
  /** Differs from the version before it only in its attributes (mode, owner, extended attributes, ACL, file flags). */
  readonly attributesOnly?: boolean;
}

export interface FileRange {
  /** The whole file's size. */
  readonly size: number;
  readonly offset: number;
  /** The bytes, base64 (the contract travels as JSON). */
  readonly data: string;
}

export interface MountInfo {
  /** The snapshot's folder on the drive (or its root): http://127.0.0.1:PORT/FOLDER/. */
  readonly url: string;
  readonly username: string;
  readonly password: string;
  /** Whether the system's file manager was started on it. */
  readonly opened: boolean;
  /** Why it was not, or what to do next, for a person. */
  readonly message?: string;
  /** The drive closes after this many minutes without a request. */
  readonly idleMinutes: number;
}

export interface HostFolder {
  /** The folder listed, absolute (a missing `path` lists the home folder). */
  readonly path: string;
  /** Its parent; absent at the root. */
  readonly parent?: string;
  readonly entries: readonly { readonly name: string; readonly type: 'dir' | 'file' | 'symlink' | 'other' }[];
}

export interface Settings {
  readonly maxConcurrentJobs: number;
  readonly deferOnBattery: boolean;
  readonly deferOnMetered: boolean;
  /** 0: no limit. */
  readonly uploadLimitKiBps: number;
}

export interface Results {
  'status.get': Status;
  'plans.list': Plan[];
  'plans.create': Plan;
  'plans.update': Plan;
  'plans.delete': { readonly deleted: true };
  'repositories.create': RepositoryInfo;
  'repositories.connect': RepositoryInfo;
  'repositories.list': RepositoryInfo[];
  'snapshots.list': SnapshotInfo[];
  'snapshots.browse': BrowseEntry[];
  'snapshots.browsePage': BrowsePage;
  'snapshots.versions': VersionEntry[];
  'snapshots.diff': { readonly path: string; readonly change: 'added' | 'removed' | 'modified'; readonly sizeBefore?: number; readonly sizeAfter?: number; readonly attributesOnly?: boolean }[];
  'snapshots.search': { readonly path: string; readonly snapshots: readonly { readonly id: string; readonly time: string }[] }[];
  'snapshots.read': FileRange;
  'mounts.open': MountInfo;
  'mounts.close': { readonly closed: boolean };
  'jobs.backup': JobRecord;
  'jobs.restore': JobRecord;
  'jobs.check': JobRecord;
  'jobs.prune': JobRecord;
  'jobs.list': JobRecord[];
  'jobs.cancel': { readonly cancelled: boolean };
  'agent.pause': Status;
  'agent.resume': Status;
  'settings.get': Settings;
  'settings.update': Settings;
  'host.listFolder': HostFolder;
  'host.listRemoteFolder': HostFolder;
  /** Remote names without their colon, as rclone:NAME:PATH takes them. */
  'host.rcloneRemotes': { readonly remotes: readonly string[] };
  'host.serverCertificate': { readonly fingerprint: string; readonly trusted: boolean; readonly problem?: string; readonly subject?: string; readonly validTo: string };
  'host.hint': Status;
}

export type Result<M extends Method> = Results[M];

/** Events the agent pushes to every connected client. */
export type AgentEvent =
  | { readonly type: 'job.started'; readonly job: JobRecord }
  | { readonly type: 'job.progress'; readonly jobId: string; readonly progress: Progress }
  | { readonly type: 'job.finished'; readonly job: JobRecord }
  | { readonly type: 'warning'; readonly jobId?: string; readonly warning: Warning }
  | { readonly type: 'error'; readonly message: string; readonly code: string }
  | { readonly type: 'status'; readonly status: Status }
  | { readonly type: 'target.status'; readonly target: RepositoryInfo }
  /** The agent needs a repository's password and the keychain does not have it. */
  | { readonly type: 'password.needed'; readonly repository: string };

export interface ApiErrorBody {
  readonly code: string;
  readonly message: string;
}

// ---- wire messages --------------------------------------------------------

export interface RequestMessage {
  readonly type: 'request';
  readonly id: number;
  readonly method: string;
  readonly params?: unknown;
}

export type ResponseMessage =
  | { readonly type: 'response'; readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly type: 'response'; readonly id: number | null; readonly ok: false; readonly error: ApiErrorBody };

export interface EventMessage {
  readonly type: 'event';
  readonly event: AgentEvent;
}

export const RequestMessageSchema = v.strictObject({
  type: v.literal('request'),
  id: v.pipe(v.number(), v.integer(), v.minValue(0)),
  method: v.pipe(v.string(), v.maxLength(100)),
  params: v.optional(v.unknown()),
});

export function isMethod(name: string): name is Method {
  return Object.prototype.hasOwnProperty.call(methods, name);
}
