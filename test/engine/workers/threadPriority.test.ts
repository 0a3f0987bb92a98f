import assert from 'node:assert/strict';
import { getPriority } from 'node:os';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';

const linux = process.platform === 'linux';

test('lowerThreadPriority lowers the calling thread only', { skip: linux ? false : 'per-thread priorities are set on Linux only' }, async () => {
  const module = new URL('../../../src-main/engine/workers/threadPriority.js', import.meta.url).href;
  // The worker lowers itself and reports its own thread's priority, read back by thread id.
  const source = `
    import { readlinkSync } from 'node:fs';
    import { getPriority } from 'node:os';
    import { parentPort } from 'node:worker_threads';
    import { lowerThreadPriority } from ${JSON.stringify(module)};
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    const before = getPriority(tid);
    lowerThreadPriority(5);
    parentPort.postMessage({ before, after: getPriority(tid) });
  `;
  const mainBefore = getPriority();
  const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(source)}`));
  const reported = await new Promise<{ before: number; after: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  assert.equal(reported.after, Math.min(19, reported.before + 5));
  assert.equal(getPriority(), mainBefore, 'the main thread keeps its priority');
});
