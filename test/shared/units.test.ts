import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatBytes, formatDuration, parseBytes, parseDuration } from '../../src-shared/units.js';

test('parseBytes reads plain numbers, binary and decimal units', () => {
  assert.equal(parseBytes('512'), 512);
  assert.equal(parseBytes('16MiB'), 16 * 1024 * 1024);
  assert.equal(parseBytes('64k'), 64 * 1024);
  assert.equal(parseBytes('1.5 GB'), 1_500_000_000);
  assert.equal(parseBytes('lots'), undefined);
  assert.equal(parseBytes('5 parsecs'), undefined);
});

test('formatBytes uses binary prefixes', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(1023), '1023 B');
  assert.equal(formatBytes(1024), '1.0 KiB');
  assert.equal(formatBytes(16 * 1024 * 1024), '16.0 MiB');
});

test('durations parse and print', () => {
  assert.equal(parseDuration('90s'), 90_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('2d'), 172_800_000);
  assert.equal(parseDuration('soon'), undefined);
  assert.equal(parseDuration(''), undefined);
  assert.equal(formatDuration(850), '850ms');
  assert.equal(formatDuration(185_000), '3m05s');
  assert.equal(formatDuration(7_440_000), '2h04m');
});
