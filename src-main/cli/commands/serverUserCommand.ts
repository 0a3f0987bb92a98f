import { formatBytes, parseBytes } from '../../../src-shared/units.js';
import { isRepositorySegment } from '../../server/objectRoute.js';
import { hashServerPassword, isRepositoryPrefix, readUsers, userFilePath, writeUsers, type ServerUser } from '../../server/userFile.js';
import { UsageError } from '../cliError.js';
import type { OptionValues } from '../command.js';
import { readPassword } from '../password.js';

const PASSWORD_SOURCES = { env: 'HINDSIGHT_SERVER_PASSWORD', prompt: 'Password for the user' } as const;

/** `hindsight server user add|list|remove|passwd`: edits DIR's user file (atomically; a running server picks it up). */
export async function runUserCommand(data: string, args: readonly string[], values: OptionValues): Promise<void> {
  const [verb, name, ...extra] = args;
  if (extra.length > 0) throw new UsageError(`"server user ${verb}" takes one user name, but was also given "${extra[0]}".`);
  const users = await readUsers(data);
  switch (verb) {
    case 'list':
      if (name !== undefined) throw new UsageError('"server user list" takes no user name.');
      return listUsers(users);
    case 'add': {
      const user = checkedName(name, verb);
      if (users.some((known) => known.name === user)) throw new UsageError(`There is already a user "${user}"; change the password with "server user passwd ${user}", or remove the user first.`);
      const quota = values.quota === undefined ? undefined : parseBytes(values.quota as string);
      if (values.quota !== undefined && !(quota !== undefined && quota > 0)) throw new UsageError(`--quota must be a size such as 500GiB, not "${String(values.quota)}".`);
      const repos = ((values.repos as string | undefined) ?? user).replace(/^\/+|\/+$/g, '');
      if (!isRepositoryPrefix(repos)) throw new UsageError(`--repos takes folder names joined by "/" (letters, digits, ".", "_", "-"), not "${String(values.repos)}".`);
      const passwordHash = await hashServerPassword(await readPassword(PASSWORD_SOURCES, true));
      const added: ServerUser = {
        name: user,
        passwordHash,
        appendOnly: Boolean(values['append-only']),
        admin: Boolean(values.admin),
        repos,
        ...(quota !== undefined ? { quotaBytes: quota } : {}),
        created: new Date().toISOString(),
      };
      await writeUsers(data, [...users, added]);
      console.log(`Added user ${user} (${describe(added)}) to ${userFilePath(data)}.`);
      return;
    }
    case 'remove': {
      const user = known(users, checkedName(name, verb));
      await writeUsers(data, users.filter((other) => other !== user));
      console.log(`Removed user ${user.name}; their repositories stay in ${data}/${user.repos}.`);
      return;
    }
    case 'passwd': {
      const user = known(users, checkedName(name, verb));
      const passwordHash = await hashServerPassword(await readPassword({ ...PASSWORD_SOURCES, prompt: `New password for ${user.name}` }, true));
      await writeUsers(data, users.map((other) => (other === user ? { ...other, passwordHash } : other)));
      console.log(`Changed the password of ${user.name}.`);
      return;
    }
    default:
      throw new UsageError(`"server user" takes add, list, remove or passwd${verb === undefined ? '' : `, not "${verb}"`}.`);
  }
}

function listUsers(users: readonly ServerUser[]): void {
  if (users.length === 0) {
    console.log('No users yet.');
    return;
  }
  const width = Math.max(4, ...users.map((user) => user.name.length));
  console.log(`${'USER'.padEnd(width)}  ACCESS`);
  for (const user of users) console.log(`${user.name.padEnd(width)}  ${describe(user)}`);
}

function describe(user: ServerUser): string {
  const parts = [user.admin ? 'admin: every repository' : `repositories under ${user.repos}/`];
  if (user.appendOnly) parts.push('append-only');
  if (user.quotaBytes !== undefined) parts.push(`quota ${formatBytes(user.quotaBytes)}`);
  return parts.join(', ');
}

function checkedName(name: string | undefined, verb: string): string {
  if (name === undefined) throw new UsageError(`"server user ${verb}" needs a user name.`);
  if (!isRepositorySegment(name)) throw new UsageError(`"${name}" cannot be a user name: use letters, digits, ".", "_" and "-", not starting with "." (and not a repository folder name such as "data").`);
  return name;
}

function known(users: readonly ServerUser[], name: string): ServerUser {
  const user = users.find((other) => other.name === name);
  if (!user) throw new UsageError(`There is no user "${name}" (see "server user list").`);
  return user;
}
