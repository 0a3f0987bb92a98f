import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstatSync } from 'node:fs';
import { mkdir, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { STAT_FIELDS } from '../../../src-main/engine/archiver/entryStat.js';
import { FolderLister } from '../../../src-main/engine/archiver/folderLister.js';
import { tempDir } from '../../helpers/tempDir.js';

test('the folder lister gives every entry, sorted bytewise, with exactly what lstat says; a missing folder fails with its code', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'b-file'), 'twelve bytes');
  await utimes(join(dir, 'b-file'), new Date('2020-02-02T02:02:02Z'), new Date('2021-03-03T03:03:03Z'));
  await mkdir(join(dir, 'a-folder'));
  await symlink('b-file', join(dir, 'c-link'));
  execFileSync('mkfifo', [join(dir, 'd-fifo')]);
  // A name that is not UTF-8, and one that sorts before ASCII letters only as bytes.
  const odd = Buffer.from([0x65, 0xff, 0x2e, 0x62, 0x69, 0x6e]);
  await writeFile(Buffer.concat([Buffer.from(`${dir}/`), odd]), '');
  await writeFile(join(dir, 'Z-upper'), '');

  const lister = new FolderLister();
  t.after(() => lister.close());
  const listing = await lister.list(Buffer.from(dir));
  assert.ok('entries' in listing);
  const names = listing.entries.map((e) => e.name);
  assert.deepEqual(names, [...names].sort(Buffer.compare));
  assert.deepEqual(names.map((n) => n.toString('latin1')), ['Z-upper', 'a-folder', 'b-file', 'c-link', 'd-fifo', odd.toString('latin1')]);
  for (const entry of listing.entries) {
    assert.ok(entry.path.equals(Buffer.concat([Buffer.from(`${dir}/`), entry.name])));
    const real = lstatSync(entry.path, { bigint: true });
    assert.ok(entry.stat, entry.name.toString());
    for (const field of STAT_FIELDS) assert.equal(entry.stat[field], real[field], `${entry.name.toString()} ${field}`);
    for (const kind of ['isFile', 'isDirectory', 'isSymbolicLink', 'isFIFO', 'isSocket', 'isCharacterDevice'] as const) assert.equal(entry.stat[kind](), real[kind](), `${entry.name.toString()} ${kind}`);
  }
  const file = listing.entries.find((e) => e.name.toString() === 'b-file');
  assert.equal(file?.stat?.size, 12n);
  assert.equal(file?.stat?.mtimeNs, 1614740583000000000n);

  const only = await lister.list(Buffer.from(dir), Buffer.from('c-link'));
  assert.ok('entries' in only);
  assert.deepEqual(only.entries.map((e) => e.name.toString()), ['c-link']);

  const missing = await lister.list(Buffer.from(join(dir, 'nowhere')));
  assert.ok('failed' in missing);
  assert.equal(missing.failed.code, 'ENOENT');

  // The count, answered between listings: regular files and their bytes, the fifo and the link not included.
  assert.deepEqual(await lister.count([dir], { patterns: [] }, false), { files: 3, bytes: 12 });
});

test('folders asked for at once are each answered with their own listing', async (t) => {
  const dir = await tempDir(t);
  const folders = Array.from({ length: 30 }, (_, i) => join(dir, `f${i}`));
  for (const [i, folder] of folders.entries()) {
    await mkdir(folder);
    for (let j = 0; j <= i % 5; j++) await writeFile(join(folder, `file-${i}-${j}`), 'x'.repeat(i));
  }
  const lister = new FolderLister();
  t.after(() => lister.close());
  const listings = await Promise.all([...folders.map((folder) => lister.list(Buffer.from(folder))), lister.list(Buffer.from(join(dir, 'missing')))]);
  for (const [i, folder] of folders.entries()) {
    const listing = listings[i];
    assert.ok(listing && 'entries' in listing);
    assert.deepEqual(
      listing.entries.map((e) => [e.path.toString(), e.stat?.size]),
      Array.from({ length: (i % 5) + 1 }, (_, j) => [join(folder, `file-${i}-${j}`), BigInt(i)]),
    );
  }
  assert.ok(listings[30] && 'failed' in listings[30]);
});

test('folders listed ahead are bounded by their entries too: the others are asked for as listings are taken', async (t) => {
  const dir = await tempDir(t);
  const folders = Array.from({ length: 12 }, (_, i) => join(dir, `f${String(i).padStart(2, '0')}`));
  for (const [i, folder] of folders.entries()) {
    await mkdir(folder);
    for (let j = 0; j < 40; j++) await writeFile(join(folder, `file-${j}`), `${i}`);
  }
  // Folders of 40 entries against room for about 100 entries: two ahead at a time.
  const lister = new FolderLister({ folders: 1024, entries: 100, least: 2 });
  t.after(() => lister.close());
  const first = await lister.list(Buffer.from(folders[0] as string));
  assert.ok('entries' in first);
  lister.prefetch(folders.slice(1).map((folder) => ({ folder: Buffer.from(folder), extras: { xattrs: false, flags: false } })));
  assert.equal(lister.listedAhead, 2);
  // Taken in the walk's order, or out of it (f07 asked for before its turn is listed alone, not twice).
  for (const folder of [folders[1], folders[7], ...folders.slice(2, 7), ...folders.slice(8)] as string[]) {
    const listing = await lister.list(Buffer.from(folder));
    assert.ok('entries' in listing, folder);
    assert.equal(listing.entries.length, 40);
    assert.ok(listing.entries.every((entry) => entry.stat?.size === BigInt(String(folders.indexOf(folder)).length)), folder);
    assert.ok(lister.listedAhead <= 2, `${lister.listedAhead} ahead`);
  }
  assert.equal(lister.listedAhead, 0);
  // Without the bound, all eleven at once.
  const wide = new FolderLister();
  t.after(() => wide.close());
  await wide.list(Buffer.from(folders[0] as string));
  wide.prefetch(folders.slice(1).map((folder) => ({ folder: Buffer.from(folder), extras: { xattrs: false, flags: false } })));
  assert.equal(wide.listedAhead, 11);
});

test('the count walks nested folders as the backup will: excluded folders and files left out, links and empty folders not counted', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'a/b/c'), { recursive: true });
  await mkdir(join(dir, 'a/skip/deep'), { recursive: true });
  await mkdir(join(dir, 'empty'));
  await writeFile(join(dir, 'a/b/c/one'), '1');
  await writeFile(join(dir, 'a/b/two'), '22');
  await writeFile(join(dir, 'a/skip/deep/no'), 'not counted');
  await writeFile(join(dir, 'a/b/big.log'), 'x'.repeat(100));
  await writeFile(join(dir, 'three'), '333');
  await symlink('three', join(dir, 'link'));
  const lister = new FolderLister();
  t.after(() => lister.close());
  assert.deepEqual(await lister.count([dir], { patterns: ['skip/'] }, false), { files: 4, bytes: 106 });
  assert.deepEqual(await lister.count([dir], { patterns: ['skip/', '*.log'] }, false), { files: 3, bytes: 6 });
  // A source that is a file counts as itself.
  assert.deepEqual(await lister.count([join(dir, 'three'), join(dir, 'a/b')], { patterns: [] }, false), { files: 4, bytes: 106 });
});

test('folders listed on the calling thread (while the listing thread loads) are listed exactly as that thread lists them', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'sub'));
  await writeFile(join(dir, 'tagged'), 'tagged content');
  execFileSync('setfattr', ['-n', 'user.note', '-v', 'kept', join(dir, 'tagged')]);
  await writeFile(join(dir, 'plain'), 'plain');
  await symlink('plain', join(dir, 'link'));
  const extras = { xattrs: true, flags: true };

  const lister = new FolderLister();
  t.after(() => lister.close());
  lister.useThread();
  // Asked for at once, before the thread can have loaded: listed here.
  const [here, alone] = await Promise.all([lister.list(Buffer.from(dir), undefined, extras), lister.list(Buffer.from(dir), Buffer.from('tagged'), extras)]);
  assert.equal(lister.foldersListedHere, 2);
  while (!lister.threadIsReady) await new Promise((resolve) => setTimeout(resolve, 5));
  const [there, aloneThere, missing] = await Promise.all([lister.list(Buffer.from(dir), undefined, extras), lister.list(Buffer.from(dir), Buffer.from('tagged'), extras), lister.list(Buffer.from(join(dir, 'nowhere')))]);
  assert.equal(lister.foldersListedHere, 2, 'once ready, the thread lists');
  assert.ok('entries' in here && 'entries' in there && 'entries' in alone && 'entries' in aloneThere);
  assert.deepEqual(here.entries, there.entries);
  assert.deepEqual(alone.entries, aloneThere.entries);
  assert.deepEqual(here.entries.map((entry) => entry.name.toString()), ['link', 'plain', 'sub', 'tagged']);
  assert.deepEqual(here.entries[3]?.stat?.xattrs?.map((xattr) => [xattr.name, Buffer.from(xattr.value).toString()]), [['user.note', 'kept']]);
  assert.deepEqual(here.digest('salt'), there.digest('salt'));
  assert.ok('failed' in missing && missing.failed.code === 'ENOENT');
});

test('without useThread, folders are listed on the calling thread; a count runs in a thread that stops once it is done', async (t) => {
  const dir = await tempDir(t);
  for (let f = 0; f < 5; f++) {
    await mkdir(join(dir, `f${f}`));
    for (let i = 0; i <= f; i++) await writeFile(join(dir, `f${f}`, `file-${i}`), 'x'.repeat(10 * i));
  }
  const lister = new FolderLister();
  t.after(() => lister.close());
  assert.equal(lister.threadRunning, false);
  lister.prefetch([0, 1, 2, 3, 4].map((f) => ({ folder: Buffer.from(join(dir, `f${f}`)), extras: { xattrs: false, flags: false } })));
  const counting = lister.count([dir], { patterns: [] }, false);
  assert.equal(lister.threadRunning, true);
  const listings = await Promise.all([0, 1, 2, 3, 4].map((f) => lister.list(Buffer.from(join(dir, `f${f}`)))));
  assert.deepEqual(
    listings.map((listing) => ('entries' in listing ? listing.entries.map((entry) => [entry.name.toString(), entry.stat?.size]) : listing.failed)),
    [0, 1, 2, 3, 4].map((f) => Array.from({ length: f + 1 }, (_, i) => [`file-${i}`, BigInt(10 * i)])),
  );
  assert.deepEqual(await counting, { files: 15, bytes: 10 * (0 + 1 + 3 + 6 + 10) });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(lister.threadRunning, false, 'the counting thread stopped');
  assert.equal(lister.foldersListedHere, 5, 'every folder was listed here, the count thread notwithstanding');
  assert.equal(lister.threadIsReady, false);
});
