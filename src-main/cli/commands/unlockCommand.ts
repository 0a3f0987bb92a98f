import { formatLocalTime } from '../../../src-shared/units.js';
import { REPOSITORY_HELP, REPOSITORY_OPTIONS, type Command } from '../command.js';
import { openRepository } from '../openRepository.js';

export const unlockCommand: Command = {
  name: 'unlock',
  summary: 'remove stale locks left by crashed or killed processes',
  help: `Usage: hindsight unlock --repo LOCATION [--remove-all]

Removes locks whose process has stopped (on this computer) or whose heartbeat
is older than 30 minutes. With --remove-all, removes every lock: only do that
when you are sure no backup or prune is running anywhere.

Options:
${REPOSITORY_HELP}
      --remove-all          remove all locks, not only stale ones`,
  options: { ...REPOSITORY_OPTIONS, 'remove-all': { type: 'boolean' } },
  async run(values) {
    const repository = await openRepository(values);
    try {
      const removed = await repository.unlock(values['remove-all'] === true);
      for (const lock of removed) {
        console.log(`Removed ${lock.exclusive ? 'exclusive' : 'shared'} lock ${lock.id.slice(0, 8)} of ${lock.username}@${lock.host} (pid ${lock.pid}), last seen ${formatLocalTime(lock.heartbeat)}`);
      }
      const { locks } = await repository.listLocks();
      console.log(`${removed.length} lock${removed.length === 1 ? '' : 's'} removed; ${locks.length} still held.`);
    } finally {
      await repository.close();
    }
  },
};
