import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstatSync } from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { PackedStat, STAT_FIELDS } from '../../../src-main/engine/archiver/entryStat.js';
import { joinNames, lstatEntries, readEntries } from '../../../src-main/engine/archiver/folderStats.js';
import { nativeAddon } from '../../../src-main/engine/nativeAddon.js';
import { tempDir } from '../../helpers/tempDir.js';

test('a folder\'s entries are statted in one call of the addon, field for field as Node\'s lstat, and a missing one fails with Node\'s own error', async (t) => {
  if (process.platform === 'linux') assert.equal(typeof nativeAddon()?.lstatAt, 'function', 'the addon is built and has lstatAt');
  const dir = await tempDir(t);
  await writeFile(join(dir, 'file'), 'twelve bytes');
  await mkdir(join(dir, 'folder'));
  await symlink('file', join(dir, 'link'));
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  if (process.getuid?.() === 0) execFileSync('mknod', [join(dir, 'null'), 'c', '1', '3']);
  const odd = Buffer.from([0x65, 0xff, 0x2e, 0x62]);
  await writeFile(Buffer.concat([Buffer.from(`${dir}/`), odd]), 'odd');
  const names = [...['file', 'folder', 'link', 'fifo', 'missing', ...(process.getuid?.() === 0 ? ['null'] : [])].map((n) => Buffer.from(n)), odd];

  const { stats, errors } = lstatEntries(Buffer.from(dir), names, joinNames(names));
  for (const [i, name] of names.entries()) {
    const path = Buffer.concat([Buffer.from(`${dir}/`), name]);
    if (name.toString() === 'missing') {
      assert.equal((errors[i] as NodeJS.ErrnoException | undefined)?.code, 'ENOENT');
      assert.match(String(errors[i]?.message), /lstat/);
      continue;
    }
    assert.equal(errors[i], undefined, name.toString());
    const real = lstatSync(path, { bigint: true });
    const packed = PackedStat.at(stats, i);
    for (const field of STAT_FIELDS) assert.equal(packed[field], real[field], `${name.toString()} ${field}`);
  }
});

test('a folder is read in one call of the addon: every entry but . and .., in Buffer.compare\'s order, each with Node\'s lstat; a folder that cannot be read fails with Node\'s own error', async (t) => {
  if (process.platform === 'linux') assert.equal(typeof nativeAddon()?.listAt, 'function', 'the addon is built and has listAt');
  const dir = await tempDir(t);
  // Names whose order tells a bytewise sort from others: a name before the longer ones it begins, bytes
  // above 0x7f after ASCII (unsigned), a name that is not UTF-8, punctuation on either side of '/'.
  const names = ['b', 'b-x', 'b0', 'b.txt', 'B', 'a', 'é', 'z~', '.hidden', '..dots', '...'].map((n) => Buffer.from(n));
  names.push(Buffer.from([0x65, 0xff, 0x2e, 0x62]), Buffer.from([0x62, 0x80]));
  for (const [i, name] of names.entries()) {
    const path = Buffer.concat([Buffer.from(`${dir}/`), name]);
    if (i % 3 === 0) await mkdir(path);
    else await writeFile(path, 'x'.repeat(i));
  }
  await symlink('b', join(dir, 'link'));
  names.push(Buffer.from('link'));
  const expected = [...names].sort(Buffer.compare);

  const { joined, ends, stats, errors } = readEntries(Buffer.from(dir));
  const read = [...ends].map((end, i) => joined.subarray(i === 0 ? 0 : ends[i - 1], end));
  assert.deepEqual(read.map((n) => n.toString('hex')), expected.map((n) => n.toString('hex')));
  for (const [i, name] of read.entries()) {
    assert.equal(errors[i], undefined, name.toString());
    const real = lstatSync(Buffer.concat([Buffer.from(`${dir}/`), name]), { bigint: true });
    const packed = PackedStat.at(stats, i);
    for (const field of STAT_FIELDS) assert.equal(packed[field], real[field], `${name.toString()} ${field}`);
  }
  // Its names are a Buffer of their own, not a view of Node's shared pool: the listing thread transfers it.
  assert.equal(joined.byteOffset, 0);
  assert.equal(joined.buffer.byteLength, joined.byteLength);

  const empty = join(dir, 'b');
  assert.equal(readEntries(Buffer.from(empty)).ends.length, 0);
  assert.throws(() => readEntries(Buffer.from(join(dir, 'missing'))), (err: NodeJS.ErrnoException) => err.code === 'ENOENT' && /scandir/.test(err.message));
  assert.throws(() => readEntries(Buffer.from(join(dir, 'b-x'))), (err: NodeJS.ErrnoException) => err.code === 'ENOTDIR');
});
