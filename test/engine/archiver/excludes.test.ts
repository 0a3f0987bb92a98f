import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { DEFAULT_EXCLUDES } from '../../../src-shared/defaultExcludes.js';
import ignore from 'ignore';
import { ExcludeRules, possibleExclusions } from '../../../src-main/engine/archiver/excludes.js';
import { tempDir } from '../../helpers/tempDir.js';

const SIGNATURE = 'Signature: 8a477f597d28d172789f06886806bc55';
const CASE_INSENSITIVE = process.platform === 'darwin' || process.platform === 'win32';

/** Whether `relative`, found under the source `root`, is excluded. */
function excluded(rules: ExcludeRules, relative: string, isDirectory = false, root = '/src'): boolean {
  return rules.matchPath(relative, `${root}/${relative}`, isDirectory).excluded;
}

test('gitignore patterns: globs, folders only, anchored, ** and negation', () => {
  const rules = new ExcludeRules({ patterns: ['*.log', 'build/', '/top-only.txt', 'docs/tmp', '**/tmp/**', 'secret*', '!secret-but-keep.txt'] });
  assert.equal(excluded(rules, 'a.log'), true);
  assert.equal(excluded(rules, 'deep/down/b.log'), true);
  assert.equal(excluded(rules, 'a.log.txt'), false);
  assert.equal(excluded(rules, 'build', true), true);
  assert.equal(excluded(rules, 'src/build', true), true);
  assert.equal(excluded(rules, 'build', false), false, 'a file named build is kept');
  assert.equal(excluded(rules, 'build/main.o'), true, 'inside an excluded folder');
  assert.equal(excluded(rules, 'top-only.txt'), true);
  assert.equal(excluded(rules, 'sub/top-only.txt'), false);
  assert.equal(excluded(rules, 'docs/tmp', true), true);
  assert.equal(excluded(rules, 'old/docs/tmp', true), false, 'a middle "/" anchors too');
  assert.equal(excluded(rules, 'x/tmp/y/z.bin'), true);
  assert.equal(excluded(rules, 'tmp', true), false, '**/tmp/** is what is inside tmp');
  assert.equal(excluded(rules, 'secret.key'), true);
  assert.equal(excluded(rules, 'secret-but-keep.txt'), false);
});

test('an exclusion says which pattern made it', () => {
  const rules = new ExcludeRules({ patterns: ['*.tmp', 'build/', '/home/*/VMs/'] });
  assert.deepEqual(rules.matchPath('a/b.tmp', '/src/a/b.tmp', false), { excluded: true, reason: 'pattern "*.tmp"' });
  assert.deepEqual(rules.matchPath('build/x.o', '/src/build/x.o', false), { excluded: true, reason: 'pattern "build/"' });
  assert.deepEqual(rules.matchPath('VMs', '/home/ann/VMs', true), { excluded: true, reason: 'pattern "/home/*/VMs/"' });
  assert.deepEqual(rules.matchPath('notes.txt', '/src/notes.txt', false), { excluded: false });
});

test('nothing inside an excluded folder can be brought back, as in git', () => {
  const rules = new ExcludeRules({ patterns: ['out/', '!out/keep.txt', 'logs/*', '!logs/keep.txt'] });
  assert.equal(excluded(rules, 'out/keep.txt'), true);
  assert.equal(excluded(rules, 'logs', true), false);
  assert.equal(excluded(rules, 'logs/a.txt'), true);
  assert.equal(excluded(rules, 'logs/keep.txt'), false);
});

test('absolute patterns match the absolute path, whichever folder is backed up', () => {
  const rules = new ExcludeRules({ patterns: ['/home/*/Downloads/', '/var/lib/docker/', '/srv/*/cache/', '!/srv/www/cache/', '/build/'] });
  assert.equal(excluded(rules, 'Downloads', true, '/home/ann'), true, 'backing up /home/ann');
  assert.equal(excluded(rules, 'ann/Downloads', true, '/home'), true, 'backing up /home');
  assert.equal(excluded(rules, 'home/ann/Downloads', true, ''), true, 'backing up /');
  assert.equal(excluded(rules, 'Downloads/film.mkv', false, '/home/ann'), true);
  assert.equal(excluded(rules, 'Downloads', false, '/home/ann'), false, 'folders only');
  assert.equal(excluded(rules, 'Downloads', true, '/mnt/usb'), false);
  assert.equal(excluded(rules, 'home/ann/Downloads', true, '/mnt/usb'), false, 'not relative to the source');
  assert.equal(excluded(rules, 'docker', true, '/var/lib'), true);
  assert.equal(excluded(rules, 'app/cache', true, '/srv'), true);
  assert.equal(excluded(rules, 'www/cache', true, '/srv'), false, 'a "!" keeps a pattern absolute');
  assert.equal(excluded(rules, 'build', true, '/home/ann/project'), true, 'a one-name anchor stays relative');
  assert.equal(excluded(rules, 'build', true, ''), true);
  assert.equal(excluded(rules, 'x/build', true, '/home/ann/project'), false);
});

test('a Windows drive letter is not part of an absolute match', () => {
  const rules = new ExcludeRules({ patterns: ['/Users/*/Videos/'] });
  assert.equal(rules.matchPath('Videos', 'C:/Users/bo/Videos', true).excluded, true);
  assert.equal(rules.matchPath('bo/Videos', 'D:/Users/bo/Videos', true).excluded, true);
  assert.equal(rules.matchPath('Videos', 'C:/Data/Users/bo/Videos', true).excluded, false);
});

test('relative and absolute patterns are two lists; a "!" undoes only its own', () => {
  const rules = new ExcludeRules({ patterns: ['/home/*/Downloads/', '!Downloads/', '*.iso', '!/home/ann/keep.iso'] });
  assert.equal(excluded(rules, 'Downloads', true, '/home/ann'), true);
  assert.equal(excluded(rules, 'keep.iso', false, '/home/ann'), true);
});

test('case is ignored where the file system usually ignores it', () => {
  const rules = new ExcludeRules({ patterns: ['*.log', 'build/', '/home/*/Downloads/'] });
  assert.equal(excluded(rules, 'A.LOG'), CASE_INSENSITIVE);
  assert.equal(excluded(rules, 'Build', true), CASE_INSENSITIVE);
  assert.equal(excluded(rules, 'downloads', true, '/home/ann'), CASE_INSENSITIVE);
  assert.equal(excluded(rules, 'a.log'), true);
});

test('the default list skips caches, trash and clutter', () => {
  const rules = new ExcludeRules({ patterns: DEFAULT_EXCLUDES });
  assert.equal(excluded(rules, '.cache', true, '/home/ann'), true);
  assert.equal(excluded(rules, '.cache/pip/http/0/1/abc'), true);
  assert.equal(excluded(rules, 'ann/.cache', true, '/home'), true);
  assert.equal(excluded(rules, 'project/node_modules/.cache', true), true);
  assert.equal(excluded(rules, '.local/share/Trash/files/x', false, '/home/ann'), true);
  assert.equal(excluded(rules, 'ann/.local/share/Trash', true, '/home'), true);
  assert.equal(excluded(rules, 'Library/Caches', true, '/Users/bo'), true);
  assert.equal(excluded(rules, 'AppData/Local/Temp', true, 'C:/Users/bo'), true);
  assert.equal(excluded(rules, '.Trash', true, '/Users/bo'), true);
  assert.equal(excluded(rules, '.Trash-1000', true, '/media/usb'), true);
  assert.equal(excluded(rules, '$Recycle.Bin', true, 'C:'), true);
  assert.equal(excluded(rules, '$RECYCLE.BIN', true, '/media/usb'), true);
  assert.equal(excluded(rules, 'photos/.DS_Store'), true);
  assert.equal(excluded(rules, 'photos/Thumbs.db'), true);
  assert.equal(excluded(rules, 'lost+found', true, ''), true);
  assert.equal(excluded(rules, 'notes/.report.txt.swp'), true);
  assert.equal(excluded(rules, 'notes/~$report.docx'), true);
});

test('the default list keeps documents, node_modules and look-alikes', () => {
  const rules = new ExcludeRules({ patterns: DEFAULT_EXCLUDES });
  assert.equal(excluded(rules, 'Documents/report.docx', false, '/home/ann'), false);
  assert.equal(excluded(rules, 'node_modules/x', false, '/home/ann/project'), false);
  assert.equal(excluded(rules, 'project/node_modules', true, '/home/ann'), false);
  assert.equal(excluded(rules, 'project/.cache-notes.txt'), false);
  assert.equal(excluded(rules, '.cache', false), false, 'a file named .cache');
  assert.equal(excluded(rules, 'work/Cache', true), false);
  assert.equal(excluded(rules, 'work/Caches', true), false);
  assert.equal(excluded(rules, 'work/Library/Caches.txt'), false);
  assert.equal(excluded(rules, 'work/draft.tmp'), false);
  assert.equal(excluded(rules, 'work/desktop.ini'), false);
  assert.equal(excluded(rules, 'work/project.swp'), false, 'not a vim swap file');
  assert.equal(excluded(rules, 'work/Trash', true), false);
});

test('a user pattern after the defaults can bring a group back', () => {
  const rules = new ExcludeRules({ patterns: [...DEFAULT_EXCLUDES, '!.cache/'] });
  assert.equal(excluded(rules, '.cache', true, '/home/ann'), false);
  assert.equal(excluded(rules, '.cache/pip/x', false, '/home/ann'), false);
  assert.equal(excluded(rules, '.Trash', true, '/home/ann'), true);
});

test('odd names and odd paths never make the matcher throw', () => {
  const rules = new ExcludeRules({ patterns: ['*.tmp', '/a/b/', '[', 'foo\\', '[z-a]', '!'] });
  const names = ['#hash', '!bang', '[bracket', ']', 'sp ace', ' lead', 'trail ', 'ünï cödé 文件', '😀', 'back\\slash', 'new\nline', 'tab\there', '\ufffd\ufffd', '..dots', '...', '*', '?', '~$x'];
  for (const name of names) {
    assert.equal(excluded(rules, name), false, name);
    assert.equal(excluded(rules, `${name}.tmp`), true, name);
    assert.equal(excluded(rules, `${name}/inner.tmp`), true, name);
    assert.equal(excluded(rules, name, true), false, name);
  }
  for (const path of ['', '/', './', '/x.tmp', './x.tmp', '//x.tmp', '../x.tmp', '.', '..']) {
    assert.doesNotThrow(() => rules.matchPath(path, path, false), JSON.stringify(path));
    assert.doesNotThrow(() => rules.matchPath(path, path, true), JSON.stringify(path));
  }
  assert.equal(rules.matchPath('./x.tmp', '/src/x.tmp', false).excluded, true);
  assert.equal(rules.matchPath('', '/src', true).excluded, false);
});

test('answers stay right across many paths', () => {
  const rules = new ExcludeRules({ patterns: ['build/', '/home/*/VMs/', '*.o'] });
  for (let i = 0; i < 25_000; i++) {
    assert.equal(excluded(rules, `dir${i}/build/x`), true);
    assert.equal(excluded(rules, `dir${i}/src/x.c`), false);
    assert.equal(excluded(rules, `dir${i}/x`, false, '/home/ann/VMs'), true);
  }
});

test('size limit applies to larger files only', () => {
  const rules = new ExcludeRules({ patterns: [], excludeLargerThan: 1024 ** 3 });
  assert.deepEqual(rules.matchSize(1024 ** 3), { excluded: false });
  assert.deepEqual(rules.matchSize(1024 ** 3 + 1), { excluded: true, reason: 'larger than 1.0 GiB' });
  assert.deepEqual(new ExcludeRules({ patterns: [] }).matchSize(Number.MAX_SAFE_INTEGER), { excluded: false });
  assert.equal(new ExcludeRules({ patterns: [], excludeLargerThan: 0 }).matchSize(1).excluded, true);
});

test('CACHEDIR.TAG with the right signature marks a cache; anything else does not', async (t) => {
  const dir = await tempDir(t);
  const rules = new ExcludeRules({ patterns: [], excludeCaches: true });
  const folder = async (name: string, tag?: string | Buffer): Promise<string> => {
    await mkdir(join(dir, name));
    if (tag !== undefined) await writeFile(join(dir, name, 'CACHEDIR.TAG'), tag);
    return join(dir, name);
  };
  assert.equal(await rules.isCacheDirectory(await folder('cache', `${SIGNATURE}\n# This file is a cache directory tag.\n`)), true);
  assert.equal(await rules.isCacheDirectory(await folder('bare', SIGNATURE)), true, 'nothing after the signature');
  assert.equal(await rules.isCacheDirectory(await folder('wrong', 'Signature: 00000000000000000000000000000000\n')), false);
  assert.equal(await rules.isCacheDirectory(await folder('lower', SIGNATURE.toLowerCase())), false);
  assert.equal(await rules.isCacheDirectory(await folder('short', SIGNATURE.slice(0, 20))), false);
  assert.equal(await rules.isCacheDirectory(await folder('late', ` ${SIGNATURE}`)), false);
  assert.equal(await rules.isCacheDirectory(await folder('empty', '')), false);
  assert.equal(await rules.isCacheDirectory(await folder('plain')), false);
  assert.equal(await rules.isCacheDirectory(join(dir, 'missing')), false);
  await mkdir(join(await folder('tag-is-folder'), 'CACHEDIR.TAG'));
  assert.equal(await rules.isCacheDirectory(join(dir, 'tag-is-folder')), false);
  await symlink(join(dir, 'cache', 'CACHEDIR.TAG'), join(await folder('linked'), 'CACHEDIR.TAG'));
  assert.equal(await rules.isCacheDirectory(join(dir, 'linked')), false, 'a symlinked tag is not followed');
});

test('a pipe named CACHEDIR.TAG is not waited on', { skip: process.platform === 'win32', timeout: 10_000 }, async (t) => {
  const dir = await tempDir(t);
  try {
    execFileSync('mkfifo', [join(dir, 'CACHEDIR.TAG')], { stdio: 'pipe' });
  } catch {
    t.skip('mkfifo is not available');
    return;
  }
  assert.equal(await new ExcludeRules({ patterns: [], excludeCaches: true }).isCacheDirectory(dir), false);
});

test('exclude files: one pattern a line, comments and blank lines skipped, CRLF and BOM accepted', async (t) => {
  const file = join(await tempDir(t), 'excludes.txt');
  await writeFile(file, '\uFEFF# caches\r\n*.tmp\r\n\r\n  \r\nbuild/   \n\t\n!keep.tmp\n\\#not-a-comment\n  # indented is a pattern\n/home/*/VMs/');
  assert.deepEqual(await ExcludeRules.readExcludeFile(file), ['*.tmp', 'build/', '!keep.tmp', '\\#not-a-comment', '  # indented is a pattern', '/home/*/VMs/']);
  const rules = new ExcludeRules({ patterns: await ExcludeRules.readExcludeFile(file) });
  assert.equal(excluded(rules, 'a.tmp'), true);
  assert.equal(excluded(rules, 'keep.tmp'), false);
  assert.equal(excluded(rules, '#not-a-comment'), true);
});

test('an exclude file that cannot be read is an error', async (t) => {
  await assert.rejects(ExcludeRules.readExcludeFile(join(await tempDir(t), 'missing.txt')), { code: 'ENOENT' });
});

test('the quick test before the matcher passes every path the patterns exclude', () => {
  const quick = possibleExclusions(DEFAULT_EXCLUDES, false);
  assert.ok(quick, 'the defaults are simple enough for it');
  assert.equal(quick.test('src/main.c'), false);
  assert.equal(quick.test('docs/Caches.txt'), false);
  assert.equal(quick.test('home/.cache'), true);
  assert.equal(possibleExclusions(['a[bc]']), undefined, 'a character class is left to the matcher');
  assert.equal(possibleExclusions(['**']), undefined);
  // Random patterns and paths from a small alphabet, so that they often meet: whatever the matcher
  // excludes (as a file or as a folder), the quick test must pass.
  let seed = 7;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const pick = (choices: readonly string[]) => choices[random(choices.length)] as string;
  const name = () => Array.from({ length: 1 + random(3) }, () => pick(['a', 'b', '.', 'A'])).join('');
  const glob = () => Array.from({ length: 1 + random(3) }, () => pick(['a', 'b', '.', '*', '?', 'A', '**'])).join('');
  let checked = 0;
  for (let round = 0; round < 3000; round++) {
    const patterns = Array.from({ length: 1 + random(3) }, () => {
      const segments = Array.from({ length: 1 + random(3) }, () => (random(5) === 0 ? '**' : glob()));
      return `${pick(['', '', '/', '!'])}${segments.join('/')}${pick(['', '/', '/**'])}`;
    });
    for (const ignoreCase of [false, true]) {
      const matcher = ignore({ ignorecase: ignoreCase }).add(patterns);
      const test = possibleExclusions(patterns, ignoreCase);
      if (!test) continue;
      for (let i = 0; i < 10; i++) {
        const path = Array.from({ length: 1 + random(4) }, name).join('/');
        if (test.test(path)) continue;
        checked += 1;
        assert.equal(matcher.ignores(path), false, `${JSON.stringify(patterns)} exclude ${path}`);
        assert.equal(matcher.ignores(`${path}/`), false, `${JSON.stringify(patterns)} exclude ${path}/`);
      }
    }
  }
  assert.ok(checked > 10_000, `${checked} paths ruled out`);
});
