import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { BackendError } from '../../../src-main/engine/backend/backend.js';
import { LazyBackend } from '../../../src-main/engine/backend/lazyBackend.js';
import { RetryingBackend } from '../../../src-main/engine/backend/retryingBackend.js';
import { SftpBackend } from '../../../src-main/engine/backend/sftpBackend.js';
import { backendContract, collect, packHandle } from '../../helpers/backendContract.js';
import { assertRepositoryCycle } from '../../helpers/repositoryCycle.js';
import { freePort, sshdMissing, startSshServer } from '../../helpers/sshServer.js';
import { assertSweepsTemporaryFiles } from '../../helpers/temporaryFiles.js';

const skip = sshdMissing() ?? false;

backendContract(
  'sftp',
  async (t) => {
    const server = await startSshServer(t);
    return new SftpBackend(server.options(join(server.dir, 'repo')));
  },
  { ...(skip ? { skip } : {}), largeObjectBytes: 5 * 1024 * 1024 + 3 },
);

test('sftp: init, backup, restore byte for byte and check --read-data against a real sshd', { skip }, async (t) => {
  const server = await startSshServer(t);
  await assertRepositoryCycle(t, () => new SftpBackend(server.options(join(server.dir, 'repo'))), { packSize: 512 * 1024 });
});

test('sftp: temporary files of unfinished uploads are found, removed unless a dry run, and locks/ is left alone', { skip }, async (t) => {
  const server = await startSshServer(t);
  const root = join(server.dir, 'repo');
  // Through the wrappers a location gets: the sweep passes the lazy loader and the retries.
  const backend = new RetryingBackend(new LazyBackend('sftp', async () => new SftpBackend(server.options(root))));
  t.after(() => backend.close());
  await assertSweepsTemporaryFiles(backend, root);
});

test('sftp: a key the server does not accept is refused with a clear message', { skip }, async (t) => {
  const server = await startSshServer(t);
  const stranger = join(server.dir, 'stranger_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stranger]);
  const backend = new SftpBackend({ ...server.options(join(server.dir, 'repo')), identityFiles: [stranger] });
  t.after(() => backend.close());
  await assert.rejects(backend.create(), (err: BackendError) => {
    assert.equal(err.code, 'E_AUTH');
    assert.equal(err.transient, false);
    assert.match(err.message, new RegExp(`127\\.0\\.0\\.1 refused to log in ${server.username} with .*stranger_key\\. Add the public key`));
    return true;
  });
});

test('sftp: a key protected by a passphrase is refused with the way through ssh-agent, and used when its passphrase is given', { skip }, async (t) => {
  const server = await startSshServer(t);
  // The key the server accepts, copied and locked with a passphrase.
  const locked = join(server.dir, 'locked_key');
  await writeFile(locked, await readFile(server.userKey), { mode: 0o600 });
  execFileSync('ssh-keygen', ['-q', '-p', '-P', '', '-N', 'open sesame', '-f', locked]);
  const options = { ...server.options(join(server.dir, 'repo')), identityFiles: [locked] };
  const refused = new SftpBackend(options);
  t.after(() => refused.close());
  await assert.rejects(refused.create(), (err: BackendError) => {
    assert.equal(err.code, 'E_AUTH');
    assert.match(err.message, new RegExp(`Cannot use the SSH key .*locked_key: .*run "ssh-add .*locked_key" first`));
    return true;
  });
  // With another key that is refused, the message still names the locked one and ssh-add.
  const stranger = join(server.dir, 'stranger_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stranger]);
  const both = new SftpBackend({ ...options, identityFiles: [stranger, locked] });
  t.after(() => both.close());
  await assert.rejects(both.create(), { code: 'E_AUTH', message: /refused to log in .*stranger_key\. .* .*locked_key is protected by a passphrase and not in the ssh-agent: run "ssh-add .*locked_key" to use it\./ });
  const unlocked = new SftpBackend({ ...options, passphrase: 'open sesame' });
  t.after(() => unlocked.close());
  await unlocked.create();
});

test('sftp: with a prompt, a passphrase is asked for as ssh does: after the keys at hand are refused, again when wrong, once per key', { skip }, async (t) => {
  const server = await startSshServer(t);
  const locked = join(server.dir, 'locked_key');
  await writeFile(locked, await readFile(server.userKey), { mode: 0o600 });
  execFileSync('ssh-keygen', ['-q', '-p', '-P', '', '-N', 'open sesame', '-f', locked]);
  const stranger = join(server.dir, 'stranger_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stranger]);
  const options = server.options(join(server.dir, 'repo'));
  const prompt = (answers: string[], asked: string[]) => async (file: string, again: boolean) => {
    asked.push(`${file}${again ? ' again' : ''}`);
    return answers.shift() ?? '';
  };

  // A key that needs no passphrase and is accepted: nothing is asked.
  const asked: string[] = [];
  const ready = new SftpBackend({ ...options, identityFiles: [server.userKey, locked], askPassphrase: prompt(['open sesame'], asked) });
  t.after(() => ready.close());
  await ready.create();
  assert.deepEqual(asked, []);

  // The stranger's key is refused; then the locked key's passphrase is asked for, wrong, then right.
  const backend = new SftpBackend({ ...options, identityFiles: [stranger, locked], askPassphrase: prompt(['wrong', 'open sesame'], asked) });
  t.after(() => backend.close());
  assert.deepEqual(await collect(backend.list('keys')), []);
  assert.deepEqual(asked, [locked, `${locked} again`]);
  // The connection drops; the next request logs in again with the passphrase given, not asking again.
  await server.stop();
  await server.start();
  await assert.rejects(backend.stat({ type: 'config', name: 'config' }), { code: 'E_NOT_FOUND' });
  assert.equal(asked.length, 2);

  // An empty answer skips the key, as in ssh; three wrong ones end the login.
  const skipped = new SftpBackend({ ...options, identityFiles: [locked], askPassphrase: prompt([''], []) });
  t.after(() => skipped.close());
  await assert.rejects(skipped.create(), { code: 'E_AUTH', message: /Cannot use the SSH key .*locked_key: it is protected by a passphrase\. Start ssh-agent and run "ssh-add .*locked_key" first\.$/ });
  const wrong = new SftpBackend({ ...options, identityFiles: [locked], askPassphrase: prompt(['a', 'b', 'c'], []) });
  t.after(() => wrong.close());
  await assert.rejects(wrong.create(), { code: 'E_AUTH', message: /Wrong passphrase for the SSH key .*locked_key \(3 tries\)\./ });
});

test('sftp: an unknown host key is refused unless accepted explicitly, then remembered', { skip }, async (t) => {
  const server = await startSshServer(t);
  const knownHosts = join(server.dir, 'empty_known_hosts');
  const options = { ...server.options(join(server.dir, 'repo')), knownHostsFile: knownHosts };
  const hostKey = (await readFile(join(server.dir, 'host_key.pub'), 'utf8')).split(' ')[1] as string;

  const refused = new SftpBackend(options);
  await assert.rejects(refused.create(), (err: BackendError) => {
    assert.equal(err.code, 'E_HOST_KEY');
    assert.match(err.message, /is not in .*empty_known_hosts.*Its key is ssh-ed25519 SHA256:[A-Za-z0-9+/]{43}\. .*--accept-new-host-key/);
    return true;
  });
  await refused.close();

  let asked = '';
  const declined = new SftpBackend({ ...options, confirmNewHostKey: async (host, print) => ((asked = `${host} ${print}`), false) });
  await assert.rejects(declined.create(), { code: 'E_HOST_KEY' });
  await declined.close();
  assert.match(asked, /^127\.0\.0\.1 port \d+ ssh-ed25519 SHA256:/);

  const accepting = new SftpBackend({ ...options, acceptNewHostKey: true });
  await accepting.create();
  await accepting.close();
  assert.equal(await readFile(knownHosts, 'utf8'), `[127.0.0.1]:${server.port} ssh-ed25519 ${hostKey}\n`);

  const later = new SftpBackend(options);
  assert.deepEqual(await collect(later.list('data')), []);
  await later.close();
});

test('sftp: a changed host key is refused even with --accept-new-host-key', { skip }, async (t) => {
  const server = await startSshServer(t);
  const other = join(server.dir, 'other_host_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
  const knownHosts = join(server.dir, 'changed_known_hosts');
  const otherKey = (await readFile(`${other}.pub`, 'utf8')).split(' ').slice(0, 2).join(' ');
  await writeFile(knownHosts, `# comment\n[127.0.0.1]:${server.port} ${otherKey}\n`);
  const backend = new SftpBackend({ ...server.options(join(server.dir, 'repo')), knownHostsFile: knownHosts, acceptNewHostKey: true });
  t.after(() => backend.close());
  await assert.rejects(backend.create(), { code: 'E_HOST_KEY', message: /is not the one recorded in .*Someone may be intercepting/ });
  assert.equal((await readFile(knownHosts, 'utf8')).split('\n').length, 3, 'known_hosts is left alone');
});

test('sftp: nothing listening is a transient "unreachable" error; a missing folder is a missing target', { skip }, async (t) => {
  const server = await startSshServer(t);
  const port = await freePort();
  const nobody = new SftpBackend({ ...server.options('/srv/repo'), port });
  await assert.rejects(nobody.read(packHandle(1)), (err: BackendError) => {
    assert.equal(err.code, 'E_UNREACHABLE');
    assert.equal(err.transient, true);
    assert.match(err.message, /refused the connection on port \d+: is the SSH server running/);
    return true;
  });
  await nobody.close();
  const missing = new SftpBackend(server.options(join(server.dir, 'no', 'such', 'folder')));
  await assert.rejects(missing.write(packHandle(1), Buffer.from('x')), { code: 'E_TARGET_MISSING', message: /does not exist on 127\.0\.0\.1/ });
  await assert.rejects(collect(missing.list('index')), { code: 'E_TARGET_MISSING' });
  await missing.close();
});

test('sftp: the connection comes back after the server restarts', { skip }, async (t) => {
  const server = await startSshServer(t);
  const backend = new SftpBackend(server.options(join(server.dir, 'repo')));
  t.after(() => backend.close());
  await backend.create();
  await backend.write(packHandle(1), Buffer.from('before'));
  await server.stop();
  await assert.rejects(backend.read(packHandle(1)), (err: BackendError) => err instanceof BackendError && err.transient);
  await server.start();
  assert.equal((await backend.read(packHandle(1))).toString(), 'before');
});
