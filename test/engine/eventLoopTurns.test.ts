import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventLoopTurns } from '../../src-main/engine/eventLoopTurns.js';

/** Runs a chain of already-resolved awaits for up to 50 ms; says whether a callback queued for the event loop ran meanwhile. */
async function callbackRanDuringChain(turns?: EventLoopTurns): Promise<boolean> {
  let ran = false;
  setImmediate(() => {
    ran = true;
  });
  const until = performance.now() + 50;
  while (performance.now() < until) {
    await turns?.take();
    await Promise.resolve();
    if (ran) return true;
  }
  return false;
}

test('a chain of awaits that takes turns lets the event loop run within a slice; without them it starves', async () => {
  assert.equal(await callbackRanDuringChain(), false, 'microtasks alone should hold the event loop');
  const started = performance.now();
  assert.equal(await callbackRanDuringChain(new EventLoopTurns(2)), true);
  assert.ok(performance.now() - started < 40, 'the turn came well within the chain');
});
