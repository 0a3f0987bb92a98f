import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { applyV8Flags, V8_FLAGS } from '../../src-main/agent/v8Flags.js';

test('applyV8Flags sets the flags at once and V8\'s own optimisation budget once the process has run a while', async () => {
  const set: string[] = [];
  applyV8Flags((flag) => set.push(flag), 30);
  assert.deepEqual(set, [...V8_FLAGS]);
  assert.ok(V8_FLAGS.includes('--interrupt-budget=1000000'));
  await sleep(100);
  assert.deepEqual(set, [...V8_FLAGS, '--interrupt-budget=67584']);
});

test('the timer that changes the budget does not keep a process alive', () => {
  const module = new URL('../../src-main/agent/v8Flags.js', import.meta.url).href;
  const started = Date.now();
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', `(await import(${JSON.stringify(module)})).applyV8Flags(() => {}, 60000)`], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(child.status, 0, child.stderr);
  assert.ok(Date.now() - started < 20_000, 'the process waited for the timer');
});
