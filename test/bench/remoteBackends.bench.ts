import { rm } from 'node:fs/promises';
import { join } from 'node:path';
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
import { sshdMissing, startSshServer } from '../helpers/sshServer.js';

/**
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

try {
  const folder = join(process.env.TMPDIR ?? '/tmp', `hindsight-bench-${process.pid}`);
  cleanups.push(() => rm(folder, { recursive: true, force: true }));
  await measure('local', new LocalBackend(folder));
  if (sshdMissing()) {
    console.log(`sftp     skipped: ${sshdMissing()}`);
  } else {
    const server = await startSshServer(context);
    await measure('sftp', new SftpBackend(server.options(join(server.dir, 'repo'))));
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
