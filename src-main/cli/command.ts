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
export const REPOSITORY_OPTIONS = {
  repo: { type: 'string', short: 'r' },
  'password-file': { type: 'string' },
} as const satisfies OptionSpec;

export const REPOSITORY_HELP = `  -r, --repo LOCATION       repository folder (or local:/path); default $HINDSIGHT_REPO
      --password-file FILE  read the password from FILE; default $HINDSIGHT_PASSWORD, else ask`;
