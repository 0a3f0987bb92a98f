import { readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative } from 'node:path';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { fileURLToPath } from 'node:url';

/**
 * Runs every compiled test file under build/test (optionally only those whose
 * path contains one of the arguments) and ends with one summary line.
 */
const root = fileURLToPath(new URL('.', import.meta.url));
const filters = process.argv.slice(2);

function findTests(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return findTests(path);
    return entry.name.endsWith('.test.js') ? [path] : [];
  });
}

const files = findTests(root)
  .filter((file) => filters.length === 0 || filters.some((f) => relative(root, file).includes(f)))
  .sort();

let passed = 0;
let failed = 0;
let skipped = 0;
const started = Date.now();
// Ten minutes per file; the full reliability run (a million files, hundreds of cuts) sets more.
const timeout = Number(process.env.HINDSIGHT_FILE_TIMEOUT_MINUTES ?? 10) * 60_000;
const stream = run({ files, concurrency: Math.max(2, availableParallelism()), timeout });
stream.on('test:pass', (event) => {
  if (event.details.type === 'suite') return;
  if (event.skip || event.todo) skipped += 1;
  else passed += 1;
});
stream.on('test:fail', (event) => {
  if (event.details.type !== 'suite') failed += 1;
});
stream.compose(new spec()).pipe(process.stdout);
stream.once('end', () => {
  setImmediate(() => {
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped (${files.length} files, ${seconds}s)`);
    process.exitCode = failed > 0 || files.length === 0 ? 1 : 0;
  });
});
