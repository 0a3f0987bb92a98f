import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, linkSync, mkdirSync, mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { backup } from '../../../src-main/engine/archiver/backup.js';
import { Catalogue } from '../../../src-main/engine/catalogue/catalogue.js';
import { flagsSupported } from '../../../src-main/engine/metadata/fileFlags.js';
import { readXattrs, writeXattrs } from '../../../src-main/engine/metadata/xattrs.js';
import type { Repository } from '../../../src-main/engine/repository/repository.js';
import { restore } from '../../../src-main/engine/restorer/restore.js';
import type { Snapshot } from '../../../src-main/engine/snapshot/snapshot.js';
import { sameNode, type TreeNode } from '../../../src-main/engine/snapshot/tree.js';
import { TreeLoader } from '../../../src-main/engine/snapshot/treeLoader.js';
import { walkTree } from '../../../src-main/engine/snapshot/walkTree.js';
import { seededBytes } from '../../helpers/data.js';
import { createTestRepository } from '../../helpers/testRepository.js';
import { ramfsDir } from '../../helpers/tmpfs.js';
import { restoreAsNobody } from '../../helpers/restoreAsNobody.js';

const isRoot = process.getuid?.() === 0;

function sh(program: string, args: string[]): string {
  return execFileSync(program, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Skips the test unless this is Linux with the addon, Debian's e2fsprogs (lsattr, chattr) and a temporary
 * folder whose file system keeps flags (ext2/3/4, btrfs, XFS…); with `root`, unless it runs as root.
 */
function needsFlags(t: TestContext, dir: string, root: boolean): boolean {
  const probe = join(dir, 'flags-probe');
  writeFileSync(probe, '');
  const chattr = spawnSync('chattr', ['+d', probe], { encoding: 'utf8' });
  if (process.platform !== 'linux') t.skip('Linux file flags (chattr)');
  else if (!flagsSupported()) t.skip('the hindsight-file-flags addon is not built');
  else if (root && !isRoot) t.skip('needs root: immutable and append-only flags');
  else if (chattr.error || chattr.status !== 0) t.skip(`chattr cannot set flags in the temporary folder: ${chattr.error?.message ?? chattr.stderr.trim()}`);
  else {
    rmSync(probe);
    return true;
  }
  return false;
}

/** lsattr's letters for every entry below `root` (folders themselves too), by relative path. */
function lsattr(root: string, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) out[name] = (sh('lsattr', ['-d', join(root, name)]).split(' ')[0] as string).replace(/e/g, '-');
  return out;
}

/** A fresh folder removed when the test ends, after the flags that would stop that are cleared below it. */
function flagsDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'hindsight-test-'));
  t.after(() => {
    spawnSync('chattr', ['-R', '-f', '-i', '-a', dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/**
 * Immutable and append-only files and folders, nodump and noatime, an immutable file with a second name
 * (linked before its flags are set) and an attribute and time of its own, files inside an immutable and
 * an append-only folder.
 */
function buildTree(source: string): string[] {
  const p = (name: string) => join(source, name);
  mkdirSync(p('locked'), { recursive: true });
  mkdirSync(p('journal'));
  writeFileSync(p('immutable.txt'), 'cannot be changed\n');
  writeXattrs(Buffer.from(p('immutable.txt')), [{ name: 'user.tag', value: Buffer.from('red') }]);
  utimesSync(p('immutable.txt'), 1_700_000_000, 1_700_000_000);
  linkSync(p('immutable.txt'), p('immutable-link.txt'));
  writeFileSync(p('append.log'), 'line 1\n');
  writeFileSync(p('nodump.bin'), seededBytes('nodump', 70_000));
  writeFileSync(p('noatime'), 'x');
  writeFileSync(p('plain'), 'no flags');
  writeFileSync(p('locked/inside'), 'in an immutable folder');
  writeFileSync(p('journal/entry'), 'in an append-only folder');
  sh('chattr', ['+i', p('immutable.txt')]);
  sh('chattr', ['+a', p('append.log')]);
  sh('chattr', ['+d', p('nodump.bin')]);
  sh('chattr', ['+A', p('noatime')]);
  sh('chattr', ['+i', p('locked')]);
  sh('chattr', ['+a', p('journal')]);
  return ['immutable.txt', 'immutable-link.txt', 'append.log', 'nodump.bin', 'noatime', 'plain', 'locked', 'locked/inside', 'journal', 'journal/entry'];
}

async function backupOf(repository: Repository, source: string, dir: string) {
  const warnings: { path: string; message: string }[] = [];
  const result = await backup(repository, { paths: [source], cacheDir: join(dir, 'cache'), onWarning: (w) => warnings.push(w) });
  return { snapshot: result.snapshot, warnings };
}

async function entries(repository: Repository, snapshot: Snapshot): Promise<Map<string, TreeNode>> {
  const out = new Map<string, TreeNode>();
  for await (const { path, node } of walkTree(new TreeLoader(repository), Buffer.from(snapshot.tree, 'hex'), Buffer.alloc(0))) {
    out.set(path.toString(), node.type === 'dir' ? { ...node, subtree: Buffer.alloc(32) } : node);
  }
  return out;
}

test('as root: immutable, append-only, nodump and noatime files and folders come back as lsattr shows them, set after content, links, attributes and times', async (t) => {
  const dir = flagsDir(t);
  if (!needsFlags(t, dir, true)) return;
  const source = join(dir, 'source');
  const names = buildTree(source);
  const { repository } = await createTestRepository(t);
  const { snapshot, warnings } = await backupOf(repository, source, dir);
  assert.deepEqual(warnings, []);
  assert.equal(snapshot.flags, true);

  const target = join(dir, 'restored');
  const result = await restore(repository, { snapshot, target, path: source });
  assert.deepEqual(result.problems, []);
  assert.equal(result.hardLinks, 1);
  const before = lsattr(source, names);
  assert.match(before['immutable.txt'] as string, /i/);
  assert.match(before.journal as string, /a/);
  assert.deepEqual(lsattr(target, names), before);
  // Set before the flag made the file immutable.
  assert.deepEqual(readXattrs(Buffer.from(join(target, 'immutable.txt'))), [{ name: 'user.tag', value: Buffer.from('red') }]);
  assert.equal(statSync(join(target, 'immutable.txt')).mtimeMs, 1_700_000_000_000);
  assert.equal(statSync(join(target, 'immutable.txt')).nlink, 2);
  assert.equal(sh('cat', [join(target, 'locked/inside')]), 'in an immutable folder');
});

test('restored by a user who is not root: nodump and noatime come back, immutable and append-only are one warning each, exit status 3', async (t) => {
  const dir = flagsDir(t);
  if (!needsFlags(t, dir, true)) return;
  if (spawnSync('sh', ['-c', 'command -v setpriv']).status !== 0) return void t.skip('needs setpriv (util-linux)');
  chmodSync(dir, 0o755);
  const source = join(dir, 'source');
  const names = buildTree(source);
  const made = await createTestRepository(t);
  const { snapshot } = await backupOf(made.repository, source, dir);
  const { status, output, target } = restoreAsNobody(made.path, `${snapshot.id}:${source}`, dir);
  assert.equal(status, 3, output);
  const warned = (name: string) => output.split('\n').filter((line) => line.includes(`${join(target, name)}:`));
  // The hard-linked pair is restored under its first name (by bytes): immutable-link.txt.
  for (const name of ['immutable-link.txt', 'append.log', 'locked', 'journal']) {
    assert.equal(warned(name).length, 1, `${name}: ${output}`);
    assert.match(warned(name)[0] as string, /file flags not restored: not permitted/);
  }
  const after = lsattr(target, names);
  assert.match(after['nodump.bin'] as string, /d/);
  assert.match(after.noatime as string, /A/);
  assert.equal(sh('cat', [join(target, 'journal/entry')]), 'in an append-only folder');
});

test('a restore onto a file system without flags (ramfs) warns for each flagged entry and restores everything else', async (t) => {
  const dir = flagsDir(t);
  if (!needsFlags(t, dir, true)) return;
  const source = join(dir, 'source');
  buildTree(source);
  const { repository } = await createTestRepository(t);
  const { snapshot } = await backupOf(repository, source, dir);
  const target = await ramfsDir(t);
  if (!target) return;
  const result = await restore(repository, { snapshot, target, path: source });
  const flagProblems = result.problems.filter((p) => p.message.startsWith('file flags not restored'));
  assert.deepEqual(flagProblems.map((p) => p.path.slice(target.length + 1)).sort(), ['append.log', 'immutable-link.txt', 'journal', 'locked', 'noatime', 'nodump.bin']);
  for (const problem of flagProblems) assert.equal(problem.message, 'file flags not restored: the file system here does not keep them');
  assert.equal(sh('cat', [join(target, 'locked/inside')]), 'in an immutable folder');
});

test('changing only a flag changes the next snapshot at that file alone, without reading it again; its versions and diff say "attributes changed"', async (t) => {
  const dir = flagsDir(t);
  if (!needsFlags(t, dir, false)) return;
  const source = join(dir, 'source');
  mkdirSync(join(source, 'sub'), { recursive: true });
  for (const name of ['a', 'b', 'sub/c']) writeFileSync(join(source, name), seededBytes(name, 100_000));
  sh('chattr', ['+d', join(source, 'a')]);
  const made = await createTestRepository(t);
  const first = await backupOf(made.repository, source, dir);
  const recorded = await entries(made.repository, first.snapshot);
  assert.deepEqual(recorded.get(`${source}/a`)?.flags, { system: 'linux', value: 0x40 });
  assert.equal(recorded.get(`${source}/b`)?.flags, undefined);

  sh('chattr', ['+A', join(source, 'sub/c')]);
  const reopened = await made.reopen();
  const second = await backupOf(reopened, source, dir);
  assert.equal(second.snapshot.summary.filesRead, 0);
  const after = await entries(reopened, second.snapshot);
  const differ = [...after].filter(([path, node]) => path.startsWith(source) && !sameNode(recorded.get(path) as TreeNode, node)).map(([path]) => path);
  assert.deepEqual(differ, [`${source}/sub/c`]);
  assert.deepEqual(after.get(`${source}/sub/c`)?.flags, { system: 'linux', value: 0x80 });
  assert.deepEqual(after.get(`${source}/a`)?.flags, { system: 'linux', value: 0x40 });

  // What the versions list (UI, CLI) and diff say: the same content, its attributes changed.
  const catalogue = new Catalogue(join(dir, 'catalogue'));
  t.after(() => catalogue.close());
  await catalogue.sync(reopened);
  const versions = catalogue.versions(`${source}/sub/c`);
  assert.deepEqual(
    versions.map((v) => [v.snapshots.map((s) => s.id), v.attributesOnly ?? false]),
    [
      [[first.snapshot.id], false],
      [[second.snapshot.id], true],
    ],
  );
  assert.deepEqual(catalogue.versions(`${source}/b`).length, 1);
  assert.deepEqual(catalogue.diff(first.snapshot.id, second.snapshot.id), [{ path: `${source}/sub/c`, change: 'modified', sizeBefore: 100_000, sizeAfter: 100_000, attributesOnly: true }]);

  // A change of mode alone is a version of its own too, labelled the same; new content is not.
  chmodSync(join(source, 'b'), 0o600);
  const third = await backupOf(await made.reopen(), source, dir);
  writeFileSync(join(source, 'b'), seededBytes('other', 100_000));
  const fourth = await backupOf(await made.reopen(), source, dir);
  await catalogue.sync(await made.reopen());
  assert.deepEqual(
    catalogue.versions(`${source}/b`).map((v) => [v.snapshots.map((s) => s.id), v.attributesOnly ?? false]),
    [
      [[first.snapshot.id, second.snapshot.id], false],
      [[third.snapshot.id], true],
      [[fourth.snapshot.id], false],
    ],
  );
});
