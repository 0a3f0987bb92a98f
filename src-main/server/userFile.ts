import { hash, verify } from '@node-rs/argon2';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as v from 'valibot';
import { HindsightError } from '../../src-shared/errors.js';
import { writeFileDurably } from './durableFile.js';
import { isRepositorySegment } from './objectRoute.js';
import { serverStateFolder } from './serverState.js';

/** One account of `hindsight server`. */
export interface ServerUser {
  readonly name: string;
  /** Argon2id, in the PHC string form ($argon2id$v=19$m=…,t=…,p=…$salt$hash). */
  readonly passwordHash: string;
  /** May add and read objects, never delete or replace them (locks excepted). */
  readonly appendOnly: boolean;
  /** May use every repository on the server, not only those under `repos`. */
  readonly admin: boolean;
  /** The folder path this user's repositories live under ("alice", or "family" shared by several users). */
  readonly repos: string;
  /** Bytes this user's repositories may hold together; none: no limit. */
  readonly quotaBytes?: number | undefined;
  readonly created: string;
}

export class UserFileError extends HindsightError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_SERVER_USERS', message, options);
  }
}

const USER_SCHEMA = v.object({
  name: v.pipe(v.string(), v.check(isRepositorySegment)),
  passwordHash: v.pipe(v.string(), v.startsWith('$argon2id$')),
  appendOnly: v.boolean(),
  admin: v.boolean(),
  repos: v.pipe(v.string(), v.check(isRepositoryPrefix)),
  quotaBytes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  created: v.string(),
});
const FILE_SCHEMA = v.object({ hindsight: v.literal('server-users'), version: v.literal(1), users: v.array(USER_SCHEMA) });

/**
 * Argon2id at OWASP's recommended minimum (19 MiB, 2 passes): a login costs the server ~30 ms of one
 * core, paid once per client and password (the server remembers a good login for a while).
 */
const HASH_OPTIONS = { algorithm: 2 as never, memoryCost: 19_456, timeCost: 2, parallelism: 1 };

export function userFilePath(data: string): string {
  return join(serverStateFolder(data), 'users.json');
}

/** "alice" or "family/photos": repository folder names joined by '/'. */
export function isRepositoryPrefix(prefix: string): boolean {
  const segments = prefix.split('/');
  return segments.length <= 4 && segments.every(isRepositorySegment);
}

export function hashServerPassword(password: string): Promise<string> {
  return hash(password.normalize('NFC'), HASH_OPTIONS);
}

export async function verifyServerPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password.normalize('NFC'));
  } catch {
    return false;
  }
}

/** The users in DIR's user file; none when there is no file yet. */
export async function readUsers(data: string): Promise<ServerUser[]> {
  const path = userFilePath(data);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new UserFileError(`Cannot read the user file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}.`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new UserFileError(`The user file ${path} is not JSON; restore it from a backup or remove it and add the users again.`, { cause: err });
  }
  const result = v.safeParse(FILE_SCHEMA, parsed);
  if (!result.success) throw new UserFileError(`The user file ${path} is not one this version of Hindsight can read (${v.summarize(result.issues).split('\n')[0]}).`);
  return result.output.users;
}

/** Replaces the user file with `users`, atomically and with mode 0600. */
export async function writeUsers(data: string, users: readonly ServerUser[]): Promise<void> {
  await mkdir(serverStateFolder(data), { recursive: true, mode: 0o700 });
  const body = { hindsight: 'server-users', version: 1, users };
  await writeFileDurably(userFilePath(data), Buffer.from(`${JSON.stringify(body, null, 2)}\n`));
}

/**
 * The users as the running server sees them: the file is read again when it changed (looked at no
 * more than once a second), so `hindsight server user add` takes effect without a restart.
 */
export class UserDirectory {
  private users = new Map<string, ServerUser>();
  private version = '';
  private lastLook = 0;

  constructor(private readonly data: string) {}

  /** Reads the file; throws when it cannot be read or holds no user (a server nobody can use). */
  async load(): Promise<void> {
    await this.refresh(true);
    if (this.users.size === 0) {
      throw new UserFileError(`No users yet: add one with "hindsight server user add NAME --data ${this.data}" (its password from HINDSIGHT_SERVER_PASSWORD or a prompt), then start the server.`);
    }
  }

  async find(name: string): Promise<ServerUser | undefined> {
    await this.refresh(false);
    return this.users.get(name);
  }

  async all(): Promise<ServerUser[]> {
    await this.refresh(false);
    return [...this.users.values()];
  }

  private async refresh(force: boolean): Promise<void> {
    const now = Date.now();
    if (!force && now - this.lastLook < 1000) return;
    this.lastLook = now;
    const info = await stat(userFilePath(this.data)).catch(() => undefined);
    const version = info ? `${info.ino}:${info.size}:${info.mtimeMs}` : 'none';
    if (!force && version === this.version) return;
    try {
      this.users = new Map((await readUsers(this.data)).map((user) => [user.name, user]));
      this.version = version;
    } catch (err) {
      // A running server keeps the users it has rather than locking everyone out over a damaged file.
      if (force) throw err;
    }
  }
}
