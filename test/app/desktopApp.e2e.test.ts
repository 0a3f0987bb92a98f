import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { _electron, type ElectronApplication, type Page } from '@playwright/test';
import type { JobRecord, Method, Params, Result } from '../../src-shared/api.js';
import type { HindsightClient } from '../../src-shared/client.js';
import { electronSqliteBinding } from '../../src-main/agent/electronNative.js';
import { findElectronBinary } from '../../src-main/app/electronBinary.js';
import { seededBytes } from '../helpers/data.js';
import { tempDir } from '../helpers/tempDir.js';

/**
 * The desktop app end to end, through Playwright's Electron support: the real
 * main process, its utility-process agent, the sandboxed window and the tray.
 * It runs twice: from the checkout (`electron <project folder>`, as `npm start`
 * does) and, when `npm run dist` has made it, the packaged app in
 * dist/linux-unpacked, where workers and native modules load from app.asar and
 * app.asar.unpacked and the ESM workers start inside the utility process. It
 * needs an Electron binary, a display and better-sqlite3 built for Electron;
 * where one is missing it is reported as skipped, with the reason.
 */
const root = fileURLToPath(new URL('../../../', import.meta.url));

function whyNot(): string | undefined {
  const binary = findElectronBinary(root);
  if (!binary.found) return `desktop app end-to-end test skipped: ${binary.reason}`;
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) return 'desktop app end-to-end test skipped: no display (run under xvfb-run)';
  // better-sqlite3 is compiled against one ABI: node_modules has Node's, build/electron-native Electron's.
  const electronVersion = (JSON.parse(readFileSync(join(root, 'node_modules', 'electron', 'package.json'), 'utf8')) as { version: string }).version;
  const sqlite = electronSqliteBinding(join(root, 'build'), electronVersion);
  if ('missing' in sqlite) return `desktop app end-to-end test skipped: ${sqlite.missing}`;
  return undefined;
}

/** The packaged app electron-builder leaves unpacked beside the installers, on this platform. */
function packagedApp(): string | undefined {
  const path = { linux: join(root, 'dist', 'linux-unpacked', 'hindsight'), darwin: join(root, 'dist', 'mac', 'Hindsight.app', 'Contents', 'MacOS', 'Hindsight'), win32: join(root, 'dist', 'win-unpacked', 'Hindsight.exe') }[process.platform as string];
  return path && existsSync(path) ? path : undefined;
}

/** window.hindsight.call in the page: the renderer's only way to the agent. */
function call<M extends Method>(page: Page, method: M, params: Params<M>): Promise<Result<M>> {
  return page.evaluate(
    ([m, p]) => (globalThis as unknown as { hindsight: HindsightClient }).hindsight.call(m as Method, p as never),
    [method, params] as const,
  ) as Promise<Result<M>>;
}

async function finished(page: Page, jobId: string): Promise<JobRecord> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const job = (await call(page, 'jobs.list', { limit: 50 })).find((j) => j.id === jobId);
    if (job && job.endedAt !== undefined) return job;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`job ${jobId} did not finish in 2 minutes`);
}

/** Clicks an item of the tray's context menu in the main process, as a person would. */
async function clickTray(app: ElectronApplication, id: string): Promise<void> {
  const clicked = await app.evaluate((_electron, itemId) => {
    const menu = (globalThis as { hindsightTrayMenu?: Electron.Menu }).hindsightTrayMenu;
    const item = menu?.getMenuItemById(itemId);
    if (!item || !item.enabled) return false;
    item.click();
    return true;
  }, id);
  assert.equal(clicked, true, `tray item ${id} is there and enabled`);
}

/** The tray acts asynchronously (a click starts a call to the agent): wait up to 10 s for `check` to hold. */
async function eventually(check: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

function trayHas(app: ElectronApplication, id: string): Promise<boolean> {
  return eventually(() => app.evaluate((_electron, itemId) => Boolean((globalThis as { hindsightTrayMenu?: Electron.Menu }).hindsightTrayMenu?.getMenuItemById(itemId)), id));
}

const skip = whyNot();
const packaged = packagedApp();

test('desktop app from the checkout: set up, back up, pause and resume from the tray, restore byte for byte', { skip: skip ?? false, timeout: 5 * 60_000 }, async (t) => {
  const binary = findElectronBinary(root);
  assert.ok(binary.found);
  // The project folder, as npm start launches it: Electron reads package.json's main and names.
  await scenario(t, binary.path, [root]);
});

test('the packaged desktop app (dist/): the same, with everything loaded from app.asar', { skip: skip ?? (packaged ? false : 'packaged desktop app test skipped: no dist/*-unpacked (npm run dist makes it)'), timeout: 5 * 60_000 }, async (t) => {
  assert.ok(packaged);
  await scenario(t, packaged, []);
});

async function scenario(t: TestContext, executablePath: string, args: string[]): Promise<void> {
  const dir = await tempDir(t, 'hindsight-e2e-');
  const source = join(dir, 'source');
  await mkdir(join(source, 'docs'), { recursive: true });
  const photo = seededBytes('e2e photo', 2 * 1024 * 1024 + 17);
  await writeFile(join(source, 'docs', 'letter.txt'), 'Dear future self,');
  await writeFile(join(source, 'photo.bin'), photo);
  const repository = join(dir, 'repo');

  // A fresh data folder, and no D-Bus session: the real keychain is never touched.
  const env = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && !e[0].startsWith('HINDSIGHT_') && e[0] !== 'DBUS_SESSION_BUS_ADDRESS'));
  const app = await _electron.launch({
    executablePath,
    args,
    cwd: root,
    env: { ...env, HINDSIGHT_DATA_DIR: join(dir, 'data'), HINDSIGHT_CACHE_DIR: join(dir, 'cache') },
    timeout: 60_000,
  });
  t.after(() => app.close().catch(() => undefined));
  assert.equal(await app.evaluate(({ app: electronApp }) => electronApp.getName()), 'Hindsight', 'named by package.json, not "Electron"');
  const page = await app.firstWindow();
  await page.waitForFunction(() => 'hindsight' in globalThis, undefined, { timeout: 30_000 });

  // The page has the contract and nothing of Node.
  assert.deepEqual(await page.evaluate(() => [typeof (globalThis as { require?: unknown }).require, typeof (globalThis as { process?: unknown }).process]), ['undefined', 'undefined']);
  const refused = await page.evaluate(() => (globalThis as unknown as { hindsight: HindsightClient }).hindsight.call('fs.read' as Method, {} as never).then(() => 'accepted', (err: { code?: string }) => err.code));
  assert.equal(refused, 'E_UNKNOWN_METHOD', 'the main process refuses a method outside the contract');

  await call(page, 'repositories.create', { location: repository, password: 'e2e password', remember: true });
  const plan = await call(page, 'plans.create', { name: 'Documents', sources: [source], targets: [repository], schedule: { kind: 'manual' } });
  const backup = await finished(page, (await call(page, 'jobs.backup', { planId: plan.id })).id);
  assert.equal(backup.result, 'succeeded', backup.message);

  await clickTray(app, 'pause-until-resumed');
  assert.equal(await eventually(async () => (await call(page, 'status.get', {})).state === 'paused'), true, 'the tray paused the agent');
  assert.equal((await call(page, 'status.get', {})).pausedUntil, 'resumed by hand');
  assert.equal(await trayHas(app, 'resume'), true, 'the tray offers Resume while paused');
  await clickTray(app, 'resume');
  assert.equal(await eventually(async () => (await call(page, 'status.get', {})).state !== 'paused'), true, 'the tray resumed the agent');
  assert.equal(await trayHas(app, 'pause-hour'), true, 'and the pauses again once resumed');

  const [snapshot] = await call(page, 'snapshots.list', { repository });
  assert.ok(snapshot);
  const target = join(dir, 'restored');
  const restored = await finished(page, (await call(page, 'jobs.restore', { repository, snapshot: snapshot.id, target })).id);
  assert.equal(restored.result, 'succeeded', restored.message);
  assert.deepEqual(await readFile(join(target, source, 'photo.bin')), photo);
  assert.equal(await readFile(join(target, source, 'docs', 'letter.txt'), 'utf8'), 'Dear future self,');

  // Drag-to-restore's preparation through the desktop bridge (the OS drag itself needs a person).
  const item = { repository, snapshot: snapshot.id, path: join(source, 'photo.bin') };
  await page.evaluate((i) => (globalThis as unknown as { hindsight: HindsightClient }).hindsight.desktop?.prepareDrag(i), item);
}
