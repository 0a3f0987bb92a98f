import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseOptions, UsageError } from './options.js';

test('bench options: defaults, repeated datasets, sizes', () => {
  const defaults = parseOptions([], '/home/ann');
  assert.deepEqual(defaults.datasets, ['synthetic']);
  assert.equal(defaults.size, 1024 ** 3);
  assert.equal(defaults.repeat, 1);
  assert.equal(defaults.datasetsDir, '/home/ann/.cache/hindsight-bench');
  const options = parseOptions(['--dataset', 'synthetic', '--dataset', 'linux', '--dataset', '/data/src', '--size', '64M', '--repeat', '3', '--only', 'hindsight', '--keep'], '/h');
  assert.deepEqual(options.datasets, ['synthetic', 'linux', '/data/src']);
  assert.equal(options.size, 64 * 1024 * 1024);
  assert.equal(options.sizeText, '64M');
  assert.equal(options.repeat, 3);
  assert.equal(options.only, 'hindsight');
  assert.equal(options.keep, true);
  assert.equal(parseOptions(['--help'], '/h').help, true);
  assert.equal(parseOptions(['--datasets-dir', '/cache'], '/h').datasetsDir, '/cache');
  assert.equal(defaults.baseline, undefined);
  assert.equal(parseOptions(['--baseline', '/work/before'], '/h').baseline, '/work/before');
});

test('bench options: mistakes are one-line usage errors', () => {
  for (const args of [['--bogus'], ['stray'], ['--repeat', '0'], ['--repeat', '1.5'], ['--size', 'lots'], ['--only', 'tar'], ['--dataset', 'gcc', '--dataset', 'gcc'], ['--baseline', '/b', '--only', 'restic']]) {
    assert.throws(() => parseOptions(args, '/h'), (error: unknown) => error instanceof UsageError && !error.message.includes('\n'), args.join(' '));
  }
});
