import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JobRecord, PlanStatus, Status } from '../../src-shared/api.js';
import { trayView, type TrayInput, type TrayMenuItem } from '../../src-main/app/trayModel.js';

const NOW = Date.parse('2026-11-23T12:00:00Z');
const plan = (over: Partial<PlanStatus> = {}): PlanStatus => ({ planId: 'p1', name: 'Home', state: 'idle', ...over });
const status = (over: Partial<Status> = {}): Status => ({ state: 'idle', plans: [plan()], runningJobs: [], hints: [], ...over });
const input = (over: Partial<TrayInput> = {}): TrayInput => ({ link: 'up', status: status(), now: NOW, settings: { openAtLogin: false, notifyOnSuccess: false }, ...over });

const actions = (menu: readonly TrayMenuItem[]) => menu.flatMap((item) => (item.kind === 'action' ? [`${item.id}${item.enabled ? '' : ' (disabled)'}`] : []));
const statusLine = (menu: readonly TrayMenuItem[]) => (menu[0]?.kind === 'status' ? menu[0].label : undefined);

test('idle: last success in the status line, pause offered, resume not', () => {
  const view = trayView(input({ status: status({ plans: [plan({ lastRun: { at: new Date(NOW - 5 * 60_000).toISOString(), result: 'succeeded' } })] }) }));
  assert.equal(view.state, 'idle');
  assert.equal(view.icon, 'idle');
  assert.equal(statusLine(view.menu), 'Up to date; last backup 5m00s ago');
  assert.equal(view.tooltip, 'Hindsight: Up to date; last backup 5m00s ago');
  assert.deepEqual(actions(view.menu), ['backup-now', 'pause-hour', 'pause-until-resumed', 'open', 'quit']);
});

test('no plans: nothing to back up, so "Back up now" is disabled', () => {
  const view = trayView(input({ status: status({ plans: [] }) }));
  assert.equal(statusLine(view.menu), 'No backup plans yet');
  assert.deepEqual(actions(view.menu).slice(0, 1), ['backup-now (disabled)']);
});

test('running: the plan and its progress in percent, or bytes while the total is unknown', () => {
  const job: JobRecord = {
    id: 'j1',
    kind: 'backup',
    planId: 'p1',
    startedAt: new Date(NOW).toISOString(),
    result: 'running',
    warnings: 0,
    progress: { operation: 'backup', phase: 'files', filesDone: 3, bytesDone: 250, bytesTotal: 1000, bytesPerSecond: 10, elapsedMs: 1000 },
  };
  const view = trayView(input({ status: status({ state: 'running', runningJobs: [job] }) }));
  assert.equal(view.state, 'running');
  assert.equal(statusLine(view.menu), 'Backing up Home: 25%');
  const counting = trayView(input({ status: status({ state: 'running', runningJobs: [{ ...job, progress: { ...job.progress!, bytesTotal: undefined, bytesDone: 3 * 1024 * 1024 } }] }) }));
  assert.equal(statusLine(counting.menu), 'Backing up Home: 3.0 MiB');
});

test('paused: says until when, offers Resume instead of the pauses, and no backup', () => {
  const forAnHour = trayView(input({ status: status({ state: 'paused', pausedUntil: new Date(NOW + 3600_000).toISOString() }) }));
  assert.equal(forAnHour.state, 'paused');
  assert.equal(statusLine(forAnHour.menu), 'Paused for 1h00m more');
  assert.deepEqual(actions(forAnHour.menu), ['backup-now (disabled)', 'resume', 'open', 'quit']);
  const byHand = trayView(input({ status: status({ state: 'paused', pausedUntil: 'resumed by hand' }) }));
  assert.equal(statusLine(byHand.menu), 'Paused until resumed');
});

test('error: a failed plan names its failure; a dead agent wins over everything and disables agent actions', () => {
  const failed = trayView(input({ status: status({ state: 'error', plans: [plan({ state: 'error', lastRun: { at: new Date(NOW).toISOString(), result: 'failed', message: 'disk not mounted' } })] }) }));
  assert.equal(failed.state, 'error');
  assert.equal(statusLine(failed.menu), 'Last backup of Home failed: disk not mounted');

  const restarting = trayView(input({ link: 'restarting', status: status({ state: 'paused' }) }));
  assert.equal(restarting.state, 'error');
  assert.equal(statusLine(restarting.menu), 'The backup agent stopped; restarting it');
  assert.deepEqual(actions(restarting.menu), ['backup-now (disabled)', 'resume (disabled)', 'open', 'quit']);
  assert.equal(trayView(input({ link: 'failed' })).state, 'error');
});

test('behind: a replicated target that missed writes shows when nothing else is going on', () => {
  const repositories = [
    { location: '/media/disk', id: 'r', unlocked: true },
    { location: 'sftp://nas/backup', id: 'r', unlocked: true, behind: true },
  ];
  const view = trayView(input({ repositories }));
  assert.equal(view.state, 'behind');
  assert.equal(view.icon, 'behind');
  assert.match(statusLine(view.menu) ?? '', /sftp:\/\/nas\/backup/);
  assert.equal(trayView(input({ repositories, status: status({ state: 'paused' }) })).state, 'paused', 'paused is more urgent to see than behind');
});

test('starting: the tray shows before the agent answers', () => {
  const view = trayView(input({ link: 'starting', status: undefined }));
  assert.equal(view.state, 'idle');
  assert.equal(statusLine(view.menu), 'Starting');
  assert.deepEqual(actions(view.menu), ['backup-now (disabled)', 'pause-hour (disabled)', 'pause-until-resumed (disabled)', 'open', 'quit']);
});

test('settings toggles reflect the saved settings', () => {
  const view = trayView(input({ settings: { openAtLogin: true, notifyOnSuccess: false } }));
  const toggles = view.menu.flatMap((item) => (item.kind === 'toggle' ? [[item.id, item.checked]] : []));
  assert.deepEqual(toggles, [
    ['open-at-login', true],
    ['notify-on-success', false],
  ]);
});
