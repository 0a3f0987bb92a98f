import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstatSync } from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { PackedStat, STAT_FIELDS } from '../../../src-main/engine/archiver/entryStat.js';
import { joinNames, lstatEntries } from '../../../src-main/engine/archiver/folderStats.js';
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
