import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { openCacheDatabase } from '../../src-main/engine/cacheDatabase.js';
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
