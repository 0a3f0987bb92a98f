import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { AgentEvent, JobRecord, Method, Params } from '../../src-shared/api.js';
import { Agent } from '../../src-main/agent/agent.js';
import { openInFileManager, type DavAddress } from '../../src-main/agent/fileManager.js';
import { SessionSecretStore } from '../../src-main/agent/secretStore.js';
import { invoke } from '../../src-main/agent/transport/dispatch.js';
import { davRemoteEnv, rcloneAsync } from '../helpers/mountProcess.js';
import { tempDir } from '../helpers/tempDir.js';

test('the agent opens a snapshot as a WebDAV drive, reuses it, closes it on request and after being idle', async (t) => {
  const dir = await tempDir(t, 'hindsight-agent-mount-');
  const source = join(dir, 'source');
  await mkdir(join(source, 'docs'), { recursive: true });
  await writeFile(join(source, 'docs', 'report.txt'), 'the report');
  process.env.HINDSIGHT_CACHE_DIR = join(dir, 'cache');
  const asked: DavAddress[] = [];
  const host = new Agent({
    dataDir: join(dir, 'data'),
    secrets: new SessionSecretStore(),
    watch: false,
    workers: 1,
    mountIdleMs: 1500,
    openFolder: async (address) => {
      asked.push(address);
      return { opened: false, message: 'no file manager in this test' };
    },
  });
  await host.start();
  const call = <M extends Method>(method: M, params: Params<M>) => invoke(host, method, params);
  const events: AgentEvent[] = [];
  host.subscribe((e) => events.push(e));
  t.after(async () => {
    await host.stop();
    delete process.env.HINDSIGHT_CACHE_DIR;
  });
  const finished = async (job: JobRecord) => {
    for (;;) {
      const done = events.find((e): e is Extract<AgentEvent, { type: 'job.finished' }> => e.type === 'job.finished' && e.job.id === job.id);
      if (done) return done.job;
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const repo = join(dir, 'repo');
  await call('repositories.create', { location: repo, password: 'pw', remember: false });
  const plan = await call('plans.create', { name: 'Docs', sources: [source], targets: [repo], schedule: { kind: 'manual' } });
  assert.equal((await finished(await call('jobs.backup', { planId: plan.id }))).result, 'succeeded');
  const [snapshot] = await call('snapshots.list', { repository: repo });

  const mount = await call('mounts.open', { repository: repo, snapshot: snapshot!.id });
  assert.match(mount.url, /^http:\/\/127\.0\.0\.1:\d+\/\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d%20[^/]+\/$/, 'the snapshot\'s folder');
  assert.equal(mount.username, 'hindsight');
  assert.equal(mount.opened, false);
  assert.equal(mount.message, 'no file manager in this test');
  assert.equal(mount.idleMinutes, 0);
  assert.deepEqual(asked, [{ url: mount.url, username: mount.username, password: mount.password }]);

  const dav = davRemoteEnv(mount.url, mount.username, mount.password);
  const report = await rcloneAsync(['cat', `:webdav:${source}/docs/report.txt`], dav);
  assert.equal(report.stdout.toString(), 'the report', report.stderr);

  // Again: the same server, not opened a second time in the file manager when not asked.
  const again = await call('mounts.open', { repository: repo, open: false });
  assert.equal(new URL(again.url).port, new URL(mount.url).port);
  assert.equal(new URL(again.url).pathname, '/');
  assert.equal(asked.length, 1);
  await assert.rejects(call('mounts.open', { repository: repo, snapshot: 'ffffffff' }), { code: 'E_SNAPSHOT_NOT_FOUND' });

  assert.deepEqual(await call('mounts.close', { repository: repo }), { closed: true });
  assert.notEqual((await rcloneAsync(['lsf', ':webdav:'], dav)).status, 0, 'closed');
  assert.deepEqual(await call('mounts.close', { repository: repo }), { closed: false });

  // Opened again, then left alone: it closes itself and releases the lock, so a prune can run.
  const third = await call('mounts.open', { repository: repo, snapshot: snapshot!.id, open: false });
  assert.notEqual(third.password, mount.password, 'a new password for a new server');
  assert.ok((await readdir(join(repo, 'locks'))).length > 0, 'the mount holds a shared lock');
  for (const deadline = Date.now() + 10_000; (await readdir(join(repo, 'locks'))).length > 0; await new Promise((r) => setTimeout(r, 100))) {
    assert.ok(Date.now() < deadline, 'the idle mount released its lock');
  }
  assert.notEqual((await rcloneAsync(['lsf', ':webdav:'], davRemoteEnv(third.url, third.username, third.password))).status, 0, 'closed when idle');
  assert.equal((await finished(await call('jobs.prune', { repository: repo }))).result, 'succeeded');
});

test('without a desktop session, opening in the file manager says why, for the UI to show the address instead', { skip: process.platform !== 'linux' }, async () => {
  const outcome = await openInFileManager({ url: 'http://127.0.0.1:9/2026-12-05T14-03-22%20laptop/', username: 'hindsight', password: 'secret' });
  if (outcome.opened) return; // a machine with a running GNOME session: nothing to check here
  assert.match(outcome.message ?? '', /gio|not installed/);
  assert.doesNotMatch(outcome.message ?? '', /secret/);
});
