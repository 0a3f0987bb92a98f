import assert from 'node:assert/strict';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { startInProcessAgent } from '../helpers/inProcessAgent.js';
import { sshdMissing, startSshServer } from '../helpers/sshServer.js';
import { tempDir } from '../helpers/tempDir.js';

test('a plan whose folder is on another machine: the agent backs it up over SFTP with the default SSH key and known_hosts', { skip: sshdMissing() }, async (t) => {
  const server = await startSshServer(t);
  const dir = await tempDir(t);
  // The agent's own SSH set-up, as ssh's: ~/.ssh/id_ed25519 and ~/.ssh/known_hosts of its HOME, no ssh-agent.
  const home = join(dir, 'home');
  await mkdir(join(home, '.ssh'), { recursive: true });
  await copyFile(server.userKey, join(home, '.ssh', 'id_ed25519'));
  await copyFile(server.knownHosts, join(home, '.ssh', 'known_hosts'));
  const saved = { HOME: process.env.HOME, SSH_AUTH_SOCK: process.env.SSH_AUTH_SOCK };
  process.env.HOME = home;
  delete process.env.SSH_AUTH_SOCK;
  const site = join(dir, 'site');
  await mkdir(join(site, 'css'), { recursive: true });
  await writeFile(join(site, 'index.html'), '<h1>remote</h1>');
  await writeFile(join(site, 'css', 'site.css'), 'body {}');

  t.after(() => {
    process.env.HOME = saved.HOME;
    if (saved.SSH_AUTH_SOCK !== undefined) process.env.SSH_AUTH_SOCK = saved.SSH_AUTH_SOCK;
  });
  const { call, repo, finished } = await startInProcessAgent(t, dir);
  const source = `sftp://${server.username}@127.0.0.1:${server.port}${site}`;

  await assert.rejects(call('plans.create', { name: 'watch', sources: [source], targets: [repo], schedule: { kind: 'continuous' } }), /cannot be watched/);
  await assert.rejects(call('plans.create', { name: 'mixed', sources: [source, dir], targets: [repo], schedule: { kind: 'manual' } }), /one machine/);

  const plan = await call('plans.create', { name: 'web1', sources: [source], targets: [repo], schedule: { kind: 'manual' } });
  await call('jobs.backup', { planId: plan.id });
  const [run] = await finished(plan.id);
  assert.equal(run?.result, 'succeeded', run?.message);
  const [snapshot] = await call('snapshots.list', { repository: repo });
  assert.equal(snapshot?.host, '127.0.0.1');
  assert.deepEqual(snapshot?.paths, [site]);
  assert.equal(run?.summary?.filesNew, 2);
});
