import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { compileFunction } from 'node:vm';

const preloadFile = fileURLToPath(new URL('../../src-main/app/preload.cjs', import.meta.url));

/**
 * Runs the compiled preload the way Electron runs a sandboxed preload: its
 * source wrapped in a function of require, process, exports, module and the
 * exposed globals, with a `require` that knows only what the sandbox offers.
 */
function loadPreload() {
  const required: string[] = [];
  const exposed = new Map<string, unknown>();
  const invoked: unknown[][] = [];
  const sent: unknown[][] = [];
  const channels = new Map<string, (event: unknown, ...args: unknown[]) => void>();
  let answer: unknown = { ok: true, result: 'fine' };
  const electron = {
    contextBridge: { exposeInMainWorld: (key: string, api: unknown) => exposed.set(key, api) },
    ipcRenderer: {
      invoke: (...args: unknown[]) => {
        invoked.push(args);
        return Promise.resolve(answer);
      },
      send: (...args: unknown[]) => sent.push(args),
      on: (channel: string, listener: (event: unknown, ...args: unknown[]) => void) => channels.set(channel, listener),
    },
  };
  const sandboxRequire = (name: string) => {
    required.push(name);
    if (name === 'electron') return electron;
    throw new Error(`module not found: ${name}`);
  };
  const params = ['require', 'process', 'exports', 'module', 'Buffer', 'global', 'setImmediate', 'clearImmediate'];
  const run = compileFunction(readFileSync(preloadFile, 'utf8'), params);
  const exports = {};
  run(sandboxRequire, {}, exports, { exports }, undefined, globalThis, setImmediate, clearImmediate);
  return { required, exposed, invoked, sent, channels, setAnswer: (value: unknown) => (answer = value) };
}

test('the preload is self-contained: in the sandbox it requires electron and nothing else', () => {
  const { required, exposed } = loadPreload();
  assert.deepEqual(required, ['electron']);
  assert.deepEqual([...exposed.keys()], ['hindsight']);
});

test('window.hindsight is exactly the HindsightClient: call, onEvent and the desktop bridge', async () => {
  const preload = loadPreload();
  const client = preload.exposed.get('hindsight') as {
    call(method: string, params: unknown): Promise<unknown>;
    onEvent(listener: (event: unknown) => void): () => void;
    desktop: { pickFolder(o?: unknown): Promise<unknown>; prepareDrag(i: unknown): Promise<unknown>; startDrag(i: unknown): void };
  };
  assert.deepEqual(Object.keys(client).sort(), ['call', 'desktop', 'onEvent']);
  assert.deepEqual(Object.keys(client.desktop).sort(), ['pickFolder', 'prepareDrag', 'startDrag']);

  assert.equal(await client.call('status.get', {}), 'fine');
  preload.setAnswer({ ok: false, error: { code: 'E_WRONG_PASSWORD', message: 'The password is wrong.' } });
  await assert.rejects(client.call('repositories.connect', { location: '/r', password: 'x' }), { name: 'HindsightError', code: 'E_WRONG_PASSWORD', message: 'The password is wrong.' });
  preload.setAnswer({ ok: true, result: '/home/ann/restore' });
  assert.equal(await client.desktop.pickFolder({ title: 'Restore to' }), '/home/ann/restore');
  const item = { repository: '/r', snapshot: 's', path: '/a' };
  await client.desktop.prepareDrag(item);
  client.desktop.startDrag(item);
  assert.deepEqual(preload.invoked, [
    ['hindsight:call', 'status.get', {}],
    ['hindsight:call', 'repositories.connect', { location: '/r', password: 'x' }],
    ['hindsight:pickFolder', { title: 'Restore to' }],
    ['hindsight:prepareDrag', item],
  ]);
  assert.deepEqual(preload.sent, [['hindsight:startDrag', item]]);

  const seen: unknown[] = [];
  const stop = client.onEvent((event) => seen.push(event));
  const deliver = preload.channels.get('hindsight:event');
  deliver?.({}, { type: 'status' });
  stop();
  deliver?.({}, { type: 'after unsubscribe' });
  assert.deepEqual(seen, [{ type: 'status' }]);
});
