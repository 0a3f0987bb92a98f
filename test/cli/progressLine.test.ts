import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatProgress } from '../../src-main/cli/progressLine.js';

const base = { operation: 'backup' as const, phase: 'backing up', bytesPerSecond: 1024, elapsedMs: 2000 };

test('the progress line drops estimated totals once they are passed: never "100% 10/9 files"', () => {
  const within = formatProgress({ ...base, filesDone: 5, filesTotal: 9, bytesDone: 50, bytesTotal: 100, etaSeconds: 2 });
  assert.match(within, / 50% 5\/9 files, 50 B\/100 B, .* ETA /);
  const passed = formatProgress({ ...base, filesDone: 10, filesTotal: 9, bytesDone: 120, bytesTotal: 100, etaSeconds: 0 });
  assert.doesNotMatch(passed, /%|10\/9|ETA/);
  assert.match(passed, /10 files, 120 B,/);
  assert.match(formatProgress({ ...base, filesDone: 1, bytesDone: 1 }), / 1 file, /);
});
