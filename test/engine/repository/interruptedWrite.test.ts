import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { computeBlobId } from '../../../src-main/engine/crypto/blobId.js';
import type { Repository } from '../../../src-main/engine/repository/repository.js';
import { seededBytes } from '../../helpers/data.js';
import { TEST_PASSWORD, createTestRepository } from '../../helpers/testRepository.js';

const writer = fileURLToPath(new URL('../../fixtures/writeBlobs.js', import.meta.url));
const BLOBS = 48;
/** Killed runs are given far more work than they can finish before the kill, whatever the disk's speed. */
const ENDLESS = 1_000_000;

/** A seeded sequence of delays, so a failure can be replayed. */
function* delays(seed: number): Generator<number> {
  let state = seed;
  for (;;) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    yield 20 + (state % 400);
  }
}

interface WriterRun {
  output: string;
  errors: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

function runWriter(path: string, seed: string, killAfterMs?: number): Promise<WriterRun> {
  const count = killAfterMs === undefined ? BLOBS : ENDLESS;
  const child = spawn(process.execPath, [writer, path, TEST_PASSWORD, String(count), seed], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let errors = '';
  child.stderr.on('data', (chunk: Buffer) => {
    errors += chunk.toString();
  });
  let armed = killAfterMs !== undefined;
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    if (armed && output.includes('ready')) {
      armed = false;
      setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    }
  });
  return new Promise((resolve) => child.once('close', (code, signal) => resolve({ output, errors, code, signal })));
}

/** Everything a finished write promised is intact, and no partial pack is visible. */
async function assertConsistent(repository: Repository): Promise<void> {
  for await (const { name, size } of repository.backend.list('data')) {
    // Complete packs only: every listed pack has an authentic header.
    const header = await repository.readPackHeader(name);
    assert.ok(header.length > 0);
    if (repository.index.hasPack(name)) {
      assert.equal([...repository.index.packs()].find((p) => p.name === name)?.size, size);
    }
  }
  for (const { name } of repository.index.packs()) await repository.backend.stat({ type: 'data', name });
  for (const blob of repository.index.blobs()) await repository.loadBlob(blob.id);
}

test('killing a process mid-write leaves the repository openable and consistent, and a rerun completes', async (t) => {
  const { path, reopen } = await createTestRepository(t, { packSize: 2 * 1024 * 1024, compressionLevel: 0 });
  const delay = delays(20261123);
  let kills = 0;
  let interruptedWrites = 0;
  // Keep killing until at least one kill has landed inside a pack write (a temporary file was left), and at least 6 times.
  while (kills < 6 || (interruptedWrites === 0 && kills < 40)) {
    const run = await runWriter(path, `crash${kills}`, delay.next().value as number);
    assert.equal(run.signal, 'SIGKILL', `the writer was not killed: exit ${run.code}, output ${JSON.stringify(run.output)}, errors ${run.errors}`);
    kills += 1;
    const leftovers = (await readdir(`${path}/data`, { recursive: true })).filter((f) => f.includes('.tmp-'));
    if (leftovers.length > interruptedWrites) interruptedWrites = leftovers.length;
    const repository = await reopen();
    await assertConsistent(repository);
  }
  t.diagnostic(`${kills} kills, ${interruptedWrites} interrupted pack writes`);
  assert.ok(interruptedWrites > 0, 'no kill landed inside a pack write');

  const lastSeed = `crash${kills - 1}`;
  const { output, errors } = await runWriter(path, lastSeed);
  assert.match(output, /done/, errors);
  const repository = await reopen();
  await assertConsistent(repository);
  for (let i = 0; i < BLOBS; i++) {
    const expected = seededBytes(`${lastSeed}-${i}`, 512 * 1024);
    assert.ok((await repository.loadBlob(computeBlobId(repository.blobIdKey, expected))).equals(expected), `blob ${i} after the rerun`);
  }
});
