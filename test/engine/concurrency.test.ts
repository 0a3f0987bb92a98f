import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { forEachInOrder } from '../../src-main/engine/concurrency.js';

test('forEachInOrder uses results in the items order, with at most `items` loading or waiting to be used', async () => {
  const items = Array.from({ length: 25 }, (_, i) => i);
  const used: number[] = [];
  let outstanding = 0;
  let most = 0;
  await forEachInOrder(
    items,
    { items: 4, weight: Infinity, weigh: () => 1 },
    async (item) => {
      outstanding += 1;
      most = Math.max(most, outstanding);
      // Later items often finish first.
      await sleep((7 * item) % 5);
      return item * 10;
    },
    (result, item) => {
      outstanding -= 1;
      assert.equal(result, item * 10);
      used.push(item);
    },
  );
  assert.deepEqual(used, items);
  assert.equal(most, 4);
});

test('forEachInOrder loads ahead only as far as the weight allows, and an item heavier than that alone', async () => {
  // Weights as index files' sizes: small ones go several at once, large ones one or two.
  const weights = [1, 1, 1, 1, 6, 1, 9, 2, 2, 5, 5, 1];
  let outstanding = 0;
  const seen: number[] = [];
  const used: number[] = [];
  await forEachInOrder(
    weights.map((weight, index) => ({ index, weight })),
    { items: 8, weight: 6, weigh: ({ weight }) => weight },
    async ({ index, weight }) => {
      outstanding += weight;
      seen.push(outstanding);
      await sleep(1);
      return index;
    },
    (index, { weight }) => {
      outstanding -= weight;
      used.push(index);
    },
  );
  assert.deepEqual(used, weights.map((_, index) => index));
  // The 9 exceeds the limit on its own: it is loaded when its turn comes, with nothing else outstanding.
  assert.ok(seen.every((weight) => weight <= 6 || weight === 9), `outstanding weights: ${seen.join(' ')}`);
  assert.ok(seen.includes(9));
  assert.ok(seen.includes(4), 'light items are loaded several at once');
});

test('forEachInOrder stops at a failed load, and the loads it started settle before the failure goes up', async () => {
  const started: number[] = [];
  let settled = 0;
  const used: number[] = [];
  await assert.rejects(
    forEachInOrder(
      Array.from({ length: 20 }, (_, i) => i),
      { items: 3, weight: Infinity, weigh: () => 1 },
      async (item) => {
        started.push(item);
        try {
          await sleep(item === 5 ? 1 : 5);
          if (item === 5) throw new Error('item 5 could not be read');
          return item;
        } finally {
          settled += 1;
        }
      },
      (result: number) => used.push(result),
    ),
    /item 5 could not be read/,
  );
  assert.deepEqual(used, [0, 1, 2, 3, 4]);
  assert.equal(settled, started.length, 'no load is left running');
  assert.ok(started.length <= 8, `loads beyond the window are not started (${started.length})`);
});
