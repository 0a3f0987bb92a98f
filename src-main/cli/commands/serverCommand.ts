import { resolve } from 'node:path';
import { HindsightError } from '../../../src-shared/errors.js';
import { formatBytes, formatCount, parseBytes } from '../../../src-shared/units.js';
import { AccessTokens } from '../../server/accessTokens.js';
import { parseLocation } from '../../engine/backend/location.js';
import { remoteStorage } from '../../server/remoteStorage.js';
import { folderStorage, sweepUnfinishedUploads, type RepositoryStorage } from '../../server/repositoryStorage.js';
import { startRepositoryServer } from '../../server/repositoryServer.js';
import { serverStateFolder } from '../../server/serverState.js';
import { loadCertificate, selfSignedCertificate, type ServerCertificate } from '../../server/serverTls.js';
import { UsageLedger } from '../../server/usageLedger.js';
import { UserDirectory, readUsers } from '../../server/userFile.js';
import { UsageError } from '../cliError.js';
import { targetOptions } from '../openRepository.js';
import { forgetCommand } from './forgetCommand.js';
import { runUserCommand } from './serverUserCommand.js';
import type { Command, OptionValues, RunContext } from '../command.js';

const DEFAULT_LISTEN = '127.0.0.1:8000';
/** forget's own rules and repository options, for `server prune`. */
const forgetOptions = Object.fromEntries(Object.entries(forgetCommand.options).filter(([name]) => name !== 'prune'));
/** Above any pack Hindsight (1 GiB at most) or restic (128 MiB) writes. */
const DEFAULT_MAX_UPLOAD = 2 * 1024 * 1024 * 1024;

export const serverCommand: Command = {
  name: 'server',
  summary: 'run a repository server (restic REST protocol) for other machines to back up to',
  help: `Usage: hindsight server --data DIR [--listen HOST:PORT] [--tls-cert FILE --tls-key FILE | --tls-self-signed]
       hindsight server user add NAME --data DIR [--append-only] [--admin] [--quota SIZE] [--repos PREFIX]
       hindsight server user list|remove NAME|passwd NAME --data DIR
       hindsight server status --data DIR
       hindsight server prune --data DIR --user NAME --keep-… [--dry-run]

Serves repositories over restic's REST protocol (version 2, HTTP/1.1 and
HTTP/2), so Hindsight (rest: locations), restic and rclone back up to it. Each
repository is an ordinary repository folder under DIR (DIR/NAME/REPO), which
also opens directly on the server with --repo DIR/NAME/REPO.

"server prune" runs "forget --prune" with the --keep-… rules given (see
"hindsight forget --help") on each of a user's repositories, on the server's
folders: how append-only users' old snapshots are removed. The repositories'
password comes from HINDSIGHT_PASSWORD or --password-file (or a prompt for each).

"server status" shows each user's repositories, their size and quota (it
reads DIR; the server need not run). A running server gives the same figures
to an admin at GET /metrics (Prometheus text), and an access token for
POST /login (a JWT, valid 15 minutes, sent as "Authorization: Bearer …").

Every request logs in as a user (HTTP basic authentication). A user uses the
repositories under their own name (rest:https://HOST:8000/NAME/laptop), or
under --repos PREFIX; an admin uses all of them. Passwords come from
HINDSIGHT_SERVER_PASSWORD or a prompt, and are kept as Argon2id hashes in
DIR/.hindsight-server/users.json. A running server sees user changes at once.

User options:
      --append-only         may add and read, never delete or replace (locks
                            excepted): a stolen laptop cannot destroy backups
      --admin               may use every repository on the server
      --quota SIZE          the most this user's repositories may hold together
      --repos PREFIX        keep this user's repositories under PREFIX instead
                            of NAME (several users can share one PREFIX)

Server options:
      --data DIR            where repositories (and the server's own files, in
                            DIR/.hindsight-server) are kept
      --listen HOST:PORT    address to listen on (default ${DEFAULT_LISTEN})
      --tls-cert FILE       HTTPS (and HTTP/2) with this PEM certificate chain…
      --tls-key FILE        …and its PEM private key
      --tls-self-signed     HTTPS with a self-signed certificate kept in
                            DIR/.hindsight-server (made at first start); clients
                            trust it with --rest-cacert or pin its fingerprint
      --insecure-listen     allow plain HTTP on an address other than loopback
                            (passwords and data then cross the network in clear)
      --storage LOCATION    keep the repositories there instead of under DIR: a
                            folder, an S3-compatible store (s3:http://host:port/
                            bucket/prefix, s3://host/bucket/prefix, s3:bucket/prefix),
                            an SFTP folder (sftp://user@host/path), Azure
                            (azure:container/prefix) or a REST server (rest:https://
                            host/path; no quotas, status or prune there), with
                            credentials as for those targets. Users, token key and
                            certificate stay in DIR; give the same --storage to
                            "server status" and "server prune"; --ssh-key,
                            --known-hosts, --s3-region, --rest-cacert,
                            --rest-fingerprint and --azure-endpoint apply to it
      --max-upload SIZE     refuse objects larger than this (default 2GiB)
      --no-verify-upload    do not check uploads' SHA-256 against their names
                            (saves CPU on a slow server; clients check on read)`,
  options: {
    ...forgetOptions,
    user: { type: 'string' },
    data: { type: 'string' },
    listen: { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'tls-self-signed': { type: 'boolean' },
    'insecure-listen': { type: 'boolean' },
    'max-upload': { type: 'string' },
    storage: { type: 'string' },
    'no-verify-upload': { type: 'boolean' },
    'append-only': { type: 'boolean' },
    admin: { type: 'boolean' },
    quota: { type: 'string' },
    repos: { type: 'string' },
  },
  takesArguments: true,
  interruptible: true,
  async run(values, positionals, context) {
    const [verb, ...rest] = positionals;
    if (verb === 'user') return runUserCommand(dataFolder(values), rest, values);
    if (verb === 'prune') {
      if (rest.length > 0) throw new UsageError(`"server prune" takes no arguments, but was given "${rest[0]}".`);
      return pruneUser(dataFolder(values), values, context);
    }
    if (verb === 'status') {
      if (rest.length > 0) throw new UsageError(`"server status" takes no arguments, but was given "${rest[0]}".`);
      return printStatus(dataFolder(values), values);
    }
    if (verb !== undefined) throw new UsageError(`Unknown "server" command "${verb}": the server runs with none; the others are user, status and prune.`);
    await runServer(values, context);
  },
};

async function runServer(values: OptionValues, { signal }: RunContext): Promise<void> {
  const data = dataFolder(values);
  const { host, port } = parseListen((values.listen as string | undefined) ?? DEFAULT_LISTEN);
  const maxUpload = values['max-upload'] === undefined ? DEFAULT_MAX_UPLOAD : parseBytes(values['max-upload'] as string);
  if (maxUpload === undefined || maxUpload <= 0) throw new UsageError(`--max-upload must be a size such as 512MiB, not "${String(values['max-upload'])}".`);
  const certificate = await tlsFrom(values, data, host);
  if (!certificate && !isLoopback(host) && !values['insecure-listen']) {
    throw new UsageError(`Listening on ${host} without TLS would send passwords and backups across the network in clear: give --tls-cert and --tls-key (or --tls-self-signed), put it behind an HTTPS reverse proxy and add --insecure-listen, or listen on 127.0.0.1.`);
  }
  const users = new UserDirectory(data);
  await users.load();
  const storage = storageFrom(values, data);
  const counted = (await users.all()).find((user) => user.quotaBytes !== undefined);
  if (!storage.listable && counted) throw new UsageError(`${counted.name} has a quota, which a server on ${storage.description} cannot count (a REST server does not list its repositories): keep the repositories on a folder, S3, SFTP or Azure, or remove the quota.`);
  const swept = await sweepUnfinishedUploads(storage);
  if (swept.files > 0) console.log(`Removed ${formatCount(swept.files, 'unfinished upload')} (${formatBytes(swept.bytes)}) left by an earlier stop.`);
  const server = await startRepositoryServer({
    users,
    tokens: await AccessTokens.open(data, users),
    usage: new UsageLedger(storage),
    host,
    port,
    storage,
    maxUploadBytes: maxUpload,
    verifyUploads: !values['no-verify-upload'],
    log: (line) => console.error(`${new Date().toISOString()} ${line}`),
    ...(certificate ? { tls: { cert: certificate.cert, key: certificate.key } } : {}),
  });
  // The certificate first: a script waiting for the "listening" line has both then.
  if (certificate) console.log(`TLS certificate ${certificate.certFile}, fingerprint ${certificate.fingerprint}.`);
  console.log(`Hindsight server listening on ${server.url}${server.url.startsWith('https:') ? ' (HTTP/2 and HTTP/1.1)' : ''}; repositories in ${storage.description}.`);
  if (!certificate && !isLoopback(host)) console.warn(`warning: plain HTTP on ${host}: use it only behind an HTTPS reverse proxy.`);
  await new Promise((done) => signal.addEventListener('abort', done, { once: true }));
  console.log('Stopping.');
  await server.close();
  await storage.close();
}

/** Where repositories live: folders under --data, or below the --storage location (a folder, S3, SFTP, Azure, a REST server). */
function storageFrom(values: OptionValues, data: string): RepositoryStorage {
  const location = values.storage as string | undefined;
  if (location === undefined) return folderStorage(data);
  const parsed = parseLocation(location);
  if (parsed.kind === 'local') return folderStorage(resolve(parsed.path));
  if (parsed.kind === 'rclone') throw new UsageError('--storage takes a folder, s3:…, sftp://…, azure:… or rest:… location, not an rclone: one (serve the remote with "rclone serve restic" and use its rest: address).');
  // The storage's retries and connections are the server's own: no upload limit or replication reports.
  const { uploadBytesPerSecond: _limit, onReplicationEvent: _events, confirmNewHostKey: _confirm, askPassphrase: _ask, ...options } = targetOptions(values);
  return remoteStorage(location, parsed, options);
}

/** `server prune`: forget --prune with the given rules on each repository of one user, one after the other. */
async function pruneUser(data: string, values: OptionValues, context: RunContext): Promise<number | void> {
  const name = values.user as string | undefined;
  if (!name) throw new UsageError('Name the user whose repositories to prune with --user NAME.');
  const user = (await readUsers(data)).find((known) => known.name === name);
  if (!user) throw new UsageError(`There is no user "${name}" (see "server user list").`);
  if (values.repo !== undefined) throw new UsageError('"server prune" finds the user\'s repositories itself; give no --repo.');
  const storage = storageFrom(values, data);
  let failed = 0;
  let count = 0;
  for await (const repository of storage.repositories(user.repos.split('/'))) {
    count += 1;
    console.log(`${count > 1 ? '\n' : ''}Repository ${repository.join('/')}:`);
    try {
      await forgetCommand.run({ ...values, repo: [storage.locationOf(repository)], prune: true }, [], context);
    } catch (err) {
      // One repository that cannot be pruned (another password, a lock) does not stop the others.
      if (!(err instanceof HindsightError) || err instanceof UsageError) throw err;
      console.error(`hindsight: ${repository.join('/')}: ${err.message}`);
      failed += 1;
    }
  }
  await storage.close();
  if (count === 0) console.log(`${user.name} has no repositories under ${user.repos}/ in ${storage.description}.`);
  return failed > 0 ? 1 : undefined;
}

async function printStatus(data: string, values: OptionValues): Promise<void> {
  const users = await readUsers(data);
  if (users.length === 0) {
    console.log(`No users yet in ${data}.`);
    return;
  }
  const storage = storageFrom(values, data);
  const ledger = new UsageLedger(storage);
  const rows = [['USER', 'REPOSITORIES', 'OBJECTS', 'SIZE', 'QUOTA']];
  for (const user of users) {
    const usage = await ledger.below(user.repos.split('/'));
    const quota = user.quotaBytes === undefined ? '-' : `${formatBytes(user.quotaBytes)} (${Math.round((100 * usage.bytes) / user.quotaBytes)}% used)`;
    rows.push([user.name, String(usage.repositories), String(usage.objects), formatBytes(usage.bytes), quota]);
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  for (const row of rows) console.log(row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  '));
  await storage.close();
}

function dataFolder(values: OptionValues): string {
  const data = values.data as string | undefined;
  if (!data) throw new UsageError('Give the folder the server keeps its repositories in with --data DIR.');
  return resolve(data);
}

async function tlsFrom(values: OptionValues, data: string, host: string): Promise<ServerCertificate | undefined> {
  const cert = values['tls-cert'] as string | undefined;
  const key = values['tls-key'] as string | undefined;
  if (values['tls-self-signed']) {
    if (cert || key) throw new UsageError('Give either --tls-self-signed or --tls-cert and --tls-key, not both.');
    return selfSignedCertificate(serverStateFolder(data), host);
  }
  if (!cert !== !key) throw new UsageError('--tls-cert and --tls-key go together: give both.');
  return cert && key ? loadCertificate(cert, key) : undefined;
}

/** "HOST:PORT" or "[IPv6]:PORT". */
export function parseListen(text: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  if (!match || port > 65535) throw new UsageError(`--listen takes HOST:PORT (such as 127.0.0.1:8000 or [::1]:8000), not "${text}".`);
  return { host: (match[1] ?? match[2]) as string, port };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
