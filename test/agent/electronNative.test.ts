import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { electronSqliteBinding, unpackedPath } from '../../src-main/agent/electronNative.js';
import { openCacheDatabase, useSqliteBinding } from '../../src-main/engine/cacheDatabase.js';
import { tempDir } from '../helpers/tempDir.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

test('better-sqlite3 for Electron: found by Electron version, under app.asar.unpacked when packaged, or a sentence saying why not', async (t) => {
  const build = join(await tempDir(t), 'resources', 'app.asar', 'build');
  assert.match((electronSqliteBinding(build, '45.4.1') as { missing: string }).missing, /not built; "npm start" builds it/);
  const native = join(unpackedPath(build), 'electron-native');
  await mkdir(native, { recursive: true });
  await writeFile(join(native, 'better_sqlite3-electron-44.0.0.node'), '');
  assert.match((electronSqliteBinding(build, '45.4.1') as { missing: string }).missing, /built for another Electron \(better_sqlite3-electron-44\.0\.0\.node\)/);
  await writeFile(join(native, 'better_sqlite3-electron-45.4.1.node'), '');
  assert.deepEqual(electronSqliteBinding(build, '45.4.1'), { path: join(native, 'better_sqlite3-electron-45.4.1.node') });
  assert.equal(unpackedPath('/opt/Hindsight/resources/app.asar/build/x.node'), '/opt/Hindsight/resources/app.asar.unpacked/build/x.node');
  assert.equal(unpackedPath('/home/ann/app.asarx/build'), '/home/ann/app.asarx/build', 'only a whole app.asar folder');
});

test('the databases open through the addon useSqliteBinding names (how the desktop agent loads its Electron build)', async (t) => {
  const dir = await tempDir(t);
  // A copy of Node's build under another name stands in for Electron's (which cannot load in Node).
  const own = join(dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json')), 'build', 'Release', 'better_sqlite3.node');
  const elsewhere = join(dir, 'better_sqlite3-electron-0.0.0.node');
  await copyFile(own, elsewhere);
  useSqliteBinding(join(dir, 'missing.node'));
  assert.throws(() => openCacheDatabase(join(dir, 'a'), 'test.sqlite', []), /Cannot find module .*missing\.node/, 'the named addon is what loads');
  useSqliteBinding(elsewhere);
  const db = openCacheDatabase(join(dir, 'b'), 'test.sqlite', ['CREATE TABLE t (x)']);
  db.prepare('INSERT INTO t VALUES (1)').run();
  assert.equal(db.pragma('user_version', { simple: true }), 1);
  db.close();
});

test('the desktop agent sets the same V8 flags as the CLI, before anything runs', async () => {
  for (const entry of ['bin/hindsight.js', 'src-main/agent/utilityMain.ts']) assert.match(await readFile(join(root, entry), 'utf8'), /applyV8Flags\(\)/, entry);
});
