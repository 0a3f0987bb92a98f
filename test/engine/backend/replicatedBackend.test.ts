import assert from 'node:assert/strict';
import { readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { objectPath } from '../../../src-main/engine/backend/backend.js';
import { LocalBackend } from '../../../src-main/engine/backend/localBackend.js';
import { ReplicatedBackend, type ReplicationEvent } from '../../../src-main/engine/backend/replicatedBackend.js';
import { RetryingBackend } from '../../../src-main/engine/backend/retryingBackend.js';
import { SftpBackend } from '../../../src-main/engine/backend/sftpBackend.js';
import { backup } from '../../../src-main/engine/archiver/backup.js';
import { compareTargets, repairTargets } from '../../../src-main/engine/maintenance/repair.js';
import { checkRepository } from '../../../src-main/engine/maintenance/check.js';
import { Repository } from '../../../src-main/engine/repository/repository.js';
import { restore } from '../../../src-main/engine/restorer/restore.js';
import { backendContract, collect, packHandle } from '../../helpers/backendContract.js';
import { flipBit } from '../../helpers/data.js';
import { assertSameTree, buildAwkwardTree, describeTree } from '../../helpers/fileTree.js';
import { sshdMissing, startSshServer } from '../../helpers/sshServer.js';
import { tempDir } from '../../helpers/tempDir.js';
import { FAST_KDF, TEST_PASSWORD } from '../../helpers/testRepository.js';

backendContract('replicated (two local folders)', async (t) => {
  const dir = await tempDir(t);
  return new ReplicatedBackend([new LocalBackend(join(dir, 'a')), new LocalBackend(join(dir, 'b'))]);
});

test('reads fall back to the next target when an object is missing or rejected there, and say so', async (t) => {
  const dir = await tempDir(t);
  const events: ReplicationEvent[] = [];
  const [a, b] = [new LocalBackend(join(dir, 'a')), new LocalBackend(join(dir, 'b'))];
  const backend = new ReplicatedBackend([a, b], (e) => events.push(e));
  await backend.create();
  await backend.write(packHandle(1), Buffer.from('good bytes'));
  await backend.write(packHandle(2), Buffer.from('good bytes'));
  await unlink(join(dir, 'a', objectPath(packHandle(1))));
  await writeFile(join(dir, 'a', objectPath(packHandle(2))), 'evil bytes');
  assert.equal((await backend.read(packHandle(1))).toString(), 'good bytes');
  const accept = (bytes: Buffer) => {
    if (!bytes.toString().startsWith('good')) throw new Error('authentication failed');
    return bytes.toString();
  };
  assert.equal(await backend.readChecked(packHandle(2), undefined, accept), 'good bytes');
  assert.deepEqual(
    events.map((e) => (e.kind === 'read-fallback' ? [e.object.slice(0, 8), e.failed, e.reason, e.readFrom] : [e.kind])),
    [
      ['data/000', a.location, 'missing', b.location],
      ['data/000', a.location, 'damaged: authentication failed', b.location],
    ],
  );
  await writeFile(join(dir, 'b', objectPath(packHandle(2))), 'evil too');
  await assert.rejects(backend.readChecked(packHandle(2), undefined, accept), /authentication failed/);
  assert.deepEqual((await collect(backend.list('data'))).map((o) => o.name).sort(), [packHandle(1).name, packHandle(2).name]);
});

test('a target that fails is marked down and behind; writes go on to the others; all down is an error', async (t) => {
  const dir = await tempDir(t);
  const events: ReplicationEvent[] = [];
  const a = new LocalBackend(join(dir, 'a'));
  const b = new LocalBackend(join(dir, 'b'));
  const backend = new ReplicatedBackend([a, b], (e) => events.push(e));
  await backend.create();
  await backend.write(packHandle(1), Buffer.from('one'));
  await rm(join(dir, 'b'), { recursive: true });
  await backend.write(packHandle(2), Buffer.from('two'));
  await backend.write(packHandle(3), Buffer.from('three'));
  const [sa, sb] = backend.status();
  assert.deepEqual([sa?.reachable, sa?.behind], [true, false]);
  assert.deepEqual([sb?.reachable, sb?.behind], [false, true]);
  assert.match(sb?.lastError ?? '', /does not exist/);
  assert.deepEqual(events.map((e) => e.kind), ['target-down']);
  assert.deepEqual((await collect(a.list('data'))).length, 3);
  await rm(join(dir, 'a'), { recursive: true });
  await assert.rejects(backend.write(packHandle(4), Buffer.from('four')), { code: 'E_UNREACHABLE', message: /No target of the repository could be used/ });
});

test('a repository on SFTP and a folder: damage on one is read around, found per target, and repaired', { skip: sshdMissing() ?? false }, async (t) => {
  const server = await startSshServer(t);
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await buildAwkwardTree(source, { smallFiles: 20 });
  const remoteFolder = join(server.dir, 'repo');
  const targets = () => [new RetryingBackend(new SftpBackend(server.options(remoteFolder))), new LocalBackend(join(dir, 'local'))];
  const events: ReplicationEvent[] = [];
  const created = await Repository.init(new ReplicatedBackend(targets()), { password: TEST_PASSWORD, kdf: FAST_KDF, packSize: 64 * 1024 });
  const { snapshot } = await backup(created, { paths: [source], cacheDir: join(dir, 'cache') });
  await created.close();

  const packs = (await collect(new LocalBackend(join(dir, 'local')).list('data'))).map((p) => p.name).sort();
  assert.ok(packs.length >= 4);
  await unlink(join(remoteFolder, objectPath({ type: 'data', name: packs[0] as string })));
  const corrupt = join(remoteFolder, objectPath({ type: 'data', name: packs[1] as string }));
  await writeFile(corrupt, flipBit(await readFile(corrupt), 40));

  const repository = await Repository.open(new ReplicatedBackend(targets(), (e) => events.push(e)), TEST_PASSWORD);
  const target = join(dir, 'restored');
  assert.deepEqual((await restore(repository, { snapshot, path: source, target })).problems, []);
  assertSameTree(await describeTree(target), await describeTree(source));
  const reasons = events.flatMap((e) => (e.kind === 'read-fallback' ? [`${e.reason.split(':')[0]} on ${e.failed.startsWith('sftp') ? 'sftp' : 'local'}`] : []));
  assert.ok(reasons.includes('missing on sftp') && reasons.includes('damaged on sftp'), reasons.join(', '));

  const [remote, local] = targets() as [RetryingBackend, LocalBackend];
  const compared = await compareTargets([remote, local]);
  assert.deepEqual(compared.map((c) => [c.missing, c.missingByType]), [[1, { data: 1 }], [0, {}]]);
  const remoteRepository = await Repository.open(remote, TEST_PASSWORD);
  assert.ok((await checkRepository(remoteRepository, { readData: { kind: 'all' } })).errors.length >= 2);

  const result = await repairTargets(repository, [remote, local]);
  assert.deepEqual(result.targets.map((r) => [r.copied, r.replaced]), [[1, 1], [0, 0]]);
  assert.deepEqual(result.lost, []);
  assert.deepEqual((await compareTargets([remote, local])).map((c) => c.missing), [0, 0]);
  await remoteRepository.reloadIndex();
  assert.deepEqual((await checkRepository(remoteRepository, { readData: { kind: 'all' } })).errors, []);
  await remoteRepository.close();
  await repository.close();
  await local.close();
});

test('every data pack damaged on the first target: a restore (batched small files and large ones) reads around all of it', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await buildAwkwardTree(source, { smallFiles: 300 });
  const events: ReplicationEvent[] = [];
  const backend = new ReplicatedBackend([new LocalBackend(join(dir, 'a')), new LocalBackend(join(dir, 'b'))], (e) => events.push(e));
  const repository = await Repository.init(backend, { password: TEST_PASSWORD, kdf: FAST_KDF, packSize: 256 * 1024 });
  const { snapshot } = await backup(repository, { paths: [source], cacheDir: join(dir, 'cache') });
  let damaged = 0;
  for (const blob of repository.index.blobs()) {
    if (blob.type !== 'data') continue;
    const file = join(dir, 'a', objectPath({ type: 'data', name: blob.pack }));
    await writeFile(file, flipBit(await readFile(file), blob.offset + 1));
    damaged += 1;
  }
  assert.ok(damaged > 300);
  const target = join(dir, 'restored');
  const result = await restore(repository, { snapshot, target });
  assert.deepEqual(result.problems, []);
  assertSameTree(await describeTree(join(target, source)), await describeTree(source));
  assert.ok(events.some((e) => e.kind === 'read-fallback'), 'the fallback was reported');
});
