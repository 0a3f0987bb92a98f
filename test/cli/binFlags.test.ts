import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ENGINE_EXEC_ARGV } from '../../src-main/agent/v8Flags.js';

const bin = fileURLToPath(new URL('../../../bin/hindsight.js', import.meta.url));

test('bin/hindsight.js starts node with the engine\'s flags (ENGINE_EXEC_ARGV) from its #! line, and runs as a program', () => {
  const shebang = readFileSync(bin, 'utf8').split('\n')[0] as string;
  assert.equal(shebang, `#!/usr/bin/env -S node ${ENGINE_EXEC_ARGV.join(' ')}`);
  // Run as a user runs it, through the #! line: the flags reach node, and the CLI answers.
  const result = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /^hindsight \d+\.\d+\.\d+/);
});
