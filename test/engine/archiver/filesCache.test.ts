import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { backup } from '../../../src-main/engine/archiver/backup.js';
import { FilesCache, type CachedFile } from '../../../src-main/engine/archiver/filesCache.js';
import { seededBytes } from '../../helpers/data.js';
import { tempDir } from '../../helpers/tempDir.js';
import { createTestRepository } from '../../helpers/testRepository.js';

const file = (n: number): CachedFile => ({
  size: 1000 + n,
  mtimeNs: -1_234_567_890_123n + BigInt(n),
  ctimeNs: 1_733_400_000_123_456_789n,
  inode: 2n ** 63n + BigInt(n),
  content: [Buffer.alloc(32, n), Buffer.alloc(32, n + 1)],
});

function rows(folder: string): number {
  const db = new Database(join(folder, 'files.sqlite'), { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM folders').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

test('the files cache keeps a folder in one row, forgets names no longer listed, and reads every field back', async (t) => {
  const dir = await tempDir(t);
  const cache = new FilesCache(dir);
  const docs = cache.folder(Buffer.from('/home/ann/docs'));
  assert.equal(docs.get(Buffer.from('a.txt')), undefined);
  // A name that is not UTF-8 survives: names are bytes.
  const odd = Buffer.from([0x66, 0xff, 0x2e, 0x74]);
  docs.set(Buffer.from('a.txt'), file(1));
  docs.set(odd, file(2));
  docs.set(Buffer.from('gone.txt'), file(3));
  cache.save(docs);
  cache.save(cache.folder(Buffer.from('/home/ann/untouched')));
  cache.close();
  assert.equal(rows(dir), 1, 'one row for the folder whose files were read, none for the other');

  const again = new FilesCache(dir);
  const read = again.folder(Buffer.from('/home/ann/docs'));
  assert.deepEqual(read.get(Buffer.from('a.txt')), file(1));
  assert.deepEqual(read.get(odd), file(2));
  // The next backup reads b.txt, finds a.txt unstable (forgotten) and gone.txt no longer listed.
  read.set(Buffer.from('b.txt'), file(4));
  read.set(Buffer.from('a.txt'), undefined);
  again.save(read, new Set(['a.txt', 'b.txt', odd.toString('latin1')]));
  again.close();

  const third = new FilesCache(dir).folder(Buffer.from('/home/ann/docs'));
  assert.equal(third.get(Buffer.from('a.txt')), undefined);
  assert.equal(third.get(Buffer.from('gone.txt')), undefined);
  assert.deepEqual(third.get(Buffer.from('b.txt')), file(4));
  assert.deepEqual(third.get(odd), file(2));
});

test('a row rewritten after one change keeps every other file as it was, and a row whose records overrun it reads as empty', async (t) => {
  const dir = await tempDir(t);
  const cache = new FilesCache(dir);
  const folder = cache.folder(Buffer.from('/many'));
  for (let n = 0; n < 200; n++) folder.set(Buffer.from(`f${n}`), file(n));
  cache.save(folder);
  cache.close();
  const again = new FilesCache(dir);
  const read = again.folder(Buffer.from('/many'));
  read.set(Buffer.from('f7'), file(1000));
  read.set(Buffer.from('f8'), undefined);
  again.save(read);
  again.close();
  const third = new FilesCache(dir).folder(Buffer.from('/many'));
  for (let n = 0; n < 200; n++) assert.deepEqual(third.get(Buffer.from(`f${n}`)), n === 7 ? file(1000) : n === 8 ? undefined : file(n), `f${n}`);

  // A chunk count that runs past the row's end: nothing of it is trusted.
  const db = new Database(join(dir, 'files.sqlite'));
  const row = Buffer.from((db.prepare('SELECT files FROM folders').get() as { files: Buffer }).files);
  row.writeUInt32LE(0xffff, 4 + 2 + 'f0'.length + 32);
  db.prepare('UPDATE folders SET files = ?').run(row);
  db.close();
  const damaged = new FilesCache(dir).folder(Buffer.from('/many'));
  assert.equal(damaged.get(Buffer.from('f0')), undefined);
  assert.equal(damaged.get(Buffer.from('f100')), undefined);
});

test('two caches open on one folder (two backups at once): each writes while the other is between reads, and reads what the other wrote once it has written', async (t) => {
  const dir = await tempDir(t);
  const first = new FilesCache(dir);
  const second = new FilesCache(dir);
  // The first looks up a folder: its read transaction is open from here until it writes.
  const a = first.folder(Buffer.from('/a'));
  assert.equal(a.get(Buffer.from('x')), undefined);
  const b = second.folder(Buffer.from('/b'));
  b.set(Buffer.from('y'), file(2));
  second.save(b);
  second.commit();
  // Its reads are still in the transaction begun before that write.
  assert.equal(first.folder(Buffer.from('/b')).get(Buffer.from('y')), undefined);
  a.set(Buffer.from('x'), file(1));
  first.save(a);
  first.commit();
  assert.deepEqual(first.folder(Buffer.from('/b')).get(Buffer.from('y')), file(2), 'after its own write, it reads afresh');
  assert.deepEqual(second.folder(Buffer.from('/a')).get(Buffer.from('x')), file(1));
  first.close();
  second.close();
  assert.equal(rows(dir), 2);
});

test('a files cache of the row-per-file schema is upgraded, and a damaged row reads as empty', async (t) => {
  const dir = await tempDir(t);
  const old = new Database(join(dir, 'files.sqlite'));
  old.exec('CREATE TABLE files (path BLOB PRIMARY KEY, size INTEGER NOT NULL, mtime_ns TEXT NOT NULL, ctime_ns TEXT NOT NULL, inode TEXT NOT NULL, content BLOB NOT NULL) WITHOUT ROWID');
  old.pragma('user_version = 1');
  old.close();
  const cache = new FilesCache(dir);
  const folder = cache.folder(Buffer.from('/x'));
  folder.set(Buffer.from('f'), file(5));
  cache.save(folder);
  cache.close();
  const db = new Database(join(dir, 'files.sqlite'));
  assert.equal(db.pragma('user_version', { simple: true }), 3);
  // Cut short: the count says one file, the bytes end inside its chunk ids.
  const row = (db.prepare('SELECT files FROM folders').get() as { files: Buffer }).files;
  db.prepare('UPDATE folders SET files = ?').run(row.subarray(0, row.length - 10));
  db.close();
  assert.equal(new FilesCache(dir).folder(Buffer.from('/x')).get(Buffer.from('f')), undefined);
});

test('a folder added to a backup is read; the folders backed up before come from the files cache, unread', async (t) => {
  const dir = await tempDir(t);
  const cacheDir = join(dir, 'cache');
  for (const name of ['a', 'b']) {
    await mkdir(join(dir, name, 'sub'), { recursive: true });
    for (let i = 0; i < 40; i++) await writeFile(join(dir, name, i % 2 ? 'sub' : '', `f${i}`), seededBytes(`${name}${i}`, 3000 + i));
  }
  const { repository } = await createTestRepository(t);
  const first = await backup(repository, { paths: [join(dir, 'a')], cacheDir });
  assert.equal(first.snapshot.summary.filesRead, 40);
  // Other paths: no parent snapshot, so only the files cache can tell that a/ is unchanged.
  const second = await backup(repository, { paths: [join(dir, 'a'), join(dir, 'b')], cacheDir });
  assert.equal(second.snapshot.parent, undefined);
  assert.equal(second.snapshot.summary.filesRead, 40, 'only b/ is read');
  assert.equal(second.snapshot.summary.filesUnchanged, 40);
  // And a file source is remembered in its folder's row too.
  const third = await backup(repository, { paths: [join(dir, 'b', 'f0')], cacheDir });
  assert.equal(third.snapshot.summary.filesRead, 0);
  assert.equal(rows(cacheDir), 4, 'a, a/sub, b, b/sub');
});
