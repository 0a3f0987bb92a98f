import * as v from 'valibot';

/** When a plan runs: by hand, every N minutes, on a cron expression, or continuously as files change. */
export const ScheduleSchema = v.variant('kind', [
  v.object({ kind: v.literal('manual') }),
  v.object({ kind: v.literal('interval'), everyMinutes: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(60 * 24 * 366)) }),
  v.object({ kind: v.literal('cron'), expression: v.pipe(v.string(), v.minLength(1), v.maxLength(200)) }),
  v.object({
    kind: v.literal('continuous'),
    /** Quiet time after the last change before a backup starts. */
    debounceSeconds: v.optional(v.pipe(v.number(), v.minValue(0.05), v.maxValue(24 * 3600)), 60),
    /** A backup starts at the latest this long after the first change, even if files keep changing. */
    maxWaitSeconds: v.optional(v.pipe(v.number(), v.minValue(0.05), v.maxValue(7 * 24 * 3600)), 600),
  }),
]);
export type Schedule = v.InferOutput<typeof ScheduleSchema>;

const count = v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(100_000)));

export const RetentionSchema = v.object({
  last: count,
  hourly: count,
  daily: count,
  weekly: count,
  monthly: count,
  yearly: count,
});
export type Retention = v.InferOutput<typeof RetentionSchema>;

const text = (max: number) => v.pipe(v.string(), v.maxLength(max));
const path = v.pipe(v.string(), v.minLength(1), v.maxLength(4096));

const secret = v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(4096));

/**
 * How to reach a remote target beyond its location, set per target (by location). The secrets among them
 * (TARGET_SECRETS) are taken out by the agent and kept in the keychain, as a user name and password written
 * in a rest: location are: no plan, database, job record or log holds them, and they are never shown back.
 */
export const TargetSettingsSchema = v.object({
  /** rest:https://…: a PEM file (on the agent's machine) of certificates to trust besides the system's. */
  restCaCert: v.optional(path),
  /** rest:https://…: trust exactly the certificate with this SHA-256 fingerprint ("SHA256:AB:CD:…", as `hindsight server` prints it), no CA. */
  restFingerprint: v.optional(v.pipe(v.string(), v.trim(), v.regex(/^(sha256:)?([0-9a-f]{2}:?){31}[0-9a-f]{2}$/i, 'a SHA-256 fingerprint: SHA256:AB:CD:… (32 pairs of hex digits)'))),
  /** sftp://…: private key files to log in with (on the agent's machine), instead of ssh-agent and ~/.ssh/id_*. */
  sshKeys: v.optional(v.pipe(v.array(path), v.maxLength(16))),
  /** sftp://…: the known_hosts file to check the server's host key against, instead of ~/.ssh/known_hosts. */
  knownHosts: v.optional(path),
  /** s3…: the bucket's region, when not $AWS_REGION (or us-east-1). */
  s3Region: v.optional(v.pipe(v.string(), v.trim(), v.regex(/^[a-z0-9-]{1,64}$/, 'a region name such as eu-west-1'))),
  /** s3…: the bucket in the host name rather than the path. */
  s3VirtualHosted: v.optional(v.boolean()),
  /** rclone:…: the rclone program, when not the one on the PATH. */
  rcloneProgram: v.optional(path),
  /** rclone:…: what rclone runs before the remote, as one line (default "serve restic --stdio --b2-hard-delete"). */
  rcloneArgs: v.optional(text(4096)),
  /** azure://ACCOUNT/…: the account's blob endpoint when it is not https://ACCOUNT.blob.core.windows.net (Azurite, a national cloud). */
  azureEndpoint: v.optional(v.pipe(v.string(), v.trim(), v.url(), v.maxLength(4096))),
  /** azure://ACCOUNT/…: the storage account's access key (a secret). */
  azureKey: v.optional(secret),
  /** azure://ACCOUNT/…: a SAS token instead of the key (a secret). */
  azureSasToken: v.optional(secret),
});
export type TargetSettings = v.InferOutput<typeof TargetSettingsSchema>;

/** The settings that are secrets: kept in the keychain, never with the others. */
export const TARGET_SECRETS = ['azureKey', 'azureSasToken'] as const satisfies readonly (keyof TargetSettings)[];
export type TargetSecrets = Pick<TargetSettings, (typeof TARGET_SECRETS)[number]>;

/**
 * A command whose standard output a plan backs up instead of files and folders (a database dump, a
 * virtual machine's image): the program and its arguments as a list, run without a shell, so nothing
 * in them is expanded or split again; the output is stored as the file `filename` of each snapshot.
 */
export const CommandSourceSchema = v.object({
  command: v.pipe(v.array(text(4096)), v.minLength(1), v.maxLength(1000), v.check((command) => command[0] !== '', 'The command needs a program to run.')),
  filename: v.pipe(
    v.string(),
    v.minLength(1),
    v.maxLength(255),
    v.check((name) => !name.includes('/') && !name.includes('\0') && name !== '.' && name !== '..', 'The stream is stored under a plain file name, such as mydb.sql.'),
  ),
});
export type CommandSource = v.InferOutput<typeof CommandSourceSchema>;

export const PlanInputSchema = v.object({
  name: v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(200)),
  /** Files and folders to back up; empty when the plan backs up a command's output instead. */
  sources: v.pipe(v.array(path), v.maxLength(1000)),
  /** A command whose output the plan backs up, instead of `sources`. */
  command: v.optional(CommandSourceSchema),
  excludes: v.optional(v.pipe(v.array(text(4096)), v.maxLength(10_000)), []),
  /** Repository locations; every target receives the same snapshots. */
  targets: v.pipe(v.array(path), v.minLength(1), v.maxLength(16)),
  /** Settings of targets that need them, by location; kept per target, so every plan (and query) reaching it uses them. */
  targetSettings: v.optional(v.record(path, TargetSettingsSchema)),
  schedule: ScheduleSchema,
  /** Run a full backup (re-reading everything) when the last one is older than this; else incremental. */
  fullEveryDays: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(3650))),
  /** Applied after each successful backup; snapshots it drops are removed by the next prune. */
  retention: v.optional(RetentionSchema),
  pruneEveryDays: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(3650))),
  enabled: v.optional(v.boolean(), true),
});
export type PlanInput = v.InferInput<typeof PlanInputSchema>;

/** What a plan backs up, in one line: its paths, or its command and the name its output is stored under. */
export function describePlanSources(plan: { readonly sources: readonly string[]; readonly command?: CommandSource | undefined }): string {
  if (!plan.command) return plan.sources.join(', ');
  const words = plan.command.command.map((word) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`));
  return `output of ${words.join(' ')} as ${plan.command.filename}`;
}

/** Why a plan's sources are not a plan's, or undefined: it backs up files and folders, or one command's output, never neither or both. */
export function planSourcesProblem(plan: { readonly sources: readonly string[]; readonly command?: CommandSource | undefined; readonly schedule: Schedule }): string | undefined {
  if (plan.command && plan.sources.length > 0) return 'A plan backs up either files and folders or a command\'s output, not both.';
  if (!plan.command && plan.sources.length === 0) return 'Say what the plan backs up: at least one file or folder, or a command.';
  if (plan.command && plan.schedule.kind === 'continuous') return 'A command\'s output cannot be watched for changes: give the plan an interval or a cron schedule.';
  const remote = plan.sources.filter((source) => /^sftp:\/\//i.test(source));
  if (remote.length > 0 && plan.schedule.kind === 'continuous') return 'Folders on another machine (sftp://) cannot be watched for changes from here: give the plan an interval or a cron schedule.';
  if (remote.length > 0 && remote.length < plan.sources.length) return 'A plan reads one machine: put the sftp:// folders and the local ones in separate plans.';
  return undefined;
}
export type PlanFields = v.InferOutput<typeof PlanInputSchema>;

export interface Plan extends PlanFields {
  readonly id: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}
