import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { BackendError, type Backend } from '../../../src-main/engine/backend/backend.js';
import { LocalBackend } from '../../../src-main/engine/backend/localBackend.js';
import { RateLimitedBackend } from '../../../src-main/engine/backend/rateLimitedBackend.js';
import { RetryingBackend, type RetryEvent } from '../../../src-main/engine/backend/retryingBackend.js';
import { S3Backend } from '../../../src-main/engine/backend/s3Backend.js';
import { SftpBackend } from '../../../src-main/engine/backend/sftpBackend.js';
import { FaultyBackend } from '../../fixtures/faultyBackend.js';
import { backendContract, collect, packHandle } from '../../helpers/backendContract.js';
import { seededBytes } from '../../helpers/data.js';
import { assertNoPartialObjects } from '../../helpers/partialObjects.js';
import { assertRepositoryCycle } from '../../helpers/repositoryCycle.js';
import { startS3Server } from '../../helpers/s3Server.js';
import { sshdMissing, startSshServer } from '../../helpers/sshServer.js';
import { tempDir } from '../../helpers/tempDir.js';

/** Enough tries that 30% faults never exhaust them in a test run (0.3^15 per call), with waits of a few ms. */
const PATIENT = { attempts: 15, baseDelayMs: 2, maxDelayMs: 20 };

backendContract('local, 30% faults, retried', async (t) => new RetryingBackend(new FaultyBackend(new LocalBackend(join(await tempDir(t), 'repo')), { failureRate: 0.3, seed: 7 }), PATIENT));

test('transient errors are retried with exponential backoff and full jitter; the retry is reported', async (t) => {
  const faulty = new FaultyBackend(new LocalBackend(join(await tempDir(t), 'repo')), { failureRate: 1 });
  const events: RetryEvent[] = [];
  const backend = new RetryingBackend(faulty, { attempts: 5, baseDelayMs: 10, maxDelayMs: 50, random: () => 0.999, onRetry: (e) => events.push(e) });
  await assert.rejects(backend.stat(packHandle(1)), { code: 'E_UNREACHABLE', message: /injected fault/ });
  assert.equal(faulty.counts.calls, 5);
  assert.deepEqual(
    events.map((e) => [e.operation, e.attempt, e.delayMs]),
    [
      ['stat', 1, 9],
      ['stat', 2, 19],
      ['stat', 3, 39],
      ['stat', 4, 49],
    ],
  );
  const half: number[] = [];
  const jittered = new RetryingBackend(new FaultyBackend(faulty.inner, { failureRate: 1 }), { attempts: 3, baseDelayMs: 100, random: () => 0.5, onRetry: (e) => half.push(e.delayMs) });
  await assert.rejects(jittered.read(packHandle(1)));
  assert.deepEqual(half, [50, 100]);
});

class RefusingBackend extends LocalBackend {
  override async read(): Promise<Buffer> {
    throw new BackendError('E_AUTH', 'The server refused the credentials.');
  }
}

test('permanent errors fail at once, without retries', async (t) => {
  const counting = new FaultyBackend(new LocalBackend(join(await tempDir(t), 'unplugged')), { failureRate: 0 });
  let retries = 0;
  const backend = new RetryingBackend(counting, { baseDelayMs: 1, onRetry: () => (retries += 1) });
  await assert.rejects(backend.read(packHandle(1)), { code: 'E_TARGET_MISSING' });
  const repo = new LocalBackend(join(await tempDir(t), 'repo'));
  await repo.create();
  await assert.rejects(new RetryingBackend(repo, { onRetry: () => (retries += 1) }).read(packHandle(1)), { code: 'E_NOT_FOUND' });
  await assert.rejects(new RetryingBackend(new RefusingBackend(join(await tempDir(t), 'r')), { onRetry: () => (retries += 1) }).read(packHandle(1)), { code: 'E_AUTH' });
  assert.equal(counting.counts.calls, 1);
  assert.equal(retries, 0);
});

test('a listing that breaks off part-way resumes and reports every name exactly once', async (t) => {
  const local = new LocalBackend(join(await tempDir(t), 'repo'));
  await local.create();
  for (let i = 0; i < 30; i++) await local.write(packHandle(i + 1), Buffer.alloc(i));
  const faulty = new FaultyBackend(local, { failureRate: 0.6, seed: 3 });
  for (let i = 0; i < 10; i++) {
    const listed = await collect(new RetryingBackend(faulty, PATIENT).list('data'));
    assert.equal(listed.length, 30);
    assert.equal(new Set(listed.map((o) => o.name)).size, 30);
  }
  assert.ok(faulty.counts.before > 3, 'listings broke off');
});

test('the upload limit holds the average rate; reads are not limited', async (t) => {
  const local = new LocalBackend(join(await tempDir(t), 'repo'));
  await local.create();
  const limited = new RateLimitedBackend(local, 512 * 1024);
  const started = Date.now();
  // 2 MiB at 512 KiB/s with a one-second burst: at least 3 s.
  for (let i = 0; i < 8; i++) await limited.write(packHandle(i + 1), seededBytes(`p${i}`, 256 * 1024));
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 2900 && elapsed < 6000, `took ${elapsed} ms`);
  const reading = Date.now();
  for (let i = 0; i < 8; i++) await limited.read(packHandle(i + 1));
  assert.ok(Date.now() - reading < 1000);
});

async function cycleWithFaults(t: TestContext, raw: () => Backend, folder: string | undefined): Promise<void> {
  const faults: FaultyBackend[] = [];
  await assertRepositoryCycle(
    t,
    () => {
      const faulty = new FaultyBackend(raw(), { failureRate: 0.3, seed: faults.length + 11 });
      faults.push(faulty);
      return new RetryingBackend(faulty, PATIENT);
    },
    { packSize: 64 * 1024 },
  );
  const total = faults.reduce((sum, f) => ({ calls: sum.calls + f.counts.calls, midway: sum.midway + f.counts.midway, failed: sum.failed + f.counts.before + f.counts.midway + f.counts.after }), { calls: 0, midway: 0, failed: 0 });
  assert.ok(total.failed > 10 && total.midway > 0, `faults were injected: ${JSON.stringify(total)}`);
  const backend = raw();
  try {
    await assertNoPartialObjects(backend, folder);
  } finally {
    await backend.close();
  }
}

test('with 30% of calls failing, backup, restore and check succeed on a local target, and no partial object is visible', async (t) => {
  const folder = join(await tempDir(t), 'repo');
  await cycleWithFaults(t, () => new LocalBackend(folder), folder);
});

test('with 30% of calls failing, the same on SFTP', { skip: sshdMissing() ?? false }, async (t) => {
  const server = await startSshServer(t);
  const folder = join(server.dir, 'repo');
  await cycleWithFaults(t, () => new SftpBackend(server.options(folder)), folder);
});

test('with 30% of calls failing, the same on S3', async (t) => {
  const server = await startS3Server(t);
  await cycleWithFaults(t, () => new S3Backend(server.options('faults')), undefined);
});
