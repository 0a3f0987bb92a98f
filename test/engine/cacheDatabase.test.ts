import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { openCacheDatabase } from '../../src-main/engine/cacheDatabase.js';
import { holdSqliteWriteLock } from '../fixtures/sqliteWriter.js';
import { tempDir } from '../helpers/tempDir.js';

const run = promisify(execFile);
const module = fileURLToPath(new URL('../../src-main/engine/cacheDatabase.js', import.meta.url));

// A first migration slow enough (a few hundred ms of work inside it) that processes starting together overlap.
const MIGRATIONS = [
  'CREATE TABLE things (n INTEGER); INSERT INTO things WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 300000) SELECT n FROM c;',
  'CREATE TABLE more (n INTEGER);',
];

test('processes that open a new cache database at the same moment all succeed, and the schema is applied once', async (t) => {
  for (let round = 0; round < 3; round++) {
    const folder = join(await tempDir(t), 'cache');
    const script = `const { openCacheDatabase } = await import(${JSON.stringify(module)}); openCacheDatabase(${JSON.stringify(folder)}, 'x.sqlite', ${JSON.stringify(MIGRATIONS)}).close();`;
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => run(process.execPath, ['--input-type=module', '-e', script])));
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => String((r.reason as { stderr?: string }).stderr ?? r.reason));
    assert.deepEqual(failures, [], `round ${round}`);
    const db = openCacheDatabase(folder, 'x.sqlite', MIGRATIONS);
    assert.equal(db.pragma('user_version', { simple: true }), 2);
    assert.equal((db.prepare('SELECT count(*) AS n FROM things').get() as { n: number }).n, 300000);
    db.close();
  }
});

test('an open that meets another process writing to the new database waits for it instead of failing with "database is locked"', async (t) => {
  const folder = join(await tempDir(t), 'cache');
  await run(process.execPath, ['-e', `require('node:fs').mkdirSync(${JSON.stringify(folder)})`]);
  // The other process holds a write lock on the file in its first (rollback journal) state, as a process
  // converting it to WAL does; this one's switch to WAL reads the header and then has to wait for it.
  const { exited } = await holdSqliteWriteLock(join(folder, 'x.sqlite'), 400, 'CREATE TABLE theirs (n INTEGER)');
  const db = openCacheDatabase(folder, 'x.sqlite', MIGRATIONS);
  assert.deepEqual(await exited, [0, null]);
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  assert.equal(db.pragma('user_version', { simple: true }), 2);
  const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
  assert.deepEqual(tables, ['more', 'theirs', 'things']);
  db.close();
});
