import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative } from 'node:path';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { fileURLToPath } from 'node:url';

/**
 * Runs every compiled test file under build/test (optionally only those whose
 * path contains one of the arguments), then the UI tests (Playwright, test/ui;
 * filter "ui"), and ends with one summary line counting both.
 */
const root = fileURLToPath(new URL('.', import.meta.url));
const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
const filters = process.argv.slice(2);
const runUi = filters.length === 0 || filters.some((f) => f === 'ui' || f.startsWith('ui/'));

function findTests(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return findTests(path);
    return entry.name.endsWith('.test.js') ? [path] : [];
  });
}

const nodeFilters = filters.filter((f) => f !== 'ui' && !f.startsWith('ui/'));
const files = findTests(root)
  .filter((file) => filters.length === 0 || nodeFilters.some((f) => relative(root, file).includes(f)))
  .sort();

let passed = 0;
let failed = 0;
let skipped = 0;
const started = Date.now();
// Ten minutes per file; the full reliability run (a million files, hundreds of cuts) sets more.
const timeout = Number(process.env.HINDSIGHT_FILE_TIMEOUT_MINUTES ?? 10) * 60_000;
if (files.length === 0) void finish();
else {
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
    setImmediate(() => void finish());
  });
}

interface PlaywrightStats {
  expected: number;
  unexpected: number;
  flaky: number;
  skipped: number;
}

/** Runs the Playwright suite; its JSON report gives the counts. */
async function runUiTests(): Promise<PlaywrightStats | undefined> {
  const report = join(projectRoot, 'build', 'playwright-results.json');
  rmSync(report, { force: true });
  const uiFilter = filters.filter((f) => f.startsWith('ui/')).map((f) => f.slice('ui/'.length));
  const cli = join(projectRoot, 'node_modules', '@playwright', 'test', 'cli.js');
  const code = await new Promise<number>((resolve) => {
    spawn(process.execPath, [cli, 'test', ...uiFilter], { cwd: projectRoot, stdio: 'inherit' }).once('exit', (c) => resolve(c ?? 1));
  });
  if (!existsSync(report)) {
    console.error(`The UI tests did not run (Playwright exited with ${code}).`);
    return undefined;
  }
  return (JSON.parse(readFileSync(report, 'utf8')) as { stats: PlaywrightStats }).stats;
}

async function finish(): Promise<void> {
  let uiNote = '';
  let uiBroken = false;
  if (runUi) {
    const stats = await runUiTests();
    if (stats) {
      passed += stats.expected + stats.flaky;
      failed += stats.unexpected;
      skipped += stats.skipped;
      uiNote = `, ${stats.expected + stats.flaky + stats.unexpected + stats.skipped} of them UI tests in Chromium`;
    } else uiBroken = true;
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped (${files.length} files${uiNote}, ${seconds}s)`);
  process.exitCode = failed > 0 || uiBroken || (files.length === 0 && !runUi) ? 1 : 0;
}
