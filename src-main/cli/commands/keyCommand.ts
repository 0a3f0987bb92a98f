import { formatBytes, formatLocalTime } from '../../../src-shared/units.js';
import { UsageError } from '../cliError.js';
import { REPOSITORY_HELP, REPOSITORY_OPTIONS, type Command } from '../command.js';
import { openRepository, readNewPassword } from '../openRepository.js';

export const keyCommand: Command = {
  name: 'key',
  summary: 'list, add, remove or change the passwords that open a repository',
  help: `Usage: hindsight key list|add|remove ID|passwd --repo LOCATION [options]

A repository can be opened by several passwords, each stored as a key.
  list          show every key (the one you opened with is marked *)
  add           add a key for another password
  remove ID     remove a key (by id or unique prefix); not the one in use
  passwd        change the password you opened with

Options:
${REPOSITORY_HELP}
      --new-password-file FILE  the new password (add, passwd); default
                            $HINDSIGHT_NEW_PASSWORD, else ask twice
      --json                print the list as JSON`,
  options: {
    ...REPOSITORY_OPTIONS,
    'new-password-file': { type: 'string' },
    json: { type: 'boolean' },
  },
  takesArguments: true,
  async run(values, positionals) {
    const [action, ...rest] = positionals;
    const expectArgs = (n: number) => {
      if (rest.length !== n) throw new UsageError(`"key ${action}" takes ${n === 0 ? 'no arguments' : 'a key id'}.`);
    };
    if (!['list', 'add', 'remove', 'passwd'].includes(action ?? '')) {
      throw new UsageError('Say what to do with keys: list, add, remove ID or passwd.');
    }
    expectArgs(action === 'remove' ? 1 : 0);
    const repository = await openRepository(values);
    try {
      switch (action) {
        case 'list': {
          const keys = await repository.listKeys();
          if (values.json) {
            console.log(JSON.stringify(keys, null, 2));
            break;
          }
          console.log('   ID        Created                    User@Host                      KDF');
          for (const key of keys) {
            const kdf = `argon2id ${formatBytes(key.kdf.memoryKiB * 1024)}, t=${key.kdf.iterations}, p=${key.kdf.parallelism}`;
            console.log(`${key.current ? '*' : ' '}  ${key.id.slice(0, 8)}  ${formatLocalTime(key.created).padEnd(25)}  ${`${key.username}@${key.host}`.padEnd(29)}  ${kdf}`);
          }
          break;
        }
        case 'add': {
          const id = await repository.addKey(await readNewPassword(values));
          console.log(`Added key ${id.slice(0, 8)}.`);
          break;
        }
        case 'remove': {
          const id = await repository.removeKey(rest[0] as string);
          console.log(`Removed key ${id.slice(0, 8)}.`);
          break;
        }
        case 'passwd': {
          const old = repository.keyId;
          const id = await repository.changePassword(await readNewPassword(values));
          console.log(`Changed the password: key ${old.slice(0, 8)} replaced by ${id.slice(0, 8)}.`);
          break;
        }
      }
    } finally {
      await repository.close();
    }
  },
};
