import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BrowserWindow, Notification, app, nativeImage, powerMonitor, session } from 'electron';
import type { AgentEvent, JobRecord, RepositoryInfo, Status } from '../../src-shared/api.js';
import type { Plan } from '../../src-shared/plan.js';
import { appDataDir } from '../agent/appDataDir.js';
import { KeytarSecretStore } from '../agent/secretStore.js';
import { AgentHost } from './agentHost.js';
import { APP_USER_MODEL_ID } from './appIdentity.js';
import { setLinuxAutostart } from './autostart.js';
import { StartGate } from './startGate.js';
import { loadDesktopSettings, saveDesktopSettings, type DesktopSettings } from './desktopSettings.js';
import { DragRestorer } from './dragRestore.js';
import { forwardEvents, registerIpcBridge } from './ipcBridge.js';
import { loginItem, openedAtLogin } from './loginItem.js';
import { OverdueReminder, finishedJobNote, type Note } from './notificationPolicy.js';
import { lockDown } from './security.js';
import { AppTray } from './tray.js';
import type { AgentLink, TrayAction, TraySetting } from './trayModel.js';
import { createWindow, registerAppScheme, serveRenderer } from './window.js';

/**
 * The desktop app's main process: thin by design. It starts the agent (in a
 * utility process), the tray, the window and the IPC bridge, and relays
 * power events and notifications; everything about backups happens in the agent.
 */
const root = fileURLToPath(new URL('../../../', import.meta.url));
const assets = join(root, 'assets');
const dataDir = appDataDir();
// One folder for everything the app keeps: the agent's data, Chromium's profile, the logs.
app.setPath('userData', join(dataDir, 'desktop'));
app.setAppLogsPath(join(dataDir, 'logs'));
// Windows shows a notification only for an app whose AppUserModelID has a Start menu shortcut (appIdentity.ts).
if (process.platform === 'win32') app.setAppUserModelId(APP_USER_MODEL_ID);
registerAppScheme();

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  void run();
}

async function run(): Promise<void> {
  let window: BrowserWindow | undefined;
  let quitting = false;
  let link: AgentLink = 'starting';
  let status: Status | undefined;
  let repositories: RepositoryInfo[] = [];
  let plans: Plan[] = [];
  const settingsFile = join(app.getPath('userData'), 'settings.json');
  let settings: DesktopSettings = await loadDesktopSettings(settingsFile);
  const overdue = new OverdueReminder();

  const showWindowNow = () => {
    if (!window || window.isDestroyed()) {
      window = createWindow({ preload: join(root, 'build/src-main/app/preload.cjs'), icon: join(assets, 'icons', '512x512.png') });
      // Windows sends no before-quit when the session ends: stop jobs at a safe point while it still can.
      // (Without a window there is nothing to hear it; the next start re-runs what was cut off.)
      window.on('session-end', () => void host.stop(3000));
    }
    if (window.isMinimized()) window.restore();
    window.show();
    window.focus();
  };
  // A window can only be made once the app is ready and its scheme served: a second launch during
  // start-up is remembered and shown then (creating it at once threw).
  const windowGate = new StartGate(showWindowNow);
  const showWindow = () => windowGate.request();
  app.on('second-instance', showWindow);
  // Closing the window leaves the tray and the agent running; only Quit ends them.
  app.on('window-all-closed', () => undefined);

  await app.whenReady();
  lockDown(session.defaultSession);
  serveRenderer(session.defaultSession, join(root, 'build', 'renderer'));

  const notify = (note: Note) => {
    if (Notification.isSupported()) new Notification({ title: note.title, body: note.body, icon: join(assets, 'icons', '256x256.png') }).show();
  };

  let redraw: NodeJS.Timeout | undefined;
  const tray = new AppTray(assets, { action: (action) => void act(action), toggle: (setting, checked) => void toggle(setting, checked) });
  const refreshTray = () => {
    // Progress events come many times a second; the tray needs a few redraws, not hundreds.
    redraw ??= setTimeout(() => {
      redraw = undefined;
      tray.show({ link, status, repositories, now: Date.now(), settings });
    }, 250);
  };
  refreshTray();

  const host = new AgentHost({
    entry: join(root, 'build/src-main/agent/utilityMain.js'),
    keychain: new KeytarSecretStore(),
    logDir: app.getPath('logs'),
    onLink: (next, message) => {
      link = next;
      if (message) notify({ title: 'Hindsight', body: message });
      if (next === 'up') void refreshFromAgent();
      refreshTray();
    },
  });

  const refreshFromAgent = async () => {
    try {
      [status, repositories, plans] = await Promise.all([host.call('status.get', {}), host.call('repositories.list', {}), host.call('plans.list', {})]);
      const jobs: JobRecord[] = await host.call('jobs.list', { limit: 1000 });
      for (const note of overdue.notes(plans, jobs, Date.now(), settings.overdueDays)) notify(note);
    } catch {
      // The agent went away meanwhile; its restart refreshes again.
    }
    refreshTray();
  };

  const onAgentEvent = (event: AgentEvent) => {
    if (event.type === 'status') status = event.status;
    if (event.type === 'job.progress' && status) {
      status = { ...status, runningJobs: status.runningJobs.map((job) => (job.id === event.jobId ? { ...job, progress: event.progress } : job)) };
    }
    if (event.type === 'target.status') repositories = [...repositories.filter((r) => r.location !== event.target.location), event.target];
    if (event.type === 'job.finished') {
      const note = finishedJobNote(event.job, plans.find((p) => p.id === event.job.planId)?.name, settings.notifyOnSuccess);
      if (note) notify(note);
      void refreshFromAgent();
    }
    refreshTray();
  };

  const act = async (action: TrayAction) => {
    if (action === 'open') return showWindow();
    if (action === 'quit') return app.quit();
    try {
      if (action === 'backup-now') for (const plan of await host.call('plans.list', {})) if (plan.enabled) await host.call('jobs.backup', { planId: plan.id });
      if (action === 'pause-hour') status = await host.call('agent.pause', { forSeconds: 3600 });
      if (action === 'pause-until-resumed') status = await host.call('agent.pause', {});
      if (action === 'resume') status = await host.call('agent.resume', {});
    } catch (err) {
      notify({ title: 'Hindsight', body: (err as Error).message });
    }
    refreshTray();
  };

  const toggle = async (setting: TraySetting, checked: boolean) => {
    settings = setting === 'open-at-login' ? { ...settings, openAtLogin: checked } : { ...settings, notifyOnSuccess: checked };
    await saveDesktopSettings(settingsFile, settings);
    if (setting === 'open-at-login') await applyOpenAtLogin(checked);
    refreshTray();
  };

  host.onEvent(onAgentEvent);
  forwardEvents(host);
  // The agent defers scheduled work on battery and catches up after a suspend.
  const hint = (value: 'suspend' | 'resume' | 'on-battery' | 'on-ac') => void host.call('host.hint', { hint: value }).catch(() => undefined);
  powerMonitor.on('suspend', () => hint('suspend'));
  powerMonitor.on('resume', () => hint('resume'));
  powerMonitor.on('on-battery', () => hint('on-battery'));
  powerMonitor.on('on-ac', () => hint('on-ac'));

  // Per data folder: two instances on different data folders (a test next to the real app) never sweep each other's files.
  const drag = new DragRestorer(host, join(app.getPath('temp'), `hindsight-drag-${createHash('sha256').update(dataDir).digest('hex').slice(0, 12)}`));
  registerIpcBridge({ agent: host, drag, dragIcon: nativeImage.createFromPath(join(assets, 'icons', '32x32.png')) });
  void drag.sweep();
  const sweeper = setInterval(() => void drag.sweep(), 5 * 60_000);
  const overdueTimer = setInterval(() => void refreshFromAgent(), 6 * 3600_000);

  host.start();
  if (powerMonitor.isOnBatteryPower()) hint('on-battery');
  if (windowGate.open() || !openedAtLogin(process.platform, process.argv, app.getLoginItemSettings().wasOpenedAtLogin)) showWindowNow();
  app.on('activate', showWindow);

  app.on('before-quit', (event) => {
    if (quitting) return;
    // Quit waits for the agent's safe stop (running jobs stop where they can resume) and removes dragged files.
    event.preventDefault();
    quitting = true;
    clearInterval(sweeper);
    clearInterval(overdueTimer);
    void Promise.allSettled([host.stop(), drag.clear()]).then(() => {
      tray.destroy();
      app.quit();
    });
  });
}

async function applyOpenAtLogin(enabled: boolean): Promise<void> {
  const item = loginItem(
    { platform: process.platform, execPath: process.execPath, appPath: app.getAppPath(), defaultApp: process.defaultApp === true, ...(process.env.APPIMAGE ? { appImage: process.env.APPIMAGE } : {}) },
    enabled,
  );
  if (item.kind === 'xdg-autostart') await setLinuxAutostart(item.enabled, item.command);
  else app.setLoginItemSettings(item.settings);
}
