import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import type { AgentEvent, JobRecord, ResponseMessage } from '../../src-shared/api.js';
import { Agent } from '../../src-main/agent/agent.js';
import { PortSecretStore } from '../../src-main/agent/portSecretStore.js';
import type { SecretReply, SecretRequest } from '../../src-main/agent/transport/agentPort.js';
import { servePort } from '../../src-main/agent/transport/portTransport.js';
import { asAgentPort } from '../helpers/nodePort.js';
import { tempDir } from '../helpers/tempDir.js';

/**
 * The desktop app's side of the port, played by the test: sends raw
 * messages, collects responses and events, and answers the agent's keychain
 * requests from a map (or refuses them, as a machine without a keychain does).
 */
function mainSide(port: MessagePort, keychain: Map<string, string> | 'unavailable') {
  const responses = new Map<number, (message: ResponseMessage) => void>();
  const events: AgentEvent[] = [];
  const secretRequests: SecretRequest[] = [];
  port.on('message', (message: ResponseMessage | SecretRequest | { type: 'event'; event: AgentEvent }) => {
    if (message.type === 'event') events.push(message.event);
    else if (message.type === 'response' && message.id !== null) responses.get(message.id)?.(message);
    else if (message.type === 'secret') {
      secretRequests.push(message);
      const reply: SecretReply =
        keychain === 'unavailable'
          ? { type: 'secret.reply', id: message.id, ok: false, message: 'no keychain on this machine' }
          : { type: 'secret.reply', id: message.id, ok: true, value: message.op === 'get' ? keychain.get(message.account) : undefined };
      if (keychain !== 'unavailable' && message.op === 'set') keychain.set(message.account, message.secret as string);
      if (keychain !== 'unavailable' && message.op === 'delete') keychain.delete(message.account);
      port.postMessage(reply);
    }
  });
  let nextId = 1;
  const send = (message: Record<string, unknown>) =>
    new Promise<ResponseMessage>((resolve) => {
      const id = typeof message.id === 'number' ? message.id : nextId++;
      responses.set(id, resolve);
      port.postMessage({ ...message, id });
    });
  return {
    events,
    secretRequests,
    send,
    async call(method: string, params: unknown): Promise<unknown> {
      const response = await send({ type: 'request', method, params });
      if (!response.ok) throw Object.assign(new Error(response.error.message), { code: response.error.code });
      return response.result;
    },
    finished(jobId: string): Promise<JobRecord> {
      return new Promise((resolve) => {
        const poll = () => {
          const done = events.find((e): e is Extract<AgentEvent, { type: 'job.finished' }> => e.type === 'job.finished' && e.job.id === jobId);
          if (done) resolve(done.job);
          else setTimeout(poll, 20);
        };
        poll();
      });
    },
  };
}

async function agentOnPort(t: TestContext, dataDir: string, keychain: Map<string, string> | 'unavailable') {
  const { port1, port2 } = new MessageChannel();
  const port = asAgentPort(port1);
  const secrets = new PortSecretStore(port);
  const agent = new Agent({ dataDir, secrets, schedule: false, watch: false, workers: 1 });
  await agent.start();
  let shutdowns = 0;
  const detach = servePort(agent, port, { secrets, onShutdown: () => (shutdowns += 1) });
  const main = mainSide(port2, keychain);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    detach();
    await agent.stop();
    port1.close();
    port2.close();
  };
  t.after(stop);
  return { main, stop, shutdowns: () => shutdowns };
}

test('the contract over a MessagePort: calls, typed errors for hostile messages, events, and shutdown', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await mkdir(source);
  await writeFile(join(source, 'a.txt'), 'over the port');
  const { main, shutdowns } = await agentOnPort(t, join(dir, 'data'), new Map());

  assert.equal(((await main.call('status.get', {})) as { state: string }).state, 'idle');
  const unknown = await main.send({ type: 'request', method: 'fs.readFile', params: { path: '/etc/shadow' } });
  assert.deepEqual(unknown.ok ? undefined : unknown.error.code, 'E_UNKNOWN_METHOD');
  const badParams = await main.send({ type: 'request', method: 'plans.delete', params: { id: 42 } });
  assert.equal(badParams.ok ? undefined : badParams.error.code, 'E_INVALID_PARAMS');
  const notARequest = await main.send({ type: 'request', id: 1000, method: 'status.get', extra: 'field' });
  assert.deepEqual([notARequest.id, notARequest.ok ? undefined : notARequest.error.code], [1000, 'E_BAD_MESSAGE']);

  const repo = join(dir, 'repo');
  await main.call('repositories.create', { location: repo, password: 'port password', remember: false });
  const plan = (await main.call('plans.create', { name: 'Port', sources: [source], targets: [repo], schedule: { kind: 'manual' } })) as { id: string };
  const job = (await main.call('jobs.backup', { planId: plan.id })) as JobRecord;
  assert.equal((await main.finished(job.id)).result, 'succeeded');
  assert.ok(main.events.some((e) => e.type === 'job.started' && e.job.id === job.id), 'events are posted on the port');
  assert.deepEqual(main.secretRequests, [], 'remember: false never touches the keychain');

  main.send({ type: 'shutdown' }).catch(() => undefined);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(shutdowns(), 1, 'shutdown reaches the host, not dispatch');
});

test('the keychain lives in the main process: the agent stores and reads passwords through the port', async (t) => {
  const dir = await tempDir(t);
  const keychain = new Map<string, string>();
  const first = await agentOnPort(t, join(dir, 'data'), keychain);
  const repo = join(dir, 'repo');
  const created = (await first.main.call('repositories.create', { location: repo, password: 'kept by main', remember: true })) as { id: string };
  assert.deepEqual(
    first.main.secretRequests.map((r) => [r.op, r.account, r.secret]),
    [['set', created.id, 'kept by main']],
  );
  assert.equal(keychain.get(created.id), 'kept by main');
  assert.ok(!first.main.events.some((e) => e.type === 'warning'), 'no keychain warning when main stores it');
  await first.stop();

  // A fresh agent knows the password only through main's keychain.
  const second = await agentOnPort(t, join(dir, 'data'), keychain);
  const snapshots = await second.main.call('snapshots.list', { repository: repo });
  assert.deepEqual(snapshots, []);
  assert.ok(second.main.secretRequests.some((r) => r.op === 'get' && r.account === created.id));
});

test('when main has no keychain, the agent keeps the password for the session and says so', async (t) => {
  const dir = await tempDir(t);
  const { main } = await agentOnPort(t, join(dir, 'data'), 'unavailable');
  const repo = join(dir, 'repo');
  const created = (await main.call('repositories.create', { location: repo, password: 'session only', remember: true })) as { id: string; unlocked: boolean };
  assert.equal(created.unlocked, true);
  const warning = main.events.find((e) => e.type === 'warning');
  assert.match(warning?.type === 'warning' ? warning.warning.message : '', /keychain cannot be used \(no keychain on this machine\)/);
  assert.deepEqual(await main.call('snapshots.list', { repository: repo }), []);
});
