import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { JobRecord } from '../../src-shared/api.js';
import type { Plan } from '../../src-shared/plan.js';
import { agentEnv } from '../../src-main/app/agentEnv.js';
import { setLinuxAutostart } from '../../src-main/app/autostart.js';
import { loginItem, openedAtLogin } from '../../src-main/app/loginItem.js';
import { loadDesktopSettings, saveDesktopSettings } from '../../src-main/app/desktopSettings.js';
import { OverdueReminder, finishedJobNote } from '../../src-main/app/notificationPolicy.js';
import { StartGate } from '../../src-main/app/startGate.js';
import { tempDir } from '../helpers/tempDir.js';

test('the agent process gets the environment minus what would change how Electron or Node runs it', () => {
  const env = agentEnv({ HOME: '/home/ann', HINDSIGHT_DATA_DIR: '/d', SSH_AUTH_SOCK: '/s', AWS_PROFILE: 'p', ELECTRON_RUN_AS_NODE: '1', ELECTRON_ENABLE_LOGGING: '1', NODE_OPTIONS: '--require /tmp/evil.js', NODE_PATH: '/x', UNSET: undefined });
  assert.deepEqual(env, { MALLOC_ARENA_MAX: '2', HOME: '/home/ann', HINDSIGHT_DATA_DIR: '/d', SSH_AUTH_SOCK: '/s', AWS_PROFILE: 'p' });
  // The agent's malloc setting (AGENT_PROCESS_ENV) unless the environment gives its own.
  assert.equal(agentEnv({ MALLOC_ARENA_MAX: '8' }).MALLOC_ARENA_MAX, '8');
});

test('start at login on Linux: an XDG autostart entry with the command quoted, removed when switched off', async (t) => {
  const dir = await tempDir(t);
  const env = { XDG_CONFIG_HOME: dir };
  await setLinuxAutostart(true, ['/opt/Hindsight/hindsight', '/home/ann/dev "hs"/main.js'], env);
  const entry = await readFile(join(dir, 'autostart', 'hindsight.desktop'), 'utf8');
  assert.match(entry, /^\[Desktop Entry\]\nType=Application\nName=Hindsight\n/);
  assert.match(entry, /\nExec="\/opt\/Hindsight\/hindsight" "\/home\/ann\/dev \\"hs\\"\/main\.js" --hidden\n/);
  await setLinuxAutostart(false, [], env);
  await assert.rejects(readFile(join(dir, 'autostart', 'hindsight.desktop')), { code: 'ENOENT' });
});

test('desktop settings: defaults when missing or damaged, saved values read back', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'desktop', 'settings.json');
  const defaults = { openAtLogin: false, notifyOnSuccess: false, overdueDays: 7 };
  assert.deepEqual(await loadDesktopSettings(file), defaults);
  await saveDesktopSettings(file, { ...defaults, openAtLogin: true });
  assert.deepEqual(await loadDesktopSettings(file), { ...defaults, openAtLogin: true });
  await writeFile(file, '{"overdueDays": -3}');
  assert.deepEqual(await loadDesktopSettings(file), defaults);
  await writeFile(file, 'not json');
  assert.deepEqual(await loadDesktopSettings(file), defaults);
});

const job = (over: Partial<JobRecord>): JobRecord => ({ id: 'j', kind: 'backup', startedAt: '2026-11-01T00:00:00Z', result: 'succeeded', warnings: 0, ...over });

test('notifications for finished jobs: failures always, successes only when asked, other kinds never', () => {
  assert.deepEqual(finishedJobNote(job({ result: 'failed', message: 'disk full' }), 'Home', false), { title: 'Backup failed', body: 'Home: disk full' });
  assert.equal(finishedJobNote(job({}), 'Home', false), undefined);
  assert.deepEqual(finishedJobNote(job({}), 'Home', true), { title: 'Backup finished', body: 'Home is backed up.' });
  assert.equal(finishedJobNote(job({ kind: 'restore', result: 'failed' }), undefined, true), undefined);
  assert.equal(finishedJobNote(job({ result: 'paused' }), 'Home', true), undefined);
});

test('overdue reminders: a plan without a success for N days, once per N days, never a disabled plan', () => {
  const day = 86_400_000;
  const start = Date.parse('2026-11-01T00:00:00Z');
  const plan = (id: string, enabled = true) => ({ id, name: `Plan ${id}`, enabled, createdAt: new Date(start).toISOString() }) as Plan;
  const jobs = [job({ planId: 'a', endedAt: new Date(start + 5 * day).toISOString() }), job({ planId: 'b', result: 'failed', endedAt: new Date(start + 6 * day).toISOString() })];
  const reminder = new OverdueReminder();
  const plans = [plan('a'), plan('b'), plan('c', false)];
  assert.deepEqual(reminder.notes(plans, jobs, start + 6 * day, 7), [], 'nothing is a week old yet');
  assert.deepEqual(reminder.notes(plans, jobs, start + 8 * day, 7).map((n) => n.body), ['Plan b has not been backed up for 8 days.'], 'b never succeeded: counted from its creation');
  assert.deepEqual(reminder.notes(plans, jobs, start + 9 * day, 7), [], 'b was reminded a day ago');
  assert.deepEqual(reminder.notes(plans, jobs, start + 13 * day, 7).map((n) => n.body), ['Plan a has not been backed up for 8 days.']);
  assert.deepEqual(reminder.notes(plans, jobs, start + 15 * day, 7).map((n) => n.body), ['Plan b has not been backed up for 15 days.']);
});

const launch = { execPath: '/opt/Hindsight/hindsight', appPath: '/opt/Hindsight/resources/app.asar', defaultApp: false };

test('start at login, per platform: Linux an autostart entry, Windows a command with --hidden, macOS no arguments (they are Windows-only)', () => {
  assert.deepEqual(loginItem({ ...launch, platform: 'linux' }, true), { kind: 'xdg-autostart', enabled: true, command: ['/opt/Hindsight/hindsight'] });
  assert.deepEqual(loginItem({ ...launch, platform: 'linux', appImage: '/home/ann/Hindsight.AppImage', execPath: '/tmp/.mount_Hin/hindsight' }, true), {
    kind: 'xdg-autostart',
    enabled: true,
    command: ['/home/ann/Hindsight.AppImage'],
  }, 'the AppImage file, not its temporary mount');
  assert.deepEqual(loginItem({ platform: 'linux', execPath: '/dev/node_modules/electron/dist/electron', appPath: '/dev/hindsight', defaultApp: true }, false), {
    kind: 'xdg-autostart',
    enabled: false,
    command: ['/dev/node_modules/electron/dist/electron', '/dev/hindsight'],
  }, 'in development the project folder is part of the command');
  assert.deepEqual(loginItem({ ...launch, platform: 'win32', execPath: 'C:\\Hindsight\\Hindsight.exe' }, true), { kind: 'login-item', settings: { openAtLogin: true, path: 'C:\\Hindsight\\Hindsight.exe', args: ['--hidden'] } });
  assert.deepEqual(loginItem({ platform: 'win32', execPath: 'C:\\dev\\electron.exe', appPath: 'C:\\my dev\\hindsight', defaultApp: true }, true), {
    kind: 'login-item',
    settings: { openAtLogin: true, path: 'C:\\dev\\electron.exe', args: ['"C:\\my dev\\hindsight"', '--hidden'] },
  });
  assert.deepEqual(loginItem({ ...launch, platform: 'darwin' }, true), { kind: 'login-item', settings: { openAtLogin: true } });
});

test('opened at login (no window, tray only): macOS asks wasOpenedAtLogin, the others look for --hidden', () => {
  assert.equal(openedAtLogin('darwin', ['/Applications/Hindsight.app/Contents/MacOS/Hindsight'], true), true);
  assert.equal(openedAtLogin('darwin', ['/Applications/Hindsight.app/Contents/MacOS/Hindsight', '--hidden'], false), false, 'macOS passes no arguments to login items');
  assert.equal(openedAtLogin('linux', ['/opt/Hindsight/hindsight', '--hidden'], false), true);
  assert.equal(openedAtLogin('linux', ['/opt/Hindsight/hindsight'], false), false);
  assert.equal(openedAtLogin('win32', ['C:\\Hindsight\\Hindsight.exe', '--hidden'], false), true);
  assert.equal(openedAtLogin('win32', ['C:\\Hindsight\\Hindsight.exe'], true), false, 'wasOpenedAtLogin means nothing outside macOS');
});

test('a second launch during start-up: the window is not made before the app is ready, and is shown once it is', () => {
  let shown = 0;
  const gate = new StartGate(() => (shown += 1));
  gate.request();
  gate.request();
  assert.equal(shown, 0, 'nothing made before the app is ready');
  assert.equal(gate.open(), true, 'start-up is told a window was asked for');
  assert.equal(shown, 0, 'opening the gate leaves showing to start-up, once');
  gate.request();
  assert.equal(shown, 1, 'after start-up a second launch shows the window at once');
  assert.equal(new StartGate(() => undefined).open(), false, 'without a second launch, start-up decides (login: tray only)');
});
