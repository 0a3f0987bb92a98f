import type { ParseArgsConfig } from 'node:util';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;
export type OptionValues = Record<string, string | boolean | string[] | boolean[] | undefined>;

/** One CLI command: its options, its help, and what it does. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  /** Full help: usage line, description, options. */
  readonly help: string;
  readonly options: OptionSpec;
  /** Resolves to the exit status when it is not 0 (3: done, with warnings). */
  run(values: OptionValues, positionals: string[]): Promise<number | void>;
}

/** Options every command that opens a repository understands. */
/** How to reach remote targets; shared by every command that opens a repository, and by copy. */
export const TARGET_OPTIONS = {
  'ssh-key': { type: 'string', multiple: true },
  'known-hosts': { type: 'string' },
  'accept-new-host-key': { type: 'boolean' },
  's3-region': { type: 'string' },
  's3-virtual-hosted': { type: 'boolean' },
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
      --limit-upload KIB/S  upload at most this many KiB per second (on average)`;

export const REPOSITORY_HELP = `  -r, --repo LOCATION       the repository: a folder (or local:/path), sftp://user@host[:port]/path,
                            s3://host[:port]/bucket/prefix, s3:http://host:port/bucket/prefix
                            or s3:bucket/prefix (AWS); give it several times for a
                            repository replicated on several targets. Default $HINDSIGHT_REPO
      --password-file FILE  read the password from FILE; default $HINDSIGHT_PASSWORD, else ask
${TARGET_HELP}`;
