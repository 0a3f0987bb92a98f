import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { BackendError } from '../../../src-main/engine/backend/backend.js';
import { backendFor } from '../../../src-main/engine/backend/location.js';
import { RCLONE_ARGS, RcloneTransport, lastMeaningfulLine, splitArguments } from '../../../src-main/engine/backend/rcloneTransport.js';
import { RestBackend } from '../../../src-main/engine/backend/restBackend.js';
import { backendContract, collect, packHandle } from '../../helpers/backendContract.js';
import { seededBytes } from '../../helpers/data.js';
import { startAzurite } from '../../helpers/azureServer.js';
import { rcloneAzureRemote, rcloneRemote, rcloneSftpRemote, rcloneWebdavRemote, type RcloneRemote } from '../../helpers/rcloneRemote.js';
import { assertRepositoryCycle } from '../../helpers/repositoryCycle.js';
import { rcloneMissing } from '../../helpers/restServer.js';
import { sshdMissing, startSshServer } from '../../helpers/sshServer.js';

const skip = rcloneMissing() ?? false;
const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);

/** A backend on rclone:NAME:PATH of a remote defined in `config`, the way location.ts makes one but without its wrappers. */
function rcloneBackend(config: string, remote: string, transport: RcloneTransport[] = []): RestBackend {
  const each = new RcloneTransport({ remote, args: [...RCLONE_ARGS, '--config', config] });
  transport.push(each);
  return new RestBackend({ location: `rclone:${remote}`, transport: each });
}

backendContract(
  'rclone',
  async (t) => {
    const remote = await rcloneRemote(t);
    return rcloneBackend(remote.config, `${remote.name}:contract`);
  },
  skip ? { skip } : {},
);

/** The ways rclone reaches storage that these tests run: each remote type against a real server of its kind on 127.0.0.1. */
const remotes: readonly { readonly kind: string; readonly skip: string | false; make(t: TestContext): Promise<RcloneRemote> }[] = [
  { kind: 'alias of a local folder', skip, make: (t) => rcloneRemote(t) },
  { kind: 'webdav remote on rclone serve webdav', skip, make: (t) => rcloneWebdavRemote(t) },
  { kind: 'sftp remote on the test sshd', skip: skip || (sshdMissing() ?? false), make: async (t) => rcloneSftpRemote(t, await startSshServer(t)) },
  { kind: 'azureblob remote on Azurite', skip, make: async (t) => rcloneAzureRemote(t, await startAzurite(t)) },
];

for (const { kind, skip: why, make } of remotes) {
  test(`rclone, ${kind}: init, backup, restore byte for byte and check --read-data through an rclone: location; the remote holds an ordinary repository`, { skip: why }, async (t) => {
    const remote = await make(t);
    // The location as a user writes it, with its wrappers (lazy start, retries); the config file given as --rclone-args would.
    const location = `rclone:${remote.name}:cycle`;
    const options = { rcloneArgs: `${RCLONE_ARGS.join(' ')} --config '${remote.config}'` };
    await assertRepositoryCycle(t, () => backendFor(location, options), { packSize: 512 * 1024, bigFileBytes: 3 * 1024 * 1024 + 5 });
    const over = backendFor(location, options);
    const stored = remote.storage('cycle');
    t.after(() => Promise.all([over.close(), stored.close()]));
    const packs = await collect(over.list('data'));
    assert.ok(packs.length > 1, 'several packs');
    assert.deepEqual((await collect(stored.list('data'))).sort(byName), packs.sort(byName), 'the packs rclone lists are those stored, read without rclone');
    assert.equal((await collect(stored.list('snapshots'))).length, 1);
  });
}

test('rclone: requests run in parallel over the one HTTP/2 connection; close stops rclone', { skip }, async (t) => {
  const remote = await rcloneRemote(t);
  const started: RcloneTransport[] = [];
  const backend = rcloneBackend(remote.config, `${remote.name}:parallel`, started);
  await backend.create();
  await Promise.all(Array.from({ length: 40 }, (_, i) => backend.write(packHandle(i), seededBytes(`p${i}`, 300_000))));
  const read = await Promise.all(Array.from({ length: 40 }, (_, i) => backend.read(packHandle(i), { offset: 1000, length: 250_000 })));
  read.forEach((bytes, i) => assert.ok(bytes.equals(seededBytes(`p${i}`, 300_000).subarray(1000, 251_000)), `pack ${i}`));
  const child = (started[0] as unknown as { started: { child: { pid: number; exitCode: number | null } } }).started.child;
  await backend.close();
  assert.equal(child.exitCode, 0, 'rclone ended on end of input');
  assert.throws(() => process.kill(child.pid, 0), { code: 'ESRCH' });
  t.diagnostic(`rclone pid ${child.pid} gone`);
});

test('rclone: a missing program, a remote that does not exist, and an rclone that stops each fail with one clear, permanent error', { skip }, async (t) => {
  const remote = await rcloneRemote(t);
  const missing = new RestBackend({ location: 'rclone:backups:x', transport: new RcloneTransport({ remote: 'backups:x', program: join(remote.scratch, 'no-rclone') }) });
  await assert.rejects(missing.create(), (err: BackendError) => {
    assert.equal(err.code, 'E_UNREACHABLE');
    assert.equal(err.transient, false);
    assert.equal(err.message, `The rclone program ${join(remote.scratch, 'no-rclone')} given with --rclone-program does not exist.`);
    return true;
  });
  const savedPath = process.env.PATH;
  process.env.PATH = remote.scratch;
  try {
    const none = backendFor('rclone:backups:x');
    await assert.rejects(none.create(), { code: 'E_UNREACHABLE', message: 'rclone is not installed (no "rclone" program on the PATH), and rclone:backups:x needs it: install rclone (apt install rclone, or https://rclone.org/install/), or give its path with --rclone-program.' });
    await none.close();
  } finally {
    process.env.PATH = savedPath;
  }

  const nowhere = rcloneBackend(remote.config, 'gdrive:backups');
  t.after(() => nowhere.close());
  await assert.rejects(nowhere.create(), (err: BackendError) => {
    assert.equal(err.code, 'E_TARGET_MISSING');
    assert.equal(err.transient, false);
    assert.equal(err.message, 'rclone has no remote "gdrive" (Failed to create file system for "gdrive:backups": didn\'t find section in config file): list yours with "rclone listremotes", add one with "rclone config".');
    return true;
  });
  await assert.rejects(nowhere.stat(packHandle(1)), { code: 'E_TARGET_MISSING' }, 'and so does every later request');

  const started: RcloneTransport[] = [];
  const killed = rcloneBackend(remote.config, `${remote.name}:killed`, started);
  t.after(() => killed.close());
  await killed.create();
  const child = (started[0] as unknown as { started: { child: { kill: (signal: string) => void } } }).started.child;
  child.kill('SIGKILL');
  await assert.rejects(killed.write(packHandle(1), Buffer.from('late')), (err: BackendError) => {
    assert.equal(err.code, 'E_UNREACHABLE');
    assert.equal(err.transient, false, 'rclone retries its remote itself; an rclone gone is not a passing error');
    assert.equal(err.message, `rclone serving rclone:${remote.name}:killed was stopped by SIGKILL. Whatever it was doing did not finish; run the command again.`);
    return true;
  });
});

test('rclone: its standard error comes down to the line that says what went wrong; --rclone-args split as a shell would, without one', () => {
  assert.equal(lastMeaningfulLine('2026/12/05 22:13:15 NOTICE: Config file "/x" not found - using defaults\n2026/12/05 22:13:15 Failed to create file system for "a:b": bad\n\n'), 'Failed to create file system for "a:b": bad');
  assert.equal(lastMeaningfulLine('2026/12/05 22:13:15 ERROR : data/ab: upload failed: quota\n2026/12/05 22:13:16 NOTICE: retrying\n'), 'data/ab: upload failed: quota');
  assert.equal(lastMeaningfulLine('panic: oops\n'), 'panic: oops');
  assert.equal(lastMeaningfulLine(''), '');
  assert.deepEqual(splitArguments(' serve restic  --stdio --config "/home/me/my rclone.conf" --x=\'a b\' '), ['serve', 'restic', '--stdio', '--config', '/home/me/my rclone.conf', '--x=a b']);
  assert.deepEqual(splitArguments('--empty ""'), ['--empty', '']);
  assert.throws(() => splitArguments('serve "restic'), { code: 'E_USAGE', message: 'The rclone arguments "serve "restic" leave a double quote open.' });
});
