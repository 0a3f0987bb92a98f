import assert from 'node:assert/strict';
import { test } from 'node:test';
import { APP_URL, IpcRejected, checkCall, checkPickFolderOptions, checkSender, checkSnapshotItem } from '../../src-main/app/ipcValidation.js';

const rejected = (code: string) => (err: unknown) => err instanceof IpcRejected && err.code === code;
const ownFrame = { url: APP_URL, isMainFrame: true };

test('the sender must be our page in the main frame', () => {
  checkSender(ownFrame);
  checkSender({ url: 'app://hindsight/index.html#/snapshots', isMainFrame: true });
  for (const frame of [
    { url: APP_URL, isMainFrame: false },
    { url: 'https://evil.example/index.html', isMainFrame: true },
    { url: 'file:///home/ann/build/renderer/index.html', isMainFrame: true },
    { url: 'app://hindsight.evil.example/index.html', isMainFrame: true },
    { url: 'app://other/index.html', isMainFrame: true },
    { url: 'about:blank', isMainFrame: true },
    { url: 'not a url', isMainFrame: true },
  ]) {
    assert.throws(() => checkSender(frame), rejected('E_IPC_SENDER'), frame.url);
  }
  assert.throws(() => checkSender(undefined), rejected('E_IPC_SENDER'), 'a frame that is gone');
  assert.throws(() => checkSender(null), rejected('E_IPC_SENDER'));
});

test('a call must name a method of the contract with parameters that satisfy its schema', () => {
  assert.deepEqual(checkCall('status.get', {}), { method: 'status.get', params: {} });
  assert.deepEqual(checkCall('status.get', undefined), { method: 'status.get', params: {} });
  assert.deepEqual(checkCall('jobs.list', {}), { method: 'jobs.list', params: { limit: 100 } }, 'defaults filled as the agent would');

  for (const method of ['fs.readFile', '__proto__', 'constructor', 'toString', 'hasOwnProperty', '', 42, null, { toString: () => 'status.get' }]) {
    assert.throws(() => checkCall(method, {}), rejected('E_UNKNOWN_METHOD'), String(method));
  }
  for (const [method, params] of [
    ['plans.delete', { id: 42 }],
    ['plans.delete', {}],
    ['status.get', { extra: true }],
    ['jobs.restore', { repository: '/r', snapshot: 'a', target: '/t', overwrite: 'yes please' }],
    ['agent.pause', { forSeconds: -1 }],
    ['host.hint', { hint: 'rm -rf /' }],
    ['jobs.list', { limit: 1e9 }],
    ['plans.create', 'not an object'],
    ['repositories.create', { location: '/r', password: '' }],
  ] as const) {
    assert.throws(() => checkCall(method, params), rejected('E_INVALID_PARAMS'), `${method} ${JSON.stringify(params)}`);
  }
});

test('a dragged item is a snapshot, a repository and an absolute path without ".."', () => {
  const item = { repository: '/media/disk', snapshot: 'abc123', path: '/home/ann/notes.txt' };
  assert.deepEqual(checkSnapshotItem(item), item);
  assert.deepEqual(checkSnapshotItem({ ...item, path: 'C:\\Users\\ann\\notes.txt' }).path, 'C:\\Users\\ann\\notes.txt');
  for (const bad of [
    { ...item, path: 'relative/notes.txt' },
    { ...item, path: '/home/ann/../../etc/shadow' },
    { ...item, path: 'C:\\Users\\..\\..\\Windows' },
    { ...item, snapshot: '' },
    { ...item, extra: 'field' },
    { ...item, path: 42 },
    '/home/ann/notes.txt',
    null,
  ]) {
    assert.throws(() => checkSnapshotItem(bad), rejected('E_INVALID_PARAMS'), JSON.stringify(bad));
  }
});

test('folder picker options: an optional short title and nothing else', () => {
  assert.deepEqual(checkPickFolderOptions(undefined), {});
  assert.deepEqual(checkPickFolderOptions({ title: 'Restore to' }), { title: 'Restore to' });
  assert.throws(() => checkPickFolderOptions({ title: 'x'.repeat(201) }), rejected('E_INVALID_PARAMS'));
  assert.throws(() => checkPickFolderOptions({ defaultPath: '/etc' }), rejected('E_INVALID_PARAMS'));
});
