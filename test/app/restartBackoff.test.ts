import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RestartBackoff } from '../../src-main/app/restartBackoff.js';

test('crashes in a row wait twice as long each time, up to the cap, then the host gives up', () => {
  const backoff = new RestartBackoff({ baseMs: 1000, maxMs: 5000, maxCrashes: 5, stableMs: 60_000 });
  const waits = [0, 1, 2, 3, 4].map((i) => backoff.crashed(i * 100));
  assert.deepEqual(waits, [
    { restartInMs: 1000, attempt: 1 },
    { restartInMs: 2000, attempt: 2 },
    { restartInMs: 4000, attempt: 3 },
    { restartInMs: 5000, attempt: 4 },
    { restartInMs: 5000, attempt: 5 },
  ]);
  assert.deepEqual(backoff.crashed(600), { giveUp: true, crashes: 6 });
});

test('an agent that was up long enough starts a fresh count; one that crashes soon after starting does not', () => {
  const backoff = new RestartBackoff({ baseMs: 1000, maxMs: 60_000, maxCrashes: 3, stableMs: 60_000 });
  backoff.crashed(0);
  backoff.started(1000);
  assert.deepEqual(backoff.crashed(5000), { restartInMs: 2000, attempt: 2 }, 'up for 4 s: still the same streak');
  backoff.started(10_000);
  assert.deepEqual(backoff.crashed(10_000 + 60_000), { restartInMs: 1000, attempt: 1 }, 'up for a minute: recovered');
});
