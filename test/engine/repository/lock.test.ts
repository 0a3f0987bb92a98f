import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createTestRepository, TEST_PASSWORD } from '../../helpers/testRepository.js';

const holdLockScript = fileURLToPath(new URL('../../fixtures/holdLock.js', import.meta.url));

test('shared locks coexist; an exclusive lock excludes everything else', async (t) => {
  const { repository, reopen } = await createTestRepository(t);
  const other = await reopen();
  const shared1 = await repository.lock(false);
  const shared2 = await other.lock(false);
  await assert.rejects(other.lock(true), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'E_LOCKED');
    assert.match(err.message, /in use: a shared lock is held by .* \(pid \d+\)/);
    assert.match(err.message, /hindsight unlock/);
    return true;
  });
  await shared1.release();
  await shared2.release();
  const exclusive = await repository.lock(true);
  await assert.rejects(other.lock(false), { code: 'E_LOCKED', message: /an exclusive lock/ });
  await exclusive.release();
  const again = await other.lock(false);
  await again.release();
  assert.deepEqual((await repository.listLocks()).locks, []);
});

test('overlapping shared withLock calls hold one lock together, released when the last ends; the next call takes its own', async (t) => {
  const { repository, reopen } = await createTestRepository(t);
  const other = await reopen();
  const lockIds = async () => (await repository.listLocks()).locks.map((l) => l.id);
  let finishFirst!: () => void;
  const firstHeld = new Promise<string[]>((resolve) => {
    void repository.withLock(false, async () => {
      resolve(await lockIds());
      await new Promise<void>((done) => (finishFirst = done));
    });
  });
  const held = await firstHeld;
  assert.equal(held.length, 1);
  // A second call while the first runs joins its lock; the first ends meanwhile, and the lock stays for the second.
  const second = repository.withLock(false, async () => {
    finishFirst();
    await sleep(50);
    return lockIds();
  });
  assert.deepEqual(await second, held);
  assert.deepEqual(await lockIds(), [], 'released when the last call ended');
  // Nothing lingers: an exclusive lock is free at once, and a later shared call takes a new lock.
  await (await other.lock(true)).release();
  const later = await repository.withLock(false, lockIds);
  assert.equal(later.length, 1);
  assert.notDeepEqual(later, held);
  // A failure to lock reaches every call that joined it, and the next call tries afresh.
  const exclusive = await other.lock(true);
  const refused = await Promise.allSettled([repository.withLock(false, async () => 1), repository.withLock(false, async () => 2)]);
  assert.deepEqual(refused.map((r) => r.status === 'rejected' && (r.reason as { code?: string }).code), ['E_LOCKED', 'E_LOCKED']);
  await exclusive.release();
  assert.equal(await repository.withLock(false, async () => 3), 3);
  assert.deepEqual(await lockIds(), []);
});

test('a held lock refreshes its heartbeat and stays live; a silent one goes stale', async (t) => {
  const timing = { staleAfterMs: 400, refreshEveryMs: 100 };
  const { repository, reopen, path } = await createTestRepository(t, {}, { lockTiming: timing });
  const other = await reopen(TEST_PASSWORD, { lockTiming: timing });
  const held = await repository.lock(true);
  const firstId = held.lockId;
  await sleep(700);
  assert.notEqual(held.lockId, firstId, 'the heartbeat should have rewritten the lock');
  // Old lock files are deleted: the folder settles on the current one (a rewrite may be in flight at any moment).
  let files: string[] = [];
  for (let i = 0; i < 50; i++) {
    files = (await readdir(join(path, 'locks'))).filter((name) => !name.startsWith('.tmp-'));
    if (files.length === 1 && files[0] === held.lockId) break;
    await sleep(10);
  }
  assert.deepEqual(files, [held.lockId]);
  await assert.rejects(other.lock(true), { code: 'E_LOCKED' });
  held.assertHeld();
  await held.release();

  // Someone else removing our lock is noticed at the next heartbeat.
  const victim = await repository.lock(false);
  await other.unlock(true);
  await sleep(300);
  assert.throws(() => victim.assertHeld(), { code: 'E_LOCK_LOST' });
  await victim.release();
});

test('a lock whose process died is stale, does not block, and unlock removes only it', async (t) => {
  const { repository, path } = await createTestRepository(t);
  const child = spawn(process.execPath, [holdLockScript, path, TEST_PASSWORD, 'exclusive'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString())));
  assert.match(ready, /locked/);
  await assert.rejects(repository.lock(false), { code: 'E_LOCKED' });
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));

  const live = await repository.lock(false);
  const { locks } = await repository.listLocks();
  assert.equal(locks.length, 2);
  assert.equal(locks.find((l) => l.exclusive)?.stale, true);
  const removed = await repository.unlock();
  assert.equal(removed.length, 1);
  assert.equal(removed[0]?.exclusive, true);
  assert.deepEqual((await repository.listLocks()).locks.map((l) => l.id), [live.lockId]);
  await live.release();
});
