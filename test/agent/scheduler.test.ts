import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { AgentEvent, JobRecord, Method, Params } from '../../src-shared/api.js';
import { Agent } from '../../src-main/agent/agent.js';
import { SessionSecretStore } from '../../src-main/agent/secretStore.js';
import { invoke } from '../../src-main/agent/transport/dispatch.js';
import { ManualClock } from '../helpers/manualClock.js';
import { tempDir } from '../helpers/tempDir.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** An agent on a clock the test moves; backups are real, into a real repository. */
async function scheduledAgent(t: TestContext, start: string) {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await mkdir(source);
  await writeFile(join(source, 'notes.txt'), 'scheduled');
  process.env.HINDSIGHT_CACHE_DIR = join(dir, 'cache');
  const clock = new ManualClock(Date.parse(start));
  const host = new Agent({ dataDir: join(dir, 'data'), secrets: new SessionSecretStore(), clock, watch: false, workers: 1 });
  await host.start();
  const agent = { call: <M extends Method>(method: M, params: Params<M>) => invoke(host, method, params), subscribe: host.subscribe.bind(host), stop: () => host.stop() };
  t.after(async () => {
    await agent.stop();
    delete process.env.HINDSIGHT_CACHE_DIR;
  });
  const repo = join(dir, 'repo');
  await agent.call('repositories.create', { location: repo, password: 'pw', remember: false });
  const events: AgentEvent[] = [];
  agent.subscribe((e) => events.push(e));
  /** Most jobs of one plan queued or running at the same moment, from the event stream. */
  const peakConcurrency = () => {
    let live = 0;
    let peak = 0;
    for (const e of events) {
      if (e.type === 'job.started') peak = Math.max(peak, ++live);
      if (e.type === 'job.finished' && e.job.result !== 'skipped') live--;
    }
    return peak;
  };
  const runs = async (planId: string): Promise<JobRecord[]> =>
    (await agent.call('jobs.list', { limit: 1000 })).filter((j) => j.planId === planId && j.result !== 'skipped').reverse();
  /** Waits (real time) until nothing is queued or running. */
  const settled = async () => {
    for (let i = 0; i < 500; i++) {
      const status = await agent.call('status.get', {});
      const jobs = await agent.call('jobs.list', { limit: 5 });
      if (status.runningJobs.length === 0 && !jobs.some((j) => j.result === 'queued' || j.result === 'running')) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.fail('jobs did not finish');
  };
  return { agent, clock, source, repo, runs, settled, peakConcurrency };
}

test('an interval plan runs when due, never twice at once, and catches up once after a sleep', async (t) => {
  const { agent, clock, source, repo, runs, settled, peakConcurrency } = await scheduledAgent(t, '2026-03-02T10:00:00Z');
  const plan = await agent.call('plans.create', { name: 'hourly', sources: [source], targets: [repo], schedule: { kind: 'interval', everyMinutes: 60 } });
  await settled();
  assert.equal((await runs(plan.id)).length, 1, 'a new plan runs at once');

  clock.advance(59 * MINUTE);
  await settled();
  assert.equal((await runs(plan.id)).length, 1, 'not before it is due');
  clock.advance(MINUTE);
  // While that run is queued or running, hours pass: it must not be queued again.
  clock.advance(3 * HOUR);
  await settled();
  const afterBusy = await runs(plan.id);
  assert.equal(afterBusy[1]?.startedAt, '2026-03-02T11:00:00.000Z', 'the second run started exactly when due');
  assert.equal(afterBusy.length, 3, 'one catch-up run for the hours that passed during the busy one, not three');
  assert.equal(peakConcurrency(), 1);

  // The machine sleeps for five hours: one run on waking, not five.
  clock.jump(5 * HOUR);
  await settled();
  clock.advance(1000);
  await settled();
  const afterSleep = await runs(plan.id);
  assert.equal(afterSleep.length, 4);
  assert.ok(afterSleep.every((r) => r.result === 'succeeded'), JSON.stringify(afterSleep));
  const status = await agent.call('status.get', {});
  assert.equal(status.plans[0]?.nextRun, new Date(Date.parse(afterSleep[3]?.startedAt as string) + HOUR).toISOString());
  assert.equal((await agent.call('snapshots.list', { repository: repo })).length, 4);
});

test('a cron plan runs at its minute; a held run is recorded as skipped once and runs on resume', async (t) => {
  const { agent, clock, source, repo, runs, settled } = await scheduledAgent(t, '2026-03-02T10:30:00Z');
  const expression = '0 * * * *';
  const plan = await agent.call('plans.create', { name: 'on the hour', sources: [source], targets: [repo], schedule: { kind: 'cron', expression } });
  const localHour = new Date('2026-03-02T11:00:00Z');
  const due = new Date(localHour.getTime() - (localHour.getMinutes() * MINUTE + localHour.getSeconds() * 1000));
  assert.equal((await agent.call('status.get', {})).plans[0]?.nextRun, due.toISOString());
  clock.advance(due.getTime() - clock.now() - 1000);
  await settled();
  assert.equal((await runs(plan.id)).length, 0);
  clock.advance(1000);
  await settled();
  assert.deepEqual((await runs(plan.id)).map((r) => r.startedAt), [due.toISOString()]);

  await agent.call('agent.pause', {});
  clock.advance(2 * HOUR);
  await settled();
  const skipped = (await agent.call('jobs.list', { limit: 100 })).filter((j) => j.result === 'skipped');
  assert.deepEqual(skipped.map((j) => j.message), ['paused'], 'a held run is written to the history once');
  assert.equal((await runs(plan.id)).length, 1);
  await agent.call('agent.resume', {});
  await settled();
  assert.equal((await runs(plan.id)).length, 2, 'the held run happens on resume');
});

test('a failing plan is retried with growing waits', async (t) => {
  const { agent, clock, source, runs, settled } = await scheduledAgent(t, '2026-03-02T10:00:00Z');
  const dir = await tempDir(t);
  // A repository whose password the agent does not know: every run fails.
  const plan = await agent.call('plans.create', { name: 'failing', sources: [source], targets: [join(dir, 'unknown-repo')], schedule: { kind: 'interval', everyMinutes: 24 * 60 } });
  await settled();
  const first = await runs(plan.id);
  assert.equal(first.length, 1);
  assert.equal(first[0]?.result, 'failed');
  assert.match(first[0]?.message ?? '', /password of the repository/);
  // First retry after one minute ±20%, the second after two minutes ±20%.
  clock.advance(47_000);
  await settled();
  assert.equal((await runs(plan.id)).length, 1);
  clock.advance(26_000);
  await settled();
  assert.equal((await runs(plan.id)).length, 2);
  clock.advance(95_000);
  await settled();
  assert.equal((await runs(plan.id)).length, 2);
  clock.advance(50_000);
  await settled();
  assert.equal((await runs(plan.id)).length, 3);
  const status = await agent.call('status.get', {});
  assert.equal(status.plans[0]?.state, 'error');
  assert.equal(status.state, 'error');
});

test('host hints defer scheduled runs by the settings, and the run happens once the hint clears', async (t) => {
  const { agent, clock, source, repo, runs, settled } = await scheduledAgent(t, '2026-03-02T10:00:00Z');
  await agent.call('settings.update', { deferOnBattery: true });
  await agent.call('host.hint', { hint: 'on-battery' });
  const plan = await agent.call('plans.create', { name: 'laptop', sources: [source], targets: [repo], schedule: { kind: 'interval', everyMinutes: 30 } });
  clock.advance(5 * MINUTE);
  await settled();
  assert.equal((await runs(plan.id)).length, 0);
  const skipped = (await agent.call('jobs.list', { limit: 10 })).filter((j) => j.result === 'skipped');
  assert.deepEqual(skipped.map((j) => j.message), ['deferred while on battery']);
  await agent.call('host.hint', { hint: 'on-ac' });
  await settled();
  assert.equal((await runs(plan.id)).length, 1);

  // Going to sleep holds the schedule too; waking catches up.
  await agent.call('host.hint', { hint: 'suspend' });
  clock.jump(2 * HOUR);
  await settled();
  assert.equal((await runs(plan.id)).length, 1);
  await agent.call('host.hint', { hint: 'resume' });
  await settled();
  assert.equal((await runs(plan.id)).length, 2);
});

test('a backup queued behind another job and then paused starts when its plan is resumed', async (t) => {
  const { agent, source, repo, runs, settled } = await scheduledAgent(t, '2026-03-02T10:30:00Z');
  const busySource = join(source, '..', 'busy');
  await mkdir(busySource);
  // Enough to keep the only job slot (maxConcurrentJobs 1) busy while the second plan is queued and paused.
  await writeFile(join(busySource, 'big.bin'), randomBytes(96 * 1024 * 1024));
  const busy = await agent.call('plans.create', { name: 'busy', sources: [busySource], targets: [repo], schedule: { kind: 'manual' } });
  const held = await agent.call('plans.create', { name: 'held', sources: [source], targets: [repo], schedule: { kind: 'manual' } });
  await agent.call('jobs.backup', { planId: busy.id });
  const queued = await agent.call('jobs.backup', { planId: held.id });
  assert.equal(queued.result, 'queued', 'the second backup waits for the first');
  await agent.call('agent.pause', { planId: held.id });
  for (let i = 0; i < 1500 && (await runs(busy.id))[0]?.result !== 'succeeded'; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal((await runs(busy.id))[0]?.result, 'succeeded');
  assert.equal((await runs(held.id))[0]?.result, 'queued', 'a paused plan’s job stays queued');
  await agent.call('agent.resume', { planId: held.id });
  await settled();
  assert.deepEqual((await runs(held.id)).map((r) => r.result), ['succeeded'], 'the queued backup ran once the plan was resumed');
});
