import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { fstatSync, statSync } from 'node:fs';
import { symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { describeFlags } from '../../../src-main/engine/metadata/fileFlags.js';
import { nativeAddon } from '../../../src-main/engine/nativeAddon.js';
import { closeFile, openForReading } from '../../../src-main/engine/workers/fileOpening.js';
import { seededBytes } from '../../helpers/data.js';
import { tempDir } from '../../helpers/tempDir.js';

const READ = 64 * 1024;

test('a file is opened, statted and read from its start in one call; closed at once when that read was all of it', async (t) => {
  if (process.platform === 'linux') assert.equal(typeof nativeAddon()?.openRead, 'function', 'the addon is built and has openRead');
  const dir = await tempDir(t);
  const block = Buffer.alloc(READ);
  const cases: [name: string, size: number][] = [
    ['empty', 0],
    ['small', 1234],
    ['one short of the read', READ - 1],
    ['exactly the read', READ],
    ['larger than the read', 3 * READ + 17],
  ];
  for (const [name, size] of cases) {
    const path = join(dir, name);
    const content = seededBytes(name, size);
    await writeFile(path, content);
    block.fill(0);
    const file = openForReading(Buffer.from(path), block, READ);
    const real = statSync(path, { bigint: true });
    assert.equal(file.regular, true, name);
    assert.equal(file.size, real.size, name);
    assert.equal(file.mtimeNs, real.mtimeNs, name);
    assert.equal(file.firstRead, Math.min(size, READ), name);
    assert.ok(block.subarray(0, file.firstRead).equals(content.subarray(0, file.firstRead)), `${name}: the bytes read`);
    if (size < READ) {
      assert.equal(file.fd, -1, `${name}: read whole, so closed`);
    } else {
      // A read that filled the block cannot tell the end from more to come: the file stays open to be read on.
      assert.ok(file.fd >= 0, `${name}: left open`);
      assert.equal(fstatSync(file.fd).ino, Number(real.ino), name);
      closeFile(file);
    }
  }

  // No first read asked for (a previous chunk is compared there first): open, nothing read.
  const opened = openForReading(Buffer.from(join(dir, 'small')), block, 0);
  assert.equal(opened.firstRead, 0);
  assert.ok(opened.fd >= 0);
  closeFile(opened);
});

test('what is not a regular file is told as such without waiting, and failures are Node\'s own errors', async (t) => {
  const dir = await tempDir(t);
  const block = Buffer.alloc(READ);
  // A FIFO with no writer: an open that waited for one would hang the test.
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  const fifo = openForReading(Buffer.from(join(dir, 'fifo')), block, READ);
  assert.equal(fifo.regular, false);
  assert.equal(fifo.firstRead, 0);
  assert.equal(fifo.flags, undefined);
  assert.ok(fifo.fd >= 0);
  closeFile(fifo);

  await writeFile(join(dir, 'target'), 'target');
  await symlink('target', join(dir, 'link'));
  assert.throws(() => openForReading(Buffer.from(join(dir, 'link')), block, READ), (err: NodeJS.ErrnoException) => err.code === 'ELOOP' && /open/.test(err.message));
  assert.throws(() => openForReading(Buffer.from(join(dir, 'missing')), block, READ), (err: NodeJS.ErrnoException) => err.code === 'ENOENT' && err.message.includes(join(dir, 'missing')));
  if (process.getuid?.() !== 0) {
    await writeFile(join(dir, 'locked'), 'secret', { mode: 0o000 });
    assert.throws(() => openForReading(Buffer.from(join(dir, 'locked')), block, READ), (err: NodeJS.ErrnoException) => err.code === 'EACCES');
  }
});

test('a regular file\'s flags come with the same call', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'nodump');
  await writeFile(path, 'not for dump');
  const chattr = spawnSync('chattr', ['+d', path], { encoding: 'utf8' });
  if (process.platform !== 'linux' || !nativeAddon()) return t.skip('Linux file flags with the addon');
  if (chattr.error || chattr.status !== 0) return t.skip(`chattr cannot set flags in the temporary folder: ${chattr.error?.message ?? chattr.stderr.trim()}`);
  const file = openForReading(Buffer.from(path), Buffer.alloc(READ), READ);
  assert.equal(file.fd, -1);
  assert.ok(file.flags && describeFlags(file.flags).includes('d'), `flags: ${file.flags ? describeFlags(file.flags) : 'none'}`);
});

test('a file the addon opened is closed by it: a worker thread closing it through Node\'s fs would print a warning', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'large');
  await writeFile(path, seededBytes('large', 2 * READ));
  const module = new URL('../../../src-main/engine/workers/fileOpening.js', import.meta.url).href;
  // In a child process, so that a warning would reach its stderr, not this test runner's.
  const inWorker = `
    import(${JSON.stringify(module)}).then(({ closeFile, openForReading }) => {
      for (let i = 0; i < 3; i++) {
        const file = openForReading(Buffer.from(${JSON.stringify(path)}), Buffer.alloc(${READ}), ${READ});
        if (file.fd < 0) throw new Error('expected the file left open');
        closeFile(file);
      }
      console.log('closed 3');
    });`;
  const script = `
    import { Worker } from 'node:worker_threads';
    const worker = new Worker(${JSON.stringify(inWorker)}, { eval: true });
    await new Promise((resolve, reject) => worker.on('exit', resolve).on('error', reject));`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout.trim(), 'closed 3');
  assert.equal(run.stderr, '');
});
