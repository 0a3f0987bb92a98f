import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { MessageChannel } from 'node:worker_threads';
import type { JobRecord } from '../../src-shared/api.js';
import { Agent } from '../../src-main/agent/agent.js';
import { PortSecretStore } from '../../src-main/agent/portSecretStore.js';
import { KeychainUnavailable, SessionSecretStore, type SecretStore } from '../../src-main/agent/secretStore.js';
import { servePort } from '../../src-main/agent/transport/portTransport.js';
import { AgentConnection } from '../../src-main/app/agentConnection.js';
import { DragRestorer } from '../../src-main/app/dragRestore.js';
import { seededBytes } from '../helpers/data.js';
import { asAgentPort } from '../helpers/nodePort.js';
import { tempDir } from '../helpers/tempDir.js';

/** The app's two ends of the port, in one process: a real agent and the main process's AgentConnection. */
async function connected(t: import('node:test').TestContext, dataDir: string, keychain: SecretStore) {
  const { port1, port2 } = new MessageChannel();
  const agentPort = asAgentPort(port1);
  const secrets = new PortSecretStore(agentPort);
  const agent = new Agent({ dataDir, secrets, schedule: false, watch: false, workers: 1 });
  await agent.start();
  const notices: string[] = [];
  const detach = servePort(agent, agentPort, { secrets, onShutdown: () => notices.push('shutdown asked') });
  const connection = new AgentConnection(asAgentPort(port2), keychain, (notice) => notices.push(notice.type));
  t.after(async () => {
    detach();
    connection.close();
    await agent.stop();
  });
  return { connection, notices };
}

function finished(connection: AgentConnection, jobId: string): Promise<JobRecord> {
  return new Promise((resolve) => {
    const stop = connection.onEvent((event) => {
      if (event.type === 'job.finished' && event.job.id === jobId) {
        stop();
        resolve(event.job);
      }
    });
  });
}

test('main process end of the port: typed calls, agent errors with their code, keychain answered from main', async (t) => {
  const dir = await tempDir(t);
  const keychain = new SessionSecretStore();
  const { connection } = await connected(t, join(dir, 'data'), keychain);
  assert.equal((await connection.call('status.get', {})).state, 'idle');
  await assert.rejects(connection.request('plans.delete', { id: 'no-such-plan' }), (err: { code?: string }) => typeof err.code === 'string' && err.code !== 'E_INTERNAL');
  const repo = await connection.call('repositories.create', { location: join(dir, 'repo'), password: 'main keeps it', remember: true });
  assert.equal(await keychain.get(repo.id), 'main keeps it', 'the agent stored the password through main');

  connection.shutdown();
  connection.close();
  await assert.rejects(connection.call('status.get', {}), { code: 'E_AGENT_GONE' });
});

test('a keychain that fails in main reaches the agent as unavailable, and the agent carries on for the session', async (t) => {
  const dir = await tempDir(t);
  const broken: SecretStore = {
    description: 'broken',
    get: () => Promise.reject(new KeychainUnavailable('Cannot autolaunch D-Bus without X11 $DISPLAY')),
    set: () => Promise.reject(new KeychainUnavailable('Cannot autolaunch D-Bus without X11 $DISPLAY')),
    delete: () => Promise.reject(new KeychainUnavailable('Cannot autolaunch D-Bus without X11 $DISPLAY')),
  };
  const { connection } = await connected(t, join(dir, 'data'), broken);
  const warnings: string[] = [];
  connection.onEvent((event) => event.type === 'warning' && warnings.push(event.warning.message));
  const repo = await connection.call('repositories.create', { location: join(dir, 'repo'), password: 'pw', remember: true });
  assert.equal(repo.unlocked, true);
  assert.match(warnings.join('\n'), /keychain cannot be used \(Cannot autolaunch D-Bus/);
});

test('drag-to-restore through the agent: the prepared file has the backed-up bytes; unprepared items give nothing', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await mkdir(join(source, 'docs'), { recursive: true });
  const bytes = seededBytes('drag', 300_000);
  await writeFile(join(source, 'docs', 'report.bin'), bytes);
  const { connection } = await connected(t, join(dir, 'data'), new SessionSecretStore());
  const repository = join(dir, 'repo');
  await connection.call('repositories.create', { location: repository, password: 'pw', remember: false });
  const plan = await connection.call('plans.create', { name: 'Docs', sources: [source], targets: [repository], schedule: { kind: 'manual' } });
  const job = await connection.call('jobs.backup', { planId: plan.id });
  assert.equal((await finished(connection, job.id)).result, 'succeeded');
  const [snapshot] = await connection.call('snapshots.list', { repository });

  const drag = new DragRestorer(connection, join(dir, 'drag'));
  const item = { repository, snapshot: snapshot!.id, path: join(source, 'docs', 'report.bin') };
  assert.equal(drag.fileFor(item), undefined, 'nothing can be dragged before it is prepared');
  const file = await drag.prepare(item);
  assert.ok(file.startsWith(join(dir, 'drag')), file);
  assert.deepEqual(await readFile(file), bytes);
  assert.equal(drag.fileFor(item), file);
  assert.equal(drag.fileFor({ ...item, path: join(source, 'docs') }), undefined, 'the folder around it was not prepared');
  const folder = await drag.prepare({ ...item, path: join(source, 'docs') });
  assert.deepEqual(await readFile(join(folder, 'report.bin')), bytes, 'a folder is restored as itself');

  await assert.rejects(drag.prepare({ ...item, path: join(source, 'not-there.txt') }), { code: 'E_DRAG_RESTORE' });
});
