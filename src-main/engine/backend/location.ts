import { HindsightError } from '../../../src-shared/errors.js';
import type { Backend } from './backend.js';
import { LocalBackend } from './localBackend.js';

/**
 * Turns a repository location as a person writes it into a backend:
 * a plain path, or `local:/path`. Remote schemes are recognised so their
 * error says what is missing rather than treating the URL as a folder name.
 */
export function backendFor(location: string): Backend {
  const trimmed = location.trim();
  if (trimmed === '') throw new HindsightError('E_USAGE', 'The repository location is empty.');
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(trimmed)?.[1]?.toLowerCase();
  if (scheme === undefined || /^[a-z]$/i.test(scheme)) return new LocalBackend(trimmed);
  if (scheme === 'local') return new LocalBackend(trimmed.slice('local:'.length));
  if (scheme === 'sftp' || scheme === 's3') {
    throw new HindsightError('E_USAGE', `${scheme.toUpperCase()} repositories are not supported by this version of Hindsight yet; use a local folder.`);
  }
  throw new HindsightError('E_USAGE', `Unknown repository location "${location}": use a folder path or local:/path.`);
}
