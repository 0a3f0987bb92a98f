import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BufferPool } from '../../src-main/engine/bufferPool.js';

test('pack buffers: the smallest free one that fits is reused, at most `keep` are kept', () => {
  const buffers = new BufferPool(2);
  const small = buffers.take(1000);
  const large = buffers.take(5000);
  const extra = buffers.take(3000);
  assert.ok(small.length >= 1000 && large.length >= 5000 && extra.length >= 3000);
  buffers.give(large);
  buffers.give(small);
  buffers.give(extra);
  assert.equal(buffers.take(900), small);
  assert.equal(buffers.take(900), large);
  // The third was dropped, not kept: a new buffer comes.
  const fresh = buffers.take(900);
  assert.ok(fresh !== extra && fresh !== small && fresh !== large);
});

test('pack buffers with an aligned size: the first `keep` share one memory, come back to the pool always, and are taken before ordinary ones', () => {
  const buffers = new BufferPool(2, 64 * 1024);
  const first = buffers.take(64 * 1024);
  const second = buffers.take(1000);
  const ordinary = buffers.take(64 * 1024);
  assert.equal(first.buffer, second.buffer, 'the aligned buffers are slices of one memory');
  assert.notEqual(ordinary.buffer, first.buffer, 'a third comes from ordinary memory');
  assert.deepEqual([first.byteOffset % (64 * 1024), second.byteOffset % (64 * 1024), first.length, second.length], [0, 0, 64 * 1024, 64 * 1024]);
  buffers.give(ordinary);
  buffers.give(first);
  buffers.give(second);
  // The pool was full with the ordinary one and the first, yet the second was kept: aligned memory is never dropped.
  const again = [buffers.take(64 * 1024), buffers.take(64 * 1024)];
  assert.ok(again.every((buffer) => buffer.buffer === first.buffer), 'aligned buffers are taken first');
  assert.equal(buffers.take(64 * 1024), ordinary);
});
