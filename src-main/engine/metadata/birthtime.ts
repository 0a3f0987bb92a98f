import { errnoName } from './fileFlags.js';
import { fileCalls } from './nativeFileCalls.js';

/**
 * Gives a restored entry its creation time where the system has a call for it: macOS (setattrlist,
 * through our addon; written from Apple's documentation and not yet run, as CI is Linux). Linux has no
 * call that sets a creation time (statx reads it, nothing writes it), and Windows' SetFileTime is not
 * reached from here: on both this does nothing, as README says. Called after the modification time is
 * set (macOS moves a creation time later than a new modification time back to it) and before flags (an
 * immutable file refuses it). Answers the problem to report, or undefined.
 */
export function restoreBirthtime(path: Buffer, birthtimeNs: bigint): string | undefined {
  if (process.platform !== 'darwin') return undefined;
  const calls = fileCalls();
  if (calls === null) return undefined;
  const result = calls.setBirthtime(path, Number(birthtimeNs / 1_000_000_000n), Number(birthtimeNs % 1_000_000_000n));
  return result === 0 ? undefined : `creation time not restored: ${errnoName(result)}`;
}
