import { formatDuration, parseDuration } from '../../src-shared/units.js';
import { describeLockHolder, type LockWait } from '../engine/repository/lock.js';
import { UsageError } from './cliError.js';
import type { OptionValues } from './command.js';

export const RETRY_LOCK_HELP = '      --retry-lock DURATION wait up to DURATION (e.g. 10m) for a lock another process holds (a backup running)';

/**
 * `--retry-lock DURATION` as restic has it: the command waits that long for a lock another process
 * holds, saying on standard error whose lock it waits for, instead of failing at once. Undefined
 * without the option.
 */
export function retryLockFrom(values: OptionValues, signal: AbortSignal): LockWait | undefined {
  if (values['retry-lock'] === undefined) return undefined;
  const waitMs = parseDuration(values['retry-lock'] as string);
  if (waitMs === undefined) throw new UsageError('--retry-lock takes a duration such as 30s or 10m.');
  return { waitMs, signal, onWait: (holder) => console.error(`Waiting up to ${formatDuration(waitMs)} for ${describeLockHolder(holder)} (--retry-lock)…`) };
}
