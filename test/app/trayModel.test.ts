import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JobRecord, PlanStatus, Status } from '../../src-shared/api.js';
import { STATUS_LINE_EVERY_MS, afterRedraw, trayRedraw, trayView, type TrayInput, type TrayMenuItem } from '../../src-main/app/trayModel.js';

const NOW = Date.parse('2026-11-23T12:00:00Z');
const plan = (over: Partial<PlanStatus> = {}): PlanStatus => ({ planId: 'p1', name: 'Home', state: 'idle', ...over });
const status = (over: Partial<Status> = {}): Status => ({ state: 'idle', plans: [plan()], runningJobs: [], queuedJobs: [], hints: [], ...over });
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
  // Not every job is a backup: the line says what runs.
  const restoring = trayView(input({ status: status({ state: 'running', runningJobs: [{ ...job, kind: 'restore', planId: undefined, progress: { ...job.progress!, operation: 'restore' } }] }) }));
  assert.equal(statusLine(restoring.menu), 'Restoring: 25%');
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

test('redraws during a backup: the image on a change of state only, the menu at once when its items change and at most every 5 s for progress', () => {
  const job: JobRecord = { id: 'j1', kind: 'backup', planId: 'p1', startedAt: new Date(NOW).toISOString(), result: 'running', warnings: 0 };
  const at = (bytesDone: number) => trayView(input({ status: status({ state: 'running', runningJobs: [{ ...job, progress: { operation: 'backup', phase: 'files', filesDone: 1, bytesDone, bytesTotal: 1000, bytesPerSecond: 1, elapsedMs: 1 } }] }) }));
  const idle = trayView(input());

  const first = trayRedraw(undefined, idle, NOW);
  assert.deepEqual(first, { image: true, tooltip: true, menu: true }, 'the first draw draws everything');
  let drawn = afterRedraw(undefined, idle, first, NOW);

  // A backup starts: new state, new icon, new status line (its items are the same as idle's).
  const starting = trayRedraw(drawn, at(0), NOW + 100);
  assert.deepEqual(starting, { image: true, tooltip: true, menu: true });
  drawn = afterRedraw(drawn, at(0), starting, NOW + 100);

  // Progress 250 ms later, many times: nothing redrawn but a reminder for when the line is due.
  let redraws = 0;
  let images = 0;
  for (let t = 350, done = 10; t < 20_100; t += 250, done += 10) {
    const view = at(done);
    const redraw = trayRedraw(drawn, view, NOW + t);
    if (redraw.menu) redraws += 1;
    if (redraw.image) images += 1;
    if (!redraw.menu) assert.equal(redraw.again, drawn.menuAt + STATUS_LINE_EVERY_MS, 'a stale line says when to come back');
    assert.equal(redraw.tooltip, redraw.menu, 'the tooltip follows the menu');
    drawn = afterRedraw(drawn, view, redraw, NOW + t);
  }
  assert.equal(images, 0, 'the icon is never redrawn while the state stays "running" (it flickers on Linux)');
  assert.ok(redraws >= 3 && redraws <= 4, `the menu is rebuilt every 5 s, not every 250 ms (${redraws} times in 20 s)`);

  // Paused from the menu: its items change (Resume replaces the pauses), so it is rebuilt at once.
  const paused = trayView(input({ status: status({ state: 'paused', pausedUntil: 'resumed by hand' }) }));
  const pausing = trayRedraw(drawn, paused, drawn.menuAt + 1);
  assert.deepEqual(pausing, { image: true, tooltip: true, menu: true });
  drawn = afterRedraw(drawn, paused, pausing, drawn.menuAt + 1);
  assert.deepEqual(trayRedraw(drawn, paused, drawn.menuAt + 60_000), { image: false, tooltip: false, menu: false }, 'nothing changed, nothing redrawn');
});
