import { spawnSync } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { AzureBackend } from '../../src-main/engine/backend/azureBackend.js';
import type { Backend } from '../../src-main/engine/backend/backend.js';
import { LocalBackend } from '../../src-main/engine/backend/localBackend.js';
import { RCLONE_ARGS, RcloneTransport } from '../../src-main/engine/backend/rcloneTransport.js';
import { RestBackend } from '../../src-main/engine/backend/restBackend.js';
import { S3Backend } from '../../src-main/engine/backend/s3Backend.js';
import { SftpBackend } from '../../src-main/engine/backend/sftpBackend.js';
import { mapConcurrent } from '../../src-main/engine/concurrency.js';
import { startAzurite } from '../helpers/azureServer.js';
import { packHandle } from '../helpers/backendContract.js';
import { seededBytes } from '../helpers/data.js';
import { rcloneRemote } from '../helpers/rcloneRemote.js';
import { rcloneMissing, startRestServer } from '../helpers/restServer.js';
import { startS3Server } from '../helpers/s3Server.js';
import { sshdMissing, startSshServer, type SshServer } from '../helpers/sshServer.js';

/**
 * Then the SFTP source: a tree of 20,000 files on the same sshd, backed up over loopback SFTP by the CLI
 * (first backup, then one with nothing changed), beside `rsync -a` over ssh into an empty local folder
 * (the cost of merely copying it) when rsync is installed.
 *
 * Upload and download throughput of each backend to a server on 127.0.0.1
 * (sshd, s3rver, rclone serve restic, Azurite), and through rclone serve restic --stdio to an rclone
 * alias remote of a local folder (rclone:REMOTE:PATH): 8 packs of 16 MiB, two at a time as a backup uploads them.
 * Loopback measures the backends' own overhead (ssh2's JavaScript cipher,
 * the SDK), not a network. Run with `npm run bench:remote`.
 */
const cleanups: (() => Promise<unknown> | unknown)[] = [];
const context = { after: (fn: () => unknown) => cleanups.push(fn) } as unknown as TestContext;
const MiB = 1024 * 1024;
const packs = Array.from({ length: 8 }, (_, i) => seededBytes(`pack${i}`, 16 * MiB));

async function measure(name: string, backend: Backend): Promise<void> {
  await backend.create();
  let start = performance.now();
  await mapConcurrent(packs, 2, (pack, i) => backend.write(packHandle(i + 1), pack));
  const up = (packs.length * 16) / ((performance.now() - start) / 1000);
  start = performance.now();
  await mapConcurrent(packs, 2, (_, i) => backend.read(packHandle(i + 1)));
  const down = (packs.length * 16) / ((performance.now() - start) / 1000);
  console.log(`${name.padEnd(8)} upload ${up.toFixed(0).padStart(5)} MiB/s   download ${down.toFixed(0).padStart(5)} MiB/s`);
  await backend.close();
}

const SOURCE_FOLDERS = 200;
const FILES_PER_FOLDER = 100;

/** Wall time of a command, in seconds; fails on a non-zero exit. */
function timed(program: string, args: string[], env: NodeJS.ProcessEnv = process.env): number {
  const start = performance.now();
  const run = spawnSync(program, args, { env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`${program} ${args.join(' ')} exited with ${run.status}: ${run.stderr}`);
  return (performance.now() - start) / 1000;
}

async function measureSftpSource(server: SshServer, work: string): Promise<void> {
  const tree = join(work, 'tree');
  let bytes = 0;
  for (let d = 0; d < SOURCE_FOLDERS; d++) {
    await mkdir(join(tree, `d${d}`), { recursive: true });
    for (let f = 0; f < FILES_PER_FOLDER; f++) {
      const data = seededBytes(`f${d}/${f}`, 512 + ((d * FILES_PER_FOLDER + f) * 7919) % 8192);
      bytes += data.byteLength;
      await writeFile(join(tree, `d${d}`, `f${f}.txt`), data);
    }
  }
  // Times an hour back: files written in the last seconds are read again (SFTP's times are whole seconds).
  spawnSync('find', [tree, '-exec', 'touch', '-h', '-d', '1 hour ago', '{}', '+']);
  const bin = fileURLToPath(new URL('../../../bin/hindsight.js', import.meta.url));
  const env: NodeJS.ProcessEnv = { ...process.env, HINDSIGHT_REPO: join(work, 'repo'), HINDSIGHT_PASSWORD: 'bench', HINDSIGHT_CACHE_DIR: join(work, 'cache') };
  delete env.SSH_AUTH_SOCK;
  timed(process.execPath, [bin, 'init'], env);
  const source = `sftp://${server.username}@127.0.0.1:${server.port}${tree}`;
  const ssh = ['--ssh-key', server.userKey, '--known-hosts', server.knownHosts];
  const first = timed(process.execPath, [bin, 'backup', ...ssh, source], env);
  const again = timed(process.execPath, [bin, 'backup', ...ssh, source], env);
  const files = SOURCE_FOLDERS * FILES_PER_FOLDER;
  const size = (bytes / MiB).toFixed(0);
  console.log(`sftp source, ${files} files (${size} MiB) over loopback: first backup ${first.toFixed(2)} s, no change ${again.toFixed(2)} s`);
  if (spawnSync('rsync', ['--version']).status !== 0) {
    console.log('rsync -a over ssh  skipped: rsync is not installed (apt-get install rsync)');
    return;
  }
  const shell = `ssh -p ${server.port} -i ${server.userKey} -o UserKnownHostsFile=${server.knownHosts} -o BatchMode=yes`;
  const copy = timed('rsync', ['-a', '-e', shell, `${server.username}@127.0.0.1:${tree}/`, join(work, 'rsync-copy')]);
  const unchanged = timed('rsync', ['-a', '-e', shell, `${server.username}@127.0.0.1:${tree}/`, join(work, 'rsync-copy')]);
  console.log(`rsync -a over ssh, the same tree: first copy ${copy.toFixed(2)} s, no change ${unchanged.toFixed(2)} s`);
}

try {
  const folder = join(process.env.TMPDIR ?? '/tmp', `hindsight-bench-${process.pid}`);
  cleanups.push(() => rm(folder, { recursive: true, force: true }));
  await measure('local', new LocalBackend(folder));
  if (sshdMissing()) {
    console.log(`sftp     skipped: ${sshdMissing()}`);
  } else {
    const server = await startSshServer(context);
    await measure('sftp', new SftpBackend(server.options(join(server.dir, 'repo'))));
    const work = join(process.env.TMPDIR ?? '/tmp', `hindsight-bench-source-${process.pid}`);
    cleanups.push(() => rm(work, { recursive: true, force: true }));
    await measureSftpSource(server, work);
  }
  const s3 = await startS3Server(context);
  await measure('s3', new S3Backend(s3.options('bench')));
  if (rcloneMissing()) {
    console.log(`rest     skipped: ${rcloneMissing()}`);
    console.log(`rclone   skipped: ${rcloneMissing()}`);
  } else {
    const rest = await startRestServer(context);
    await measure('rest', new RestBackend(rest.options('bench')));
    const remote = await rcloneRemote(context);
    const transport = new RcloneTransport({ remote: `${remote.name}:bench`, args: [...RCLONE_ARGS, '--config', remote.config] });
    await measure('rclone', new RestBackend({ location: `rclone:${remote.name}:bench`, transport }));
  }
  const azure = await startAzurite(context);
  await measure('azure', new AzureBackend(azure.options('bench')));
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup();
}
