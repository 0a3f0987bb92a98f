import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readdir, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { backup } from '../../../src-main/engine/archiver/backup.js';
import { FilesCache } from '../../../src-main/engine/archiver/filesCache.js';
import { FolderChecker, listingDigest } from '../../../src-main/engine/archiver/folderCheck.js';
import { FolderLister } from '../../../src-main/engine/archiver/folderLister.js';
import { PackedStat } from '../../../src-main/engine/archiver/entryStat.js';
import { decodeFolderRecord } from '../../../src-main/engine/archiver/folderRecord.js';
import { listFolder } from '../../../src-main/engine/archiver/listFolder.js';
import type { ListReply, UnchangedSubtree } from '../../../src-main/engine/workers/walkWorker.js';
import { tempDir } from '../../helpers/tempDir.js';
import { createTestRepository } from '../../helpers/testRepository.js';

const SALT = 'settings of this test';

/** What a subtree holds, as a record-making backup would count it. */
type Totals = Omit<UnchangedSubtree, 'tree'> & { readonly tree: Buffer };

/**
 * Records `folder` and every folder below it in `cache` as a backup would have (FolderRecord): its listing's
 * digest, a tree id of its own, its files, bytes and other entries, and its subfolders' trees. Returns the
 * subtree's totals, what the checker must answer for it while nothing changes.
 */
function record(cache: FilesCache, folder: string): Totals {
  const listed = listFolder({ id: 0, folder: Buffer.from(folder).toString('latin1'), xattrs: false, flags: false });
  assert.ok('names' in listed);
  const totals = { tree: createHash('sha256').update(folder).digest(), files: 0, bytes: 0, others: 0, dirs: 0, folders: 1 };
  const own = { files: 0, bytes: 0, others: 0 };
  const children: { index: number; walked: boolean; tree: Buffer }[] = [];
  for (let index = 0; index < listed.ends.length; index += 1) {
    const start = index === 0 ? 0 : (listed.ends[index - 1] as number);
    const name = Buffer.from(listed.names.subarray(start, listed.ends[index])).toString();
    const stat = PackedStat.at(listed.stats, index);
    if (stat.isDirectory()) {
      const below = record(cache, join(folder, name));
      children.push({ index, walked: true, tree: below.tree });
      totals.files += below.files;
      totals.bytes += below.bytes;
      totals.others += below.others;
      totals.dirs += below.dirs + 1;
      totals.folders += below.folders;
    } else if (stat.isFile()) {
      own.files += 1;
      own.bytes += Number(stat.size);
    } else own.others += 1;
  }
  totals.files += own.files;
  totals.bytes += own.bytes;
  totals.others += own.others;
  cache.saveRecord(Buffer.from(folder), { key: listingDigest(SALT, listed, false) as Buffer, tree: totals.tree, ...own, children });
  return totals;
}

/** root/{top.txt, a/{a.txt, a1/{x.txt}, a2/{y.txt, link}}, b/{b.txt, deep/er/{z.txt}}} */
async function makeTree(root: string): Promise<void> {
  for (const folder of ['a/a1', 'a/a2', 'b/deep/er']) await mkdir(join(root, folder), { recursive: true });
  const files: [string, string][] = [['top.txt', 'top'], ['a/a.txt', 'aa'], ['a/a1/x.txt', 'x'.repeat(100)], ['a/a2/y.txt', 'y'.repeat(7)], ['b/b.txt', 'bb'], ['b/deep/er/z.txt', 'z'.repeat(40)]];
  for (const [path, content] of files) await writeFile(join(root, path), content);
  await symlink('y.txt', join(root, 'a/a2/link'));
}

/** The checker over `cache`'s records, counting the records it reads. */
function checkerOf(cache: FilesCache, budget?: number): { checker: FolderChecker; reads: string[] } {
  const reads: string[] = [];
  const checker = new FolderChecker((path) => {
    reads.push(path.toString());
    return cache.recordRow(path);
  }, budget);
  return { checker, reads };
}

function ask(checker: FolderChecker, folder: string, tree: Buffer): ListReply {
  return checker.answer({ id: 7, folder: Buffer.from(folder).toString('latin1'), xattrs: false, flags: false, expect: { tree: tree.toString('latin1'), salt: SALT } });
}

function unchangedOf(reply: ListReply): Totals | undefined {
  return 'unchanged' in reply ? { ...reply.unchanged, tree: Buffer.from(reply.unchanged.tree) } : undefined;
}

test('a folder whose whole subtree is as recorded is answered as its tree and its counts; a change deep down is found, and each folder is listed once', async (t) => {
  const dir = await tempDir(t);
  const root = join(dir, 'root');
  await makeTree(root);
  const cache = new FilesCache(join(dir, 'cache'));
  t.after(() => cache.close());
  const totals = record(cache, root);
  cache.commit();
  assert.deepEqual(totals, { tree: totals.tree, files: 6, bytes: 3 + 2 + 100 + 7 + 2 + 40, others: 1, dirs: 6, folders: 7 });

  const { checker, reads } = checkerOf(cache);
  assert.deepEqual(unchangedOf(ask(checker, root, totals.tree)), totals);
  assert.equal(reads.length, 7, 'every folder looked at once');

  // Another tree expected (the parent snapshot is not the one recorded): no record, only the digest.
  const other = ask(checker, root, Buffer.alloc(32, 1));
  assert.ok('names' in other && other.checked);
  assert.equal(other.checked.record, undefined);
  assert.equal(other.checked.verdicts, undefined);
  assert.ok(Buffer.from(other.checked.key as Uint8Array).equals(decodeFolderRecord(cache.recordRow(Buffer.from(root)))?.key as Buffer));

  // A file in a/a1 gets another modification time: a1's listing changes, and so a and the root are not unchanged.
  await utimes(join(root, 'a/a1/x.txt'), new Date('2020-01-01T00:00:00Z'), new Date('2020-01-01T00:00:00Z'));
  reads.length = 0;
  const top = ask(checker, root, totals.tree);
  assert.ok('names' in top && top.checked?.verdicts, 'the root is listed as recorded, with verdicts on its subfolders');
  const rootRecord = decodeFolderRecord(cache.recordRow(Buffer.from(root)));
  assert.ok(rootRecord && Buffer.from(top.checked.record as Uint8Array).equals(cache.recordRow(Buffer.from(root)) as Buffer));
  const [a, b] = top.checked.verdicts;
  assert.equal(a, null, 'a holds the change');
  assert.ok(b && Buffer.from(b.tree).equals(rootRecord.children[1]?.tree as Buffer));
  assert.deepEqual({ ...b, tree: undefined }, { tree: undefined, files: 2, bytes: 42, others: 0, dirs: 2, folders: 3 });
  assert.deepEqual(reads.sort(), ['', '/a', '/a/a1', '/a/a2', '/b', '/b/deep', '/b/deep/er'].map((p) => root + p));

  // The walk asks for a next: its subfolders' verdicts were kept, so only a's own record is read again.
  reads.length = 0;
  const aTree = rootRecord.children[0]?.tree as Buffer;
  const aReply = ask(checker, join(root, 'a'), aTree);
  assert.ok('names' in aReply && aReply.checked?.verdicts);
  assert.deepEqual(reads, [join(root, 'a')]);
  const [a1, a2] = aReply.checked.verdicts;
  assert.equal(a1, null);
  assert.deepEqual(a2 && { ...a2, tree: undefined }, { tree: undefined, files: 1, bytes: 7, others: 1, dirs: 0, folders: 1 });

  // And then for a1, whose listing is not the recorded one: its record and digest, no verdicts.
  const aRecord = decodeFolderRecord(cache.recordRow(Buffer.from(join(root, 'a'))));
  const a1Reply = ask(checker, join(root, 'a/a1'), aRecord?.children[0]?.tree as Buffer);
  assert.ok('names' in a1Reply && a1Reply.checked);
  assert.ok(a1Reply.checked.record && a1Reply.checked.key);
  assert.ok(!Buffer.from(a1Reply.checked.key).equals(decodeFolderRecord(Buffer.from(a1Reply.checked.record))?.key as Buffer));
  assert.equal(a1Reply.checked.verdicts, undefined);
});

test('a check lists at most its budget of subfolders; those it did not reach are left for the walk to ask for, and answer the same', async (t) => {
  const dir = await tempDir(t);
  const root = join(dir, 'root');
  await makeTree(root);
  const cache = new FilesCache(join(dir, 'cache'));
  t.after(() => cache.close());
  const totals = record(cache, root);
  cache.commit();

  const { checker, reads } = checkerOf(cache, 2);
  const top = ask(checker, root, totals.tree);
  assert.ok('names' in top && top.checked?.verdicts);
  assert.equal(reads.length, 3, 'the root and two subfolders');
  assert.deepEqual(top.checked.verdicts, [null, null]);

  // The walk goes on as the backup's would: each folder without a verdict is asked for in turn.
  const counted = { files: 0, bytes: 0, others: 0, dirs: 0, folders: 0 };
  const walk = (folder: string, tree: Buffer): void => {
    const reply = ask(checker, folder, tree);
    const whole = unchangedOf(reply);
    if (whole) {
      assert.ok(whole.tree.equals(tree));
      for (const key of Object.keys(counted) as (keyof typeof counted)[]) counted[key] += whole[key];
      return;
    }
    assert.ok('names' in reply && reply.checked?.verdicts && reply.checked.record);
    const own = decodeFolderRecord(Buffer.from(reply.checked.record));
    assert.ok(own);
    counted.files += own.files;
    counted.bytes += own.bytes;
    counted.others += own.others;
    counted.dirs += own.children.length;
    counted.folders += 1;
    for (const [i, child] of own.children.entries()) {
      const verdict = reply.checked.verdicts[i];
      const start = child.index === 0 ? 0 : (reply.ends[child.index - 1] as number);
      const name = Buffer.from(reply.names.subarray(start, reply.ends[child.index])).toString();
      if (verdict) for (const key of Object.keys(counted) as (keyof typeof counted)[]) counted[key] += verdict[key];
      else walk(join(folder, name), child.tree);
    }
  };
  walk(root, totals.tree);
  assert.deepEqual({ tree: totals.tree, ...counted }, totals);
});

test('through the listing thread, which reads the records itself: an unchanged folder comes back whole, a changed one as its listing', async (t) => {
  const dir = await tempDir(t);
  const root = join(dir, 'root');
  await makeTree(root);
  const cache = new FilesCache(join(dir, 'cache'));
  t.after(() => cache.close());
  const totals = record(cache, root);
  cache.commit();

  const lister = new FolderLister();
  t.after(() => lister.close());
  lister.useThread(cache.records);
  while (!lister.threadIsReady) await new Promise((resolve) => setTimeout(resolve, 5));
  const extras = { xattrs: false, flags: false };
  const whole = await lister.check({ folder: Buffer.from(root), extras, expect: { tree: totals.tree, salt: SALT } });
  assert.ok('unchanged' in whole);
  assert.deepEqual(whole.unchanged, totals);
  assert.equal(lister.foldersListedHere, 0);

  // Asked for ahead with an expected tree, taken as it was asked for.
  await utimes(join(root, 'b/b.txt'), new Date('2020-01-01T00:00:00Z'), new Date('2020-01-01T00:00:00Z'));
  lister.prefetch([{ folder: Buffer.from(root), extras, expect: { tree: totals.tree, salt: SALT } }]);
  const changed = await lister.check({ folder: Buffer.from(root), extras, expect: { tree: totals.tree, salt: SALT } });
  assert.ok('entries' in changed && changed.checked?.record && changed.checked.verdicts);
  assert.deepEqual(changed.entries.map((entry) => entry.name.toString()), ['a', 'b', 'top.txt']);
  assert.ok(changed.checked.key?.equals(changed.checked.record.key));
  assert.equal(changed.checked.verdicts[1], undefined, 'b changed');
  assert.ok(changed.checked.verdicts[0]?.tree.equals(changed.checked.record.children[0]?.tree as Buffer), 'a did not');
  // The same folder listed plainly has no comparison.
  const plain = await lister.list(Buffer.from(root), undefined, extras);
  assert.ok('entries' in plain && plain.checked === undefined);
});

test('a backup whose listing thread read the records leaves the files cache without a write-ahead log', async (t) => {
  const dir = await tempDir(t);
  const root = join(dir, 'root');
  await makeTree(root);
  const made = await createTestRepository(t);
  const cacheDir = join(dir, 'cache');
  const logs = async () => (await readdir(cacheDir, { recursive: true })).filter((name) => name.endsWith('-wal'));
  await backup(await made.reopen(), { paths: [root], cacheDir });
  assert.deepEqual(await logs(), []);
  // A change, so that the next backup writes records while the thread has the cache open for reading.
  await utimes(join(root, 'b/b.txt'), new Date('2020-01-01T00:00:00Z'), new Date('2020-01-01T00:00:00Z'));
  const second = await backup(await made.reopen(), { paths: [root], cacheDir });
  assert.ok(second.foldersUnchanged > 0 && second.snapshot.summary.filesChanged === 1);
  // The backup's connection closed last, and folded the log into the cache (a reader left open kept it).
  assert.deepEqual(await logs(), []);
});
