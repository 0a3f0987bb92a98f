import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { DEFAULT_EXCLUDES } from '../../../src-shared/defaultExcludes.js';
import { ExcludeRules } from '../../../src-main/engine/archiver/excludes.js';
import { tempDir } from '../../helpers/tempDir.js';

const excluded = (rules: ExcludeRules, relative: string, isDir = false, absolute = `/src/${relative}`) => rules.matchPath(relative, absolute, isDir).excluded;

test('gitignore patterns: globs, folders only, anchored, ** and negation', () => {
  const rules = new ExcludeRules({ patterns: ['*.log', 'build/', '/top-only.txt', '**/tmp/**', 'secret*', '!secret-but-keep.txt'] });
  assert.equal(excluded(rules, 'a.log'), true);
  assert.equal(excluded(rules, 'deep/down/b.log'), true);
  assert.equal(excluded(rules, 'a.log.txt'), false);
  assert.equal(excluded(rules, 'build', true), true);
  assert.equal(excluded(rules, 'build', false), false, 'a file named build is kept');
  assert.equal(excluded(rules, 'top-only.txt'), true);
  assert.equal(excluded(rules, 'sub/top-only.txt'), false);
  assert.equal(excluded(rules, 'x/tmp/y/z.bin'), true);
  assert.equal(excluded(rules, 'secret.key'), true);
  assert.equal(excluded(rules, 'secret-but-keep.txt'), false);
});

test('patterns that name an absolute location match the absolute path', () => {
  const rules = new ExcludeRules({ patterns: ['/home/*/Downloads/', '/var/lib/docker/'] });
  assert.equal(excluded(rules, 'Downloads', true, '/home/ann/Downloads'), true);
  assert.equal(excluded(rules, 'ann/Downloads', true, '/home/ann/Downloads'), true);
  assert.equal(excluded(rules, 'Downloads', true, '/mnt/usb/Downloads'), false);
  assert.equal(excluded(rules, 'docker', true, '/var/lib/docker'), true);
});

test('the default list skips caches and trash but keeps documents and node_modules', () => {
  const rules = new ExcludeRules({ patterns: DEFAULT_EXCLUDES });
  assert.equal(excluded(rules, '.cache', true, '/home/ann/.cache'), true);
  assert.equal(excluded(rules, '.local/share/Trash', true, '/home/ann/.local/share/Trash'), true);
  assert.equal(excluded(rules, 'Library/Caches', true, '/Users/bo/Library/Caches'), true);
  assert.equal(excluded(rules, 'photos/.DS_Store'), true);
  assert.equal(excluded(rules, 'report.docx.swp'), true);
  assert.equal(excluded(rules, '~$report.docx'), true);
  assert.equal(excluded(rules, 'Documents/report.docx', false, '/home/ann/Documents/report.docx'), false);
  assert.equal(excluded(rules, 'project/node_modules', true, '/home/ann/project/node_modules'), false);
  assert.equal(excluded(rules, 'project/.cache-notes.txt', false, '/home/ann/project/.cache-notes.txt'), false);
});

test('odd names never make the matcher throw', () => {
  const rules = new ExcludeRules({ patterns: ['*.tmp', '/a/b/'] });
  for (const name of ['#hash', '!bang', '[bracket', 'sp ace', 'ünï cödé 文件', 'back\\slash', 'new\nline', '\ufffd\ufffd']) {
    assert.equal(excluded(rules, name), false, name);
    assert.equal(excluded(rules, `${name}.tmp`), true, name);
  }
});

test('size limit applies to files', () => {
  const rules = new ExcludeRules({ patterns: [], excludeLargerThan: 1000 });
  assert.deepEqual(rules.matchSize(1000), { excluded: false });
  assert.equal(rules.matchSize(1001).excluded, true);
  assert.match(rules.matchSize(1001).reason ?? '', /larger than 1000 B/);
});

test('CACHEDIR.TAG with the right signature marks a cache; a wrong one does not', async (t) => {
  const dir = await tempDir(t);
  const rules = new ExcludeRules({ patterns: [], excludeCaches: true });
  await mkdir(join(dir, 'cache'));
  await writeFile(join(dir, 'cache', 'CACHEDIR.TAG'), 'Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag.\n');
  await mkdir(join(dir, 'fake'));
  await writeFile(join(dir, 'fake', 'CACHEDIR.TAG'), 'Signature: not the right one');
  await mkdir(join(dir, 'plain'));
  assert.equal(await rules.isCacheDirectory(join(dir, 'cache')), true);
  assert.equal(await rules.isCacheDirectory(join(dir, 'fake')), false);
  assert.equal(await rules.isCacheDirectory(join(dir, 'plain')), false);
});

test('exclude files: one pattern a line, comments and blank lines ignored, CRLF accepted', async (t) => {
  const file = join(await tempDir(t), 'excludes.txt');
  await writeFile(file, '# caches\r\n*.tmp\r\n\r\n  \r\nbuild/   \n!keep.tmp\n');
  assert.deepEqual(await ExcludeRules.readExcludeFile(file), ['*.tmp', 'build/', '!keep.tmp']);
});
