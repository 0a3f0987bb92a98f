import { createInterface } from 'node:readline/promises';
import type { Backend } from '../engine/backend/backend.js';
import { backendForTargets, type TargetOptions } from '../engine/backend/location.js';
import { ReplicatedBackend, type ReplicationEvent } from '../engine/backend/replicatedBackend.js';
import { recordTargets } from '../engine/backend/targetHistory.js';
import { Repository } from '../engine/repository/repository.js';
import { UsageError } from './cliError.js';
import { checkedEndpoint, checkedFingerprint } from './targetOptionChecks.js';
import type { OptionValues } from './command.js';
import { promptHidden, readPassword } from './password.js';

/** Every --repo given (a repository replicated on several targets), else HINDSIGHT_REPO. */
export function repositoryLocations(values: OptionValues, option = 'repo'): string[] {
  const given = (values[option] as string[] | undefined) ?? [];
  if (given.length > 0) return given;
  if (option === 'repo' && process.env.HINDSIGHT_REPO) return [process.env.HINDSIGHT_REPO];
  throw new UsageError(option === 'repo' ? 'Which repository? Give --repo LOCATION or set HINDSIGHT_REPO.' : `Give --${option} LOCATION.`);
}

/** Reads the remote-target options (--ssh-key, --known-hosts, --accept-new-host-key, --s3-*, --rest-cacert, --rest-fingerprint, --rclone-*, --azure-endpoint, --limit-upload). */
export function targetOptions(values: OptionValues): TargetOptions {
  const limit = values['limit-upload'] as string | undefined;
  const kibPerSecond = limit === undefined ? undefined : Number(limit.replace(/\s*(KiB\/s)?$/i, ''));
  if (kibPerSecond !== undefined && !(kibPerSecond > 0)) throw new UsageError('--limit-upload takes a number of KiB per second, e.g. 2048.');
  return {
    ...(values['ssh-key'] ? { sshKeys: values['ssh-key'] as string[] } : {}),
    ...(values['known-hosts'] ? { knownHostsFile: values['known-hosts'] as string } : {}),
    ...(values['accept-new-host-key'] ? { acceptNewHostKey: true } : {}),
    ...(process.stdin.isTTY && process.stderr.isTTY ? { confirmNewHostKey: askAboutNewHost, askPassphrase: askSshPassphrase } : {}),
    ...(values['s3-region'] ? { s3Region: values['s3-region'] as string } : {}),
    ...(values['s3-virtual-hosted'] ? { s3VirtualHosted: true } : {}),
    ...(values['rest-cacert'] ? { restCaCert: values['rest-cacert'] as string } : {}),
    ...(values['rclone-program'] ? { rcloneProgram: values['rclone-program'] as string } : {}),
    ...(values['rclone-args'] !== undefined ? { rcloneArgs: values['rclone-args'] as string } : {}),
    ...(values['rest-fingerprint'] ? { restFingerprint: checkedFingerprint(values['rest-fingerprint'] as string) } : {}),
    ...(values['azure-endpoint'] ? { azureEndpoint: checkedEndpoint(values['azure-endpoint'] as string) } : {}),
    ...(kibPerSecond !== undefined ? { uploadBytesPerSecond: kibPerSecond * 1024 } : {}),
    onReplicationEvent: reportReplicationEvent,
  };
}

/** The first connection to an SSH server not in known_hosts, on a terminal: show the fingerprint and ask, as ssh does. */
async function askAboutNewHost(host: string, fingerprint: string): Promise<boolean> {
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await prompt.question(`The SSH server ${host} is not in known_hosts; its key is ${fingerprint}.\nTrust it and remember it (compare the fingerprint with the server's)? [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    prompt.close();
  }
}

/** The prompt in use: targets connecting at once (a replicated repository) ask one after the other. */
let prompting: Promise<unknown> = Promise.resolve();

/** The passphrase of an SSH key, on a terminal, without echo, in ssh's words. */
function askSshPassphrase(keyFile: string, again: boolean): Promise<string> {
  const question = again ? `Bad passphrase, try again for ${keyFile}: ` : `Enter passphrase for key '${keyFile}': `;
  const answer = prompting.then(() => promptHidden(question));
  prompting = answer.catch(() => undefined);
  return answer;
}

function reportReplicationEvent(event: ReplicationEvent): void {
  if (event.kind === 'target-down') {
    console.error(`warning: target ${event.location} failed (${event.error}); continuing on the other targets. It is now behind: run "hindsight repair" with every --repo once it is back.`);
  } else {
    const from = event.readFrom ? `read from ${event.readFrom} instead` : 'no other target had a good copy';
    console.error(`warning: ${event.object} is ${event.reason} on ${event.failed}; ${from}. "hindsight repair" with every --repo fixes it.`);
  }
}

/** The backend for --repo (one or several targets) with the remote-target options. */
export function repositoryBackend(values: OptionValues): Backend {
  return backendForTargets(repositoryLocations(values), targetOptions(values));
}

/**
 * Records how a replicated repository's targets fared in this session and
 * returns a line for each target that fell behind, for the end of a command
 * that wrote to it.
 */
export async function behindTargets(repository: Repository): Promise<string[]> {
  if (!(repository.backend instanceof ReplicatedBackend)) return [];
  const statuses = repository.backend.status();
  await recordTargets(statuses);
  return statuses
    .filter((target) => target.behind)
    .map((target) => `target ${target.location} is behind (${target.lastError ?? 'it missed writes'}); run "hindsight repair" with every --repo when it is reachable`);
}

/** Opens the repository named by --repo / HINDSIGHT_REPO with the password from --password-file, HINDSIGHT_PASSWORD or a prompt. */
export async function openRepository(values: OptionValues): Promise<Repository> {
  const backend = repositoryBackend(values);
  const password = await readPassword({ file: values['password-file'] as string | undefined, env: 'HINDSIGHT_PASSWORD', prompt: 'Repository password' });
  return openOrClose(backend, () => Repository.open(backend, password));
}

/**
 * Runs `open` and closes `backend` if it fails: an SFTP connection or an
 * HTTP keep-alive socket left open would keep the process from exiting.
 */
export async function openOrClose<T>(backend: Backend, open: () => Promise<T>): Promise<T> {
  try {
    return await open();
  } catch (err) {
    await backend.close().catch(() => undefined);
    throw err;
  }
}

/** Reads a new password for `key add` and `key passwd`: --new-password-file, HINDSIGHT_NEW_PASSWORD, or asked twice. */
export function readNewPassword(values: OptionValues): Promise<string> {
  return readPassword({ file: values['new-password-file'] as string | undefined, env: 'HINDSIGHT_NEW_PASSWORD', prompt: 'New password' }, true);
}

/**
 * Opens the repository under a shared lock, so a prune cannot delete packs
 * while they are read, with the index reloaded after the lock; runs `work`;
 * then releases the lock and closes the repository.
 */
export async function withReadLock<T>(values: OptionValues, work: (repository: Repository) => Promise<T>): Promise<T> {
  const repository = await openRepository(values);
  try {
    return await repository.withLock(false, () => work(repository));
  } finally {
    await repository.close();
  }
}
