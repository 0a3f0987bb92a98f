import { HindsightError } from '../../../src-shared/errors.js';
import { parseLocation, type TargetOptions } from '../backend/location.js';
import { localSource } from './localSource.js';
import { isSftpSource } from './sftpPath.js';
import type { Source } from './source.js';

/** The paths to back up, on their source: this computer's, or one other machine's over SFTP. */
export interface SourcePaths {
  readonly source: Source;
  readonly paths: string[];
  /** Closes the source's connection, if it has one. */
  close(): Promise<void>;
}

/**
 * Where the paths given to a backup are. Paths written as sftp://USER@HOST[:PORT]/PATH are on that
 * machine (/~/PATH: in the user's home folder there) and are reached with the SSH settings of remote
 * targets (keys, known_hosts, accepting a new host); one backup reads one machine, so they must all
 * name the same user, host and port, and cannot be mixed with local paths. Connects (checking the host
 * key and logging in) before the backup starts, so a refused key or unknown host is the first word.
 */
export async function sourcePathsFor(paths: readonly string[], options: TargetOptions = {}, { oneFileSystem = false } = {}): Promise<SourcePaths> {
  const remote = paths.filter(isSftpSource);
  if (remote.length === 0) return { source: localSource, paths: [...paths], close: async () => undefined };
  if (remote.length < paths.length) {
    throw new HindsightError('E_USAGE', 'One backup reads one machine: back up the sftp:// folders and the local ones in separate backups.');
  }
  const parsed = remote.map((path) => {
    // The machine's root folder, which a repository location may not be but a source may.
    const root = /^(sftp:\/\/[^/]+)\/+$/i.exec(path);
    const location = parseLocation(root ? `${root[1] as string}/~/` : path.replace(/\/+$/, ''));
    if (location.kind !== 'sftp') throw new HindsightError('E_USAGE', `"${path}" is not an SFTP folder; write sftp://user@host[:port]/path.`);
    return root ? { ...location, path: '/' } : location;
  });
  const first = parsed[0] as (typeof parsed)[number];
  if (parsed.some((p) => p.host !== first.host || p.port !== first.port || p.username !== first.username)) {
    throw new HindsightError('E_USAGE', 'One backup reads one machine: the sftp:// folders of one backup must name the same user, host and port.');
  }
  const { SftpSource } = await import('./sftpSource.js');
  const source = new SftpSource({
    host: first.host,
    port: first.port,
    username: first.username,
    // SFTP carries no device numbers: --one-file-system asks each folder's file system id.
    deviceIds: oneFileSystem,
    ...(options.sshKeys && options.sshKeys.length > 0 ? { identityFiles: options.sshKeys } : {}),
    ...(options.knownHostsFile ? { knownHostsFile: options.knownHostsFile } : {}),
    ...(options.acceptNewHostKey ? { acceptNewHostKey: true } : {}),
    ...(options.confirmNewHostKey ? { confirmNewHostKey: options.confirmNewHostKey } : {}),
    ...(options.askPassphrase ? { askPassphrase: options.askPassphrase } : {}),
  });
  try {
    const resolved: string[] = [];
    for (const p of parsed) resolved.push(await source.resolve(p.path));
    return { source, paths: resolved, close: () => source.close() };
  } catch (err) {
    await source.close();
    throw err;
  }
}
