import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { bin, childEnv, startAgent } from '../helpers/agentProcess.js';
import { tempDir } from '../helpers/tempDir.js';

const run = promisify(execFile);

/** Starts `hindsight serve` and resolves with its URL and first lines. */
async function serve(t: TestContext, env: Record<string, string>): Promise<{ url: URL; lines: string[] }> {
  const child = spawn(process.execPath, [bin, 'serve', '--port', '0'], { env: childEnv(env), stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });
  const lines: string[] = [];
  for await (const line of createInterface({ input: child.stdout })) {
    lines.push(line);
    const match = /^Open (\S+)$/.exec(line);
    if (match) return { url: new URL(match[1]!), lines };
  }
  throw new Error(`serve printed no URL:\n${lines.join('\n')}`);
}

/** One call over the WebSocket, as the browser UI makes it. */
async function call(url: URL, method: string, params: unknown): Promise<{ ok: boolean; result?: unknown; error?: { code: string } }> {
  const ws = new WebSocket(`ws://${url.host}/api`, { headers: { cookie: `hindsight-token=${url.searchParams.get('token')}`, origin: url.origin } });
  await once(ws, 'open');
  ws.send(JSON.stringify({ type: 'request', id: 7, method, params }));
  for (;;) {
    const [data] = (await once(ws, 'message')) as [Buffer];
    const message = JSON.parse(data.toString()) as { type: string; id?: number };
    if (message.type === 'response' && message.id === 7) {
      ws.close();
      return message as never;
    }
  }
}

test('serve uses the agent that is already running, and the contract works through it', async (t) => {
  const agent = await startAgent(t);
  t.after(() => agent.stop());
  const dir = await tempDir(t);
  const { url, lines } = await serve(t, { ...agent.env, HOME: dir });
  assert.match(lines.join('\n'), /using the running agent/);
  const status = await call(url, 'status.get', {});
  assert.equal(status.ok, true);
  assert.equal((status.result as { state: string }).state, 'idle');
  const folder = await call(url, 'host.listFolder', { path: dir });
  assert.equal((folder.result as { path: string }).path, dir);
  // The running agent still checks every message.
  const bad = await call(url, 'plans.delete', { id: 42 });
  assert.equal(bad.ok, false);
  assert.equal(bad.error?.code, 'E_INVALID_PARAMS');
  const unknown = await call(url, 'nope.never', {});
  assert.equal(unknown.error?.code, 'E_UNKNOWN_METHOD');
});

test('serve refuses to listen beyond loopback without --allow-remote, and names a busy port', async (t) => {
  const dir = await tempDir(t);
  const env = childEnv({ HINDSIGHT_DATA_DIR: join(dir, 'data'), HOME: dir });
  const refused = await run(process.execPath, [bin, 'serve', '--listen', '0.0.0.0'], { env }).catch((err: { code: number; stderr: string }) => err);
  assert.equal((refused as { code: number }).code, 2);
  assert.match((refused as { stderr: string }).stderr, /reachable from other machines; add --allow-remote/);
  assert.doesNotMatch((refused as { stderr: string }).stderr, /\n\s+at /, 'no stack trace');

  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.after(() => blocker.close());
  const port = (blocker.address() as { port: number }).port;
  const busy = await run(process.execPath, [bin, 'serve', '--port', String(port)], { env }).catch((err: { code: number; stderr: string }) => err);
  assert.notEqual((busy as { code: number }).code, 0);
  assert.match((busy as { stderr: string }).stderr, new RegExp(`Port ${port} on 127.0.0.1 is in use; choose another with --port`));
});
