import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { AccountSASPermissions, StorageSharedKeyCredential, generateAccountSASQueryParameters } from '@azure/storage-blob';
import { AzureBackend } from '../../src-main/engine/backend/azureBackend.js';
import type { Backend } from '../../src-main/engine/backend/backend.js';
import { LocalBackend } from '../../src-main/engine/backend/localBackend.js';
import { AZURITE_ACCOUNT, AZURITE_KEY, type AzureServer } from './azureServer.js';
import { RCLONE, obscured } from './restServer.js';
import { stopWhenDone, waitForPort } from './serverProcess.js';
import { freePort, type SshServer } from './sshServer.js';
import { tempDir } from './tempDir.js';

export interface RcloneRemote {
  /** The rclone.conf that defines the remote: RCLONE_CONFIG for a child, or --config. */
  readonly config: string;
  /** The remote's name, for rclone:NAME:PATH. */
  readonly name: string;
  /** A folder of the test's own, beside the remote's. */
  readonly scratch: string;
  /** What rclone:NAME:`path` stored, read without rclone (the folder, or the blobs on Azurite). */
  storage(path: string): Backend;
}

/** A remote that stores in a folder of this machine (directly, or through a server of its own). */
export interface FolderRcloneRemote extends RcloneRemote {
  /** The folder the remote stores in: rclone:NAME:x is its subfolder x. */
  readonly directory: string;
}

/** One rclone.conf section. */
const section = (name: string, fields: Record<string, string | number>) => `[${name}]\n${Object.entries(fields).map(([key, value]) => `${key} = ${value}\n`).join('')}\n`;

/**
 * An rclone configuration of its own whose remote `name` is an alias of `target` (another remote's
 * REMOTE:PATH, or a folder): whatever the real remote is, rclone:NAME:x is x inside it.
 */
async function aliasRemote(dir: string, name: string, target: string, sections = ''): Promise<{ config: string; name: string; scratch: string }> {
  const config = join(dir, 'rclone.conf');
  await writeFile(config, `${sections}${section(name, { type: 'alias', remote: target })}`, { mode: 0o600 });
  return { config, name, scratch: dir };
}

/** The remote of `aliasRemote` when it stores in `directory`. */
async function folderRemote(dir: string, name: string, target: string, directory: string, sections = ''): Promise<FolderRcloneRemote> {
  return { ...(await aliasRemote(dir, name, target, sections)), directory, storage: (path) => new LocalBackend(join(directory, path)) };
}

/**
 * An alias of a temporary folder: what a user's rclone.conf names "gdrive" or "b2" here stands for a
 * folder, reached through rclone all the same.
 */
export async function rcloneRemote(t: TestContext, name = 'backups'): Promise<FolderRcloneRemote> {
  const dir = await tempDir(t, 'hindsight-rclone-');
  const directory = join(dir, 'store');
  return folderRemote(dir, name, directory, directory);
}

/**
 * An rclone `webdav` remote (as for a Nextcloud) on `rclone serve webdav` of a temporary folder, on a
 * free port of 127.0.0.1 with basic authentication; the server is stopped when the test ends.
 */
export async function rcloneWebdavRemote(t: TestContext, name = 'backups'): Promise<FolderRcloneRemote> {
  const dir = await tempDir(t, 'hindsight-rclone-webdav-');
  const directory = join(dir, 'store');
  await mkdir(directory);
  const port = await freePort();
  const [user, password] = ['hindsight', 'webdav secret 7'];
  const empty = join(dir, 'server.conf');
  await writeFile(empty, '');
  const child = spawn(RCLONE, ['serve', 'webdav', '--config', empty, '--addr', `127.0.0.1:${port}`, '--user', user, '--pass', password, directory], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
  stopWhenDone(t, child);
  await waitForPort(port, child, () => log, 'rclone serve webdav');
  const webdav = section(`${name}-webdav`, { type: 'webdav', url: `http://127.0.0.1:${port}`, vendor: 'other', user, pass: obscured(password) });
  return folderRemote(dir, name, `${name}-webdav:`, directory, webdav);
}

/**
 * An rclone `sftp` remote on the test's sshd (its user key, its known_hosts), storing in a folder of
 * the server's. No shell commands: rclone then asks the server for no checksums, as on a bare SFTP host.
 */
export async function rcloneSftpRemote(t: TestContext, server: SshServer, name = 'backups'): Promise<FolderRcloneRemote> {
  const dir = await tempDir(t, 'hindsight-rclone-sftp-');
  const directory = join(server.dir, 'store');
  const sftp = section(`${name}-sftp`, { type: 'sftp', host: '127.0.0.1', port: server.port, user: server.username, key_file: server.userKey, known_hosts_file: server.knownHosts, shell_type: 'none' });
  return folderRemote(dir, name, `${name}-sftp:${directory}`, directory, sftp);
}

/**
 * rclone's `azureblob` remote on Azurite, in the container `container`. rclone 1.60 reaches an account
 * only at https://ACCOUNT.blob.core.windows.net (or the emulator's fixed port 10000), so the remote is
 * given a SAS URL of the whole account at Azurite's endpoint instead, as rclone's documentation allows.
 */
export async function rcloneAzureRemote(t: TestContext, server: AzureServer, name = 'backups', container = 'rclone'): Promise<RcloneRemote> {
  const dir = await tempDir(t, 'hindsight-rclone-azure-');
  const sas = generateAccountSASQueryParameters(
    { services: 'b', resourceTypes: 'sco', permissions: AccountSASPermissions.parse('rwdlac'), expiresOn: new Date(Date.now() + 3600_000) },
    new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
  ).toString();
  const azure = section(`${name}-azure`, { type: 'azureblob', sas_url: `${server.endpoint}?${sas}` });
  return { ...(await aliasRemote(dir, name, `${name}-azure:${container}`, azure)), storage: (path) => new AzureBackend(server.options(path, container)) };
}
