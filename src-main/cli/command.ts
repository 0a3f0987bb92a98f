import type { ParseArgsConfig } from 'node:util';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;
export type OptionValues = Record<string, string | boolean | string[] | boolean[] | undefined>;

/** What a command is given besides its arguments. */
export interface RunContext {
  /**
   * Aborted by the first Ctrl-C (SIGINT) or SIGTERM, and, unless the command keeps going without
   * output, when standard output is closed: stop at a safe point, release the lock, clean up.
   */
  readonly signal: AbortSignal;
}

/** One CLI command: its options, its help, and what it does. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  /** Full help: usage line, description, options. */
  readonly help: string;
  readonly options: OptionSpec;
  /** Whether it takes positional arguments (it then checks them itself); otherwise any is refused. */
  readonly takesArguments?: boolean;
  /**
   * Whether it stops at a safe point when its signal is aborted. A command that does not is short
   * and ends at once on Ctrl-C, as before.
   */
  readonly interruptible?: boolean;
  /** Whether it goes on when standard output is closed (a backup must not stop half-way for that). */
  readonly survivesClosedOutput?: boolean;
  /** Resolves to the exit status when it is not 0 (3: done, with warnings). */
  run(values: OptionValues, positionals: string[], context: RunContext): Promise<number | void>;
}

/** How to reach remote targets; shared by every command that opens a repository, and by copy. */
export const TARGET_OPTIONS = {
  'ssh-key': { type: 'string', multiple: true },
  'known-hosts': { type: 'string' },
  'accept-new-host-key': { type: 'boolean' },
  's3-region': { type: 'string' },
  's3-virtual-hosted': { type: 'boolean' },
  'rest-cacert': { type: 'string' },
  'rclone-program': { type: 'string' },
  'rclone-args': { type: 'string' },
  'rest-fingerprint': { type: 'string' },
  'azure-endpoint': { type: 'string' },
  'limit-upload': { type: 'string' },
} as const satisfies OptionSpec;

export const REPOSITORY_OPTIONS = {
  repo: { type: 'string', short: 'r', multiple: true },
  'password-file': { type: 'string' },
  ...TARGET_OPTIONS,
} as const satisfies OptionSpec;

export const TARGET_HELP = `      --ssh-key FILE        SFTP: private key to log in with (repeatable); default
                            ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa
      --known-hosts FILE    SFTP: host keys to trust; default ~/.ssh/known_hosts
      --accept-new-host-key SFTP: trust a server not yet in known_hosts and add it
                            (a changed key is always refused)
      --s3-region REGION    S3: the bucket's region; default $AWS_REGION or us-east-1
      --s3-virtual-hosted   S3: bucket in the host name instead of the path
      --rest-cacert FILE    REST: also trust the certificates in this PEM file
                            (a server with a self-signed certificate)
      --rclone-program PATH rclone: the rclone to run; default $HINDSIGHT_RCLONE_PROGRAM,
                            else rclone on the PATH
      --rclone-args "ARGS"  rclone: what it runs before REMOTE:PATH; default
                            $HINDSIGHT_RCLONE_ARGS, else "serve restic --stdio --b2-hard-delete"
      --rest-fingerprint SHA256:…  REST: trust only the certificate with this
                            fingerprint (as hindsight server prints it), no CA
      --azure-endpoint URL  Azure: the account's blob endpoint when it is not
                            https://ACCOUNT.blob.core.windows.net (Azurite, a
                            national cloud); a connection string names its own
      --limit-upload KIB/S  upload at most this many KiB per second (on average)`;

/** restic's snapshot filters, for the commands that pick snapshots (snapshots, ls, restore, cat). */
export const SNAPSHOT_FILTER_OPTIONS = {
  host: { type: 'string', multiple: true },
  path: { type: 'string', multiple: true },
  tag: { type: 'string', multiple: true },
} as const satisfies OptionSpec;

export const SNAPSHOT_FILTER_HELP = `      --host HOST           only snapshots of this host (repeatable: any of them)
      --path PATH           only snapshots whose paths include PATH (repeatable: all of them)
      --tag TAG[,TAG…]      only snapshots with these tags (repeatable: any of the groups)`;

/** The filter the --host, --path and --tag options describe. */
export function snapshotFilter(values: OptionValues): { hosts: string[]; paths: string[]; tags: string[] } {
  return { hosts: (values.host as string[] | undefined) ?? [], paths: (values.path as string[] | undefined) ?? [], tags: (values.tag as string[] | undefined) ?? [] };
}

export const REPOSITORY_HELP = `  -r, --repo LOCATION       the repository: a folder (or local:/path), sftp://user@host[:port]/path,
                            s3://host[:port]/bucket/prefix, s3:http://host:port/bucket/prefix,
                            s3:bucket/prefix (AWS), rest:http://host:port/path (restic's
                            REST server; user and password from HINDSIGHT_REST_USERNAME and
                            HINDSIGHT_REST_PASSWORD) or rclone:REMOTE:PATH (any rclone
                            remote, through rclone serve restic); give it several times for a
                            repository replicated on several targets. Default $HINDSIGHT_REPO
      --password-file FILE  read the password from FILE; default $HINDSIGHT_PASSWORD, else ask
${TARGET_HELP}`;
