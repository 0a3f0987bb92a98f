import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, closeSync, linkSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, statSync, symlinkSync, truncateSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { snapshotQueries } from '../../../src-main/agent/snapshotQueries.js';
import { backup } from '../../../src-main/engine/archiver/backup.js';
import { Catalogue } from '../../../src-main/engine/catalogue/catalogue.js';
import { checkRepository } from '../../../src-main/engine/maintenance/check.js';
import { prune } from '../../../src-main/engine/maintenance/prune.js';
import { mayHaveXattrs, readXattrs, writeXattrs } from '../../../src-main/engine/metadata/xattrs.js';
import { joinNames } from '../../../src-main/engine/archiver/folderStats.js';
import { listFolder } from '../../../src-main/engine/archiver/listFolder.js';
import type { Repository } from '../../../src-main/engine/repository/repository.js';
import { restore } from '../../../src-main/engine/restorer/restore.js';
import type { Snapshot } from '../../../src-main/engine/snapshot/snapshot.js';
import { sameNode, type TreeNode } from '../../../src-main/engine/snapshot/tree.js';
import { TreeLoader } from '../../../src-main/engine/snapshot/treeLoader.js';
import { walkTree } from '../../../src-main/engine/snapshot/walkTree.js';
import { flipBit, seededBytes } from '../../helpers/data.js';
import { tempDir } from '../../helpers/tempDir.js';
import { createTestRepository } from '../../helpers/testRepository.js';
import { ramfsDir } from '../../helpers/tmpfs.js';
import { NOBODY, restoreAsNobody } from '../../helpers/restoreAsNobody.js';

const isRoot = process.getuid?.() === 0;
/** Debian's attr, acl and libcap2-bin (installed by .ci/run), and coreutils. */
const TOOLS = ['getfattr', 'getfacl', 'setfacl', 'setcap', 'getcap', 'mkfifo', 'mknod', 'setpriv'];

function missingTool(): string | undefined {
  return TOOLS.find((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
}

/** Skips the test unless it runs as root on Linux with the tools; returns whether it may go on. */
function needsRoot(t: TestContext): boolean {
  if (process.platform !== 'linux') t.skip('Linux extended attributes, ACLs and devices');
  else if (!isRoot) t.skip('needs root: security.* and trusted.* attributes, capabilities and device files');
  else if (missingTool()) t.skip(`needs ${missingTool()} (Debian packages attr, acl, libcap2-bin)`);
  else return true;
  return false;
}

/** Skips the test unless the temporary folder's file system keeps user attributes. */
function needsUserXattrs(t: TestContext, dir: string): boolean {
  const probe = join(dir, 'probe');
  writeFileSync(probe, '');
  const failures = writeXattrs(Buffer.from(probe), [{ name: 'user.probe', value: Buffer.from('1') }]);
  if (failures.length === 0) return true;
  t.skip(`the temporary folder keeps no user extended attributes here: ${failures[0]?.error.message}`);
  return false;
}

function sh(program: string, args: string[], cwd?: string): string {
  return execFileSync(program, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The largest value the file system takes for one attribute of `file` (4 KiB less headers on ext4, 64 KiB on XFS). */
function largestValue(file: string): Buffer {
  let low = 1;
  let high = 64 * 1024;
  while (low < high) {
    const size = Math.ceil((low + high) / 2);
    if (writeXattrs(Buffer.from(file), [{ name: 'user.big', value: seededBytes('big', size) }]).length === 0) low = size;
    else high = size - 1;
  }
  const value = seededBytes('big', low);
  assert.deepEqual(writeXattrs(Buffer.from(file), [{ name: 'user.big', value }]), []);
  return value;
}

/**
 * Everything the issue lists: user, security and trusted attributes, the largest value allowed, access
 * and default ACLs, a file capability, a FIFO, character and block devices, hard links, a sparse file, a
 * set-user-ID file owned by someone else, a symbolic link with an attribute of its own, and a socket.
 */
async function buildTree(source: string): Promise<{ bigValue: Buffer; closeSocket: () => void }> {
  mkdirSync(join(source, 'shared'), { recursive: true });
  const p = (name: string) => join(source, name);
  writeFileSync(p('tagged.txt'), 'tags are extended attributes\n');
  sh('setfattr', ['-n', 'user.xdg.tags', '-v', 'red,work', p('tagged.txt')]);
  sh('setfattr', ['-n', 'user.comment', '-v', '0x00ff10', p('tagged.txt')]);
  sh('setfattr', ['-n', 'security.hindsight', '-v', 'label', p('tagged.txt')]);
  sh('setfattr', ['-n', 'trusted.hindsight', '-v', 'trusted', p('tagged.txt')]);
  linkSync(p('tagged.txt'), p('shared/tagged-link.txt'));
  writeFileSync(p('big-attr'), 'x');
  const bigValue = largestValue(p('big-attr'));
  writeFileSync(p('acl.txt'), 'shared with nobody\n');
  sh('setfacl', ['-m', `u:${NOBODY}:rw,g:${NOBODY}:r`, p('acl.txt')]);
  sh('setfacl', ['-m', `u:${NOBODY}:rwx`, p('shared')]);
  sh('setfacl', ['-d', '-m', `g:${NOBODY}:rx,u::rwx,g::rx,o::-`, p('shared')]);
  writeFileSync(p('prog'), seededBytes('prog', 5000));
  chmodSync(p('prog'), 0o755);
  sh('setcap', ['cap_net_raw+ep', p('prog')]);
  writeFileSync(p('setuid'), 'runs as its owner\n');
  chownSync(p('setuid'), 1000, 1000);
  chmodSync(p('setuid'), 0o4755);
  sh('mkfifo', ['-m', '620', p('fifo')]);
  sh('mknod', ['-m', '640', p('null-device'), 'c', '1', '3']);
  sh('mknod', ['-m', '600', p('loop-device'), 'b', '7', '200']);
  writeFileSync(p('sparse'), 'start');
  truncateSync(p('sparse'), 16 * 1024 * 1024);
  const fd = openSync(p('sparse'), 'r+');
  writeSync(fd, 'middle', 8 * 1024 * 1024);
  closeSync(fd);
  symlinkSync('tagged.txt', p('link'));
  sh('setfattr', ['-h', '-n', 'trusted.on-the-link', '-v', 'yes', p('link')]);
  for (const name of ['tagged.txt', 'acl.txt', 'prog', 'setuid', 'fifo', 'null-device', 'sparse', 'shared']) utimesSync(p(name), 1_700_000_000.123456, 1_700_000_000.123456);
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(p('socket'), resolve));
  return { bigValue, closeSocket: () => server.close() };
}

/** `getfattr`/`getfacl` output, one block per file (sockets left out: they are not saved), sorted so that listing order does not matter; long values hashed. */
function blocks(output: string): string[] {
  return output
    .split(/\n\n+/)
    .map((block) => block.trim().replace(/=0x([0-9a-f]{200,})/g, (_, hex: string) => `=sha256:${createHash('sha256').update(hex).digest('hex')}`))
    .filter((block) => block !== '' && !block.startsWith('# file: socket'))
    .sort();
}

/** What the issue compares: attributes, ACLs, capabilities, type/mode/size/owner/links/time (to the microsecond, what restore keeps), and every file's bytes. */
function describe(root: string): Record<string, unknown> {
  const find = sh('find', ['.', '-mindepth', '1', '-not', '-type', 's', '-printf', '%y %m %s %U %G %n %T@ %p %l\n'], root)
    .trim()
    .split('\n')
    .map((line) => line.replace(/ (\d+\.\d{6})\d* /, ' $1 '))
    .sort();
  const bytes: Record<string, string> = {};
  const devices: Record<string, string> = {};
  for (const line of find) {
    const [type, , , , , , , path] = line.split(' ');
    if (type === 'f') bytes[path as string] = createHash('sha256').update(readFileSync(join(root, path as string))).digest('hex');
    if (type === 'c' || type === 'b') devices[path as string] = String(lstatSync(join(root, path as string)).rdev);
  }
  return {
    xattrs: blocks(sh('getfattr', ['-R', '-P', '-h', '-d', '-m', '-', '-e', 'hex', '.'], root)),
    acls: blocks(sh('getfacl', ['-R', '-P', '-n', '.'], root).replace(/^# owner:.*\n|^# group:.*\n/gm, '')),
    caps: sh('getcap', ['-r', '.'], root).trim().split('\n').sort(),
    find,
    bytes,
    devices,
  };
}

async function backupOf(repository: Repository, source: string, dir: string, options: { xattrs?: boolean } = {}) {
  const warnings: { path: string; message: string }[] = [];
  const result = await backup(repository, { paths: [source], cacheDir: join(dir, 'cache'), onWarning: (w) => warnings.push(w), ...options });
  return { snapshot: result.snapshot, warnings };
}

test('a folder listing reads attributes of the entries that have some only, and finds them all: a file, a folder, a symbolic link itself', async (t) => {
  const dir = await tempDir(t);
  if (!needsUserXattrs(t, dir)) return;
  const folder = join(dir, 'folder');
  mkdirSync(join(folder, 'sub'), { recursive: true });
  for (const name of ['plain', 'tagged']) writeFileSync(join(folder, name), name);
  symlinkSync('tagged', join(folder, 'link'));
  writeXattrs(Buffer.from(join(folder, 'tagged')), [{ name: 'user.tag', value: Buffer.from('red') }]);
  writeXattrs(Buffer.from(join(folder, 'sub')), [{ name: 'user.tag', value: Buffer.from('blue') }]);
  const names = ['link', 'plain', 'sub', 'tagged', 'vanished'].map((name) => Buffer.from(name));
  const { joined, ends } = joinNames(names);
  const may = mayHaveXattrs(Buffer.from(folder), joined, ends);
  // The link's target has one, the link itself none: nothing is read through a link.
  if (may !== undefined) assert.deepEqual(may, [false, false, true, true, false]);
  const reply = listFolder({ id: 1, folder: Buffer.from(folder).toString('latin1'), xattrs: true, flags: false });
  const listed = 'names' in reply ? reply : assert.fail('the folder was not listed');
  const found = listed.xattrs.map((entry) => [entry.at, entry.xattrs ? entry.xattrs.map((x) => `${x.name}=${Buffer.from(x.value).toString()}`).join() : `error ${entry.error?.message}`]);
  // Listed in name order: link, plain, sub, tagged.
  assert.deepEqual(found, [
    [2, 'user.tag=blue'],
    [3, 'user.tag=red'],
  ]);
  assert.deepEqual(readXattrs(Buffer.from(join(folder, 'link'))), undefined);
});

test('as root: attributes of every namespace, the largest value, ACLs, a capability, FIFOs, devices, hard links, a sparse and a set-user-ID file come back exactly', async (t) => {
  if (!needsRoot(t)) return;
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  const { bigValue, closeSocket } = await buildTree(source);
  t.after(closeSocket);
  assert.ok(bigValue.length > 2048, `the file system takes ${bigValue.length} bytes for one value, more than is kept inline`);
  const { repository } = await createTestRepository(t);
  const { snapshot, warnings } = await backupOf(repository, source, dir);
  assert.deepEqual(
    warnings.map((w) => [w.path, w.message]),
    [[join(source, 'socket'), 'not saved: sockets are made by the program that listens on them']],
  );

  const target = join(dir, 'restored');
  const result = await restore(repository, { snapshot, target, path: source });
  assert.deepEqual(result.problems, []);
  assert.equal(result.specials, 3);
  assert.equal(result.hardLinks, 1);
  const [before, after] = [describe(source), describe(target)];
  assert.ok((before.xattrs as string[]).join('\n').includes('security.capability'), 'the capability is among the attributes compared');
  assert.ok((before.acls as string[]).join('\n').includes('default:group:65534:r-x'), 'the default ACL is among those compared');
  assert.deepEqual(after, before);
  assert.deepEqual(readXattrs(Buffer.from(join(target, 'big-attr')))?.find((x) => x.name === 'user.big')?.value, bigValue);
});

test('restored by a user who is not root: what that user may set comes back, the rest is one warning per entry, exit status 3', async (t) => {
  if (!needsRoot(t)) return;
  const dir = await tempDir(t);
  chmodSync(dir, 0o755);
  const source = join(dir, 'source');
  const { closeSocket } = await buildTree(source);
  t.after(closeSocket);
  const made = await createTestRepository(t);
  const { snapshot } = await backupOf(made.repository, source, dir);
  const { status, output, target } = restoreAsNobody(made.path, `${snapshot.id}:${source}`, dir);
  assert.equal(status, 3, output);
  const warned = (name: string) => output.split('\n').filter((line) => line.includes(join(target, name)));
  // Each entry that lost something is named once, with every attribute it lost.
  assert.equal(warned('tagged.txt').length, 1, output);
  assert.match(warned('tagged.txt')[0] as string, /extended attributes not restored: security\.hindsight \(not permitted; restore as root to set it\), trusted\.hindsight/);
  assert.equal(warned('prog').length, 1, output);
  assert.match(warned('prog')[0] as string, /security\.capability/);
  assert.match(warned('null-device')[0] as string, /not restored: only root can create device files/);
  assert.match(warned('link')[0] as string, /trusted\.on-the-link/);
  // What a user may set on their own files: user attributes, ACLs, the FIFO, the set-user-ID bit.
  const tagged = readXattrs(Buffer.from(join(target, 'tagged.txt'))) ?? [];
  assert.deepEqual(
    tagged.filter((x) => x.name.startsWith('user.')).map((x) => [x.name, x.value.toString('hex')]),
    [
      ['user.comment', '00ff10'],
      ['user.xdg.tags', Buffer.from('red,work').toString('hex')],
    ],
  );
  assert.match(sh('getfacl', ['-n', join(target, 'acl.txt')]), /user:65534:rw-/);
  assert.match(sh('getfacl', ['-n', join(target, 'shared')]), /default:group:65534:r-x/);
  assert.ok(statSync(join(target, 'fifo')).isFIFO());
  assert.equal(statSync(join(target, 'setuid')).mode & 0o7777, 0o4755);
  assert.equal(statSync(join(target, 'setuid')).uid, NOBODY);
});

test('a restore onto a file system without extended attributes warns for each entry that had some, and restores everything else', async (t) => {
  if (!needsRoot(t)) return;
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  const { closeSocket } = await buildTree(source);
  t.after(closeSocket);
  const { repository } = await createTestRepository(t);
  const { snapshot } = await backupOf(repository, source, dir);
  // ramfs has no extended attributes at all: every set fails with EOPNOTSUPP.
  const target = await ramfsDir(t);
  if (!target) return;
  const result = await restore(repository, { snapshot, target, path: source });
  const byPath = new Map(result.problems.map((p) => [p.path.slice(target.length + 1), p.message]));
  for (const name of ['tagged.txt', 'big-attr', 'acl.txt', 'prog', 'shared', 'link']) {
    assert.match(byPath.get(name) ?? '', /^extended attributes not restored: .*\(the file system here does not keep them\)/, name);
  }
  assert.equal(result.problems.length, 6, JSON.stringify(result.problems));
  assert.equal(await readFile(join(target, 'tagged.txt'), 'utf8'), 'tags are extended attributes\n');
  assert.equal(result.specials, 3);
});

/** Every entry of a snapshot by path; folders without their subtree id, which changes with anything below them. */
async function entries(repository: Repository, snapshot: Snapshot): Promise<Map<string, TreeNode>> {
  const out = new Map<string, TreeNode>();
  for await (const { path, node } of walkTree(new TreeLoader(repository), Buffer.from(snapshot.tree, 'hex'), Buffer.alloc(0))) {
    out.set(path.toString(), node.type === 'dir' ? { ...node, subtree: Buffer.alloc(32) } : node);
  }
  return out;
}

test('changing only an attribute changes the next snapshot at that file alone, without reading it again, and diff and the file details show it; a content change under the same times still is read', async (t) => {
  const dir = await tempDir(t);
  if (!needsUserXattrs(t, dir)) return;
  const source = join(dir, 'source');
  mkdirSync(join(source, 'sub'), { recursive: true });
  for (const name of ['a', 'b', 'sub/c']) await writeFile(join(source, name), seededBytes(name, 100_000));
  writeXattrs(Buffer.from(join(source, 'a')), [{ name: 'user.tag', value: Buffer.from('red') }]);
  const made = await createTestRepository(t);
  const first = await backupOf(made.repository, source, dir);

  writeXattrs(Buffer.from(join(source, 'sub/c')), [{ name: 'user.tag', value: Buffer.from('blue') }]);
  const reopened = await made.reopen();
  const second = await backupOf(reopened, source, dir);
  assert.equal(second.snapshot.summary.filesRead, 0);
  assert.equal(second.snapshot.summary.bytesRead, 0);
  const [before, after] = [await entries(reopened, first.snapshot), await entries(reopened, second.snapshot)];
  // Only under the source: the folders above it are shared with other tests, which may change their times.
  const differ = [...after]
    .filter(([path, node]) => path.startsWith(source) && (!before.has(path) || !sameNode(before.get(path) as TreeNode, node)))
    .map(([path]) => path);
  assert.deepEqual(differ, [`${source}/sub/c`]);
  assert.deepEqual(after.get(`${source}/sub/c`)?.xattrs, [{ name: 'user.tag', value: Buffer.from('blue') }]);
  assert.deepEqual(after.get(`${source}/sub/c`)?.content, before.get(`${source}/sub/c`)?.content);
  // diff and the file details show it.
  const catalogue = new Catalogue(join(dir, 'catalogue'));
  t.after(() => catalogue.close());
  await catalogue.sync(reopened);
  assert.deepEqual(catalogue.diff(first.snapshot.id, second.snapshot.id), [{ path: `${source}/sub/c`, change: 'modified', sizeBefore: 100_000, sizeAfter: 100_000, attributesOnly: true }]);
  const listed = await snapshotQueries.browse(reopened, second.snapshot.id, `${source}/sub`);
  assert.deepEqual(listed.find((entry) => entry.name === 'c')?.xattrs, ['user.tag']);

  // New bytes of the same size under the old modification time: only the change time tells, and it is read.
  const { mtime } = statSync(join(source, 'b'));
  await writeFile(join(source, 'b'), seededBytes('other', 100_000));
  utimesSync(join(source, 'b'), mtime, mtime);
  const third = await backupOf(await made.reopen(), source, dir);
  assert.equal(third.snapshot.summary.filesRead, 1);
});

test('a large attribute value is stored as a data blob: tampering with it is detected by restore and check, and prune keeps it', async (t) => {
  const dir = await tempDir(t);
  if (!needsUserXattrs(t, dir)) return;
  const source = join(dir, 'source');
  mkdirSync(source);
  await writeFile(join(source, 'empty'), '');
  const value = seededBytes('value', 3000);
  const failures = writeXattrs(Buffer.from(join(source, 'empty')), [{ name: 'user.big', value }]);
  if (failures.length > 0) return void t.skip(`the file system takes no 3000-byte value: ${failures[0]?.error.message}`);
  const made = await createTestRepository(t);
  const { snapshot } = await backupOf(made.repository, source, dir);
  const node = (await entries(made.repository, snapshot)).get(`${source}/empty`);
  assert.equal(node?.xattrs?.[0]?.value, undefined);
  assert.ok(node?.xattrs?.[0]?.blob, 'stored as a blob');
  await prune(await made.reopen(), {});
  const pruned = await made.reopen();
  assert.ok(pruned.index.has(node.xattrs[0].blob), 'prune keeps a blob only an attribute refers to');
  assert.deepEqual((await checkRepository(pruned, { readData: { kind: 'all' } })).errors, []);

  // One bit of the value's blob, where the index places it.
  const location = pruned.index.get(node.xattrs[0].blob);
  assert.ok(location);
  const pack = join(made.path, 'data', location.pack.slice(0, 2), location.pack);
  await writeFile(pack, flipBit(await readFile(pack), location.offset + 20));
  const damaged = await made.reopen();
  const result = await restore(damaged, { snapshot, target: join(dir, 'restored'), path: source });
  assert.equal(result.problems.length, 1);
  assert.match(result.problems[0]?.message ?? '', /^extended attributes not restored: /);
  assert.equal(readXattrs(Buffer.from(join(dir, 'restored', 'empty'))), undefined);
  const check = await checkRepository(damaged, { readData: { kind: 'all' } });
  assert.ok(check.errors.some((e) => e.kind === 'blob-damaged' || e.kind === 'pack-header'), JSON.stringify(check.errors));
});

test('--no-xattrs (xattrs: false) saves no attributes, and a later backup with them reads them even for unchanged files; a FIFO is recreated without root', async (t) => {
  const dir = await tempDir(t);
  if (!needsUserXattrs(t, dir)) return;
  const source = join(dir, 'source');
  mkdirSync(source);
  await writeFile(join(source, 'tagged'), 'x');
  writeXattrs(Buffer.from(join(source, 'tagged')), [{ name: 'user.tag', value: Buffer.from('red') }]);
  execFileSync('mkfifo', ['-m', '600', join(source, 'pipe')]);
  const { repository } = await createTestRepository(t);
  const { snapshot } = await backupOf(repository, source, dir, { xattrs: false });
  assert.equal((await entries(repository, snapshot)).get(`${source}/tagged`)?.xattrs, undefined);
  const target = join(dir, 'restored');
  const result = await restore(repository, { snapshot, target, path: source });
  assert.deepEqual(result.problems, []);
  assert.equal(readXattrs(Buffer.from(join(target, 'tagged'))), undefined);
  assert.ok(statSync(join(target, 'pipe')).isFIFO());
  assert.equal(statSync(join(target, 'pipe')).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(target).sort(), ['pipe', 'tagged']);

  // The next backup with attributes does not take "none" from that parent for the unchanged file.
  const next = await backupOf(repository, source, dir);
  assert.equal(next.snapshot.parent, snapshot.id);
  assert.equal(next.snapshot.summary.filesRead, 0);
  assert.deepEqual((await entries(repository, next.snapshot)).get(`${source}/tagged`)?.xattrs, [{ name: 'user.tag', value: Buffer.from('red') }]);
});
