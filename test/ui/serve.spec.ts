import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, test, type Page } from '@playwright/test';
import WebSocket from 'ws';
import { BIN, SCREENS, startServe, type ServeProcess } from '../helpers/serveProcess.js';

const PASSWORD = 'correct horse battery staple';
const run = promisify(execFile);

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SCREENS, `${name}.png`), fullPage: true });
}

/** The three first-run steps, as a person does them. */
async function firstRun(page: Page, options: { repo: string; sourceParent: string; sourceName: string; planName: string; backUpNow: boolean; screenshots?: boolean }) {
  await expect(page.getByRole('heading', { name: 'Welcome to Hindsight' })).toBeVisible();
  await page.getByRole('textbox', { name: 'Backup folder' }).fill(options.repo);
  await page.getByLabel('Repository password').fill(PASSWORD);
  await page.getByLabel('Repeat the password').fill(PASSWORD);
  await expect(page.getByText('Very strong')).toBeVisible();
  if (options.screenshots) await shot(page, '01-first-run-repository');
  await page.getByRole('button', { name: 'Continue' }).click();

  await page.getByLabel('Name of this backup plan').fill(options.planName);
  // The source is chosen with the server-side folder browser, as in a browser on a headless machine.
  await page.getByRole('textbox', { name: 'Folder to back up' }).fill(options.sourceParent);
  await page.getByRole('button', { name: 'Browse…' }).click();
  const chooser = page.getByRole('dialog', { name: 'Folder to back up' });
  await chooser.getByRole('button', { name: options.sourceName, exact: true }).click();
  await expect(chooser.locator('.path-preview')).toHaveText(join(options.sourceParent, options.sourceName));
  if (options.screenshots) await shot(page, '02-folder-browser');
  await chooser.getByRole('button', { name: 'Choose this folder' }).click();
  await page.getByRole('button', { name: 'Add folder' }).click();
  await expect(page.getByRole('list', { name: 'Folders to back up' })).toContainText(join(options.sourceParent, options.sourceName));
  if (options.screenshots) await shot(page, '03-first-run-folders');
  await page.getByRole('button', { name: 'Continue' }).click();

  await page.getByLabel('Schedule').selectOption('manual');
  const now = page.getByLabel('Start the first backup now');
  if (!options.backUpNow) await now.uncheck();
  if (options.screenshots) await shot(page, '04-first-run-schedule');
  await page.getByRole('button', { name: 'Create repository and plan' }).click();
  await expect(page.getByRole('article', { name: `Plan ${options.planName}` })).toBeVisible();
}

let serve: ServeProcess;
let consoleLines: string[] = [];
test.beforeEach(async ({ page }) => {
  serve = await startServe();
  consoleLines = [];
  page.on('console', (message) => consoleLines.push(`${message.type()}: ${message.text()}`));
  page.on('pageerror', (error) => consoleLines.push(`page error: ${error.message}`));
});
test.afterEach(async ({}, testInfo) => {
  if (testInfo.status !== testInfo.expectedStatus) {
    await testInfo.attach('hindsight serve output', { body: serve.output.join('\n') });
    await testInfo.attach('browser console', { body: consoleLines.join('\n') });
  }
  await serve?.stop();
});

test('the token is required for the page, downloads and the WebSocket', async ({ request }) => {
  expect((await request.get(`${serve.origin}/`, { maxRedirects: 0 })).status()).toBe(401);
  expect((await request.get(`${serve.origin}/?token=wrong`, { maxRedirects: 0 })).status()).toBe(401);
  expect((await request.get(`${serve.origin}/download?repository=/x&snapshot=latest&path=/etc/passwd`, { maxRedirects: 0 })).status()).toBe(401);
  expect((await request.get(`${serve.origin}/`, { headers: { authorization: 'Bearer nope' } })).status()).toBe(401);
  // Loopback only: a DNS-rebinding page arrives with its own host name.
  expect((await request.get(`${serve.origin}/`, { headers: { authorization: `Bearer ${serve.token}`, host: 'evil.example:80' } })).status()).toBe(403);
  // Anything but GET/HEAD is refused even with the token: the HTTP side changes nothing.
  expect((await request.post(`${serve.origin}/`, { headers: { authorization: `Bearer ${serve.token}` } })).status()).toBe(405);

  const visit = await request.get(serve.url, { maxRedirects: 0 });
  expect(visit.status()).toBe(303);
  expect(visit.headers()['location']).toBe('/');
  expect(visit.headers()['set-cookie']).toMatch(/HttpOnly; SameSite=Strict/);
  const page = await request.get(`${serve.origin}/`, { headers: { authorization: `Bearer ${serve.token}` } });
  expect(page.status()).toBe(200);
  expect(page.headers()['content-security-policy']).toContain("script-src 'self'");
  // Paths cannot climb out of the UI's folder: the package.json two levels up is not served, index.html is.
  for (const sneaky of ['/../../package.json', '/..%2f..%2fpackage.json', '/assets/..%2f..%2f..%2fpackage.json']) {
    const response = await request.get(`${serve.origin}${sneaky}`, { headers: { authorization: `Bearer ${serve.token}` } });
    expect(await response.text()).toContain('<div id="root">');
  }

  const wsStatus = (headers: Record<string, string>) =>
    new Promise<number>((resolve) => {
      const ws = new WebSocket(`${serve.origin.replace('http', 'ws')}/api`, { headers });
      ws.once('open', () => {
        ws.close();
        resolve(101);
      });
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('error', () => undefined);
    });
  expect(await wsStatus({})).toBe(401);
  expect(await wsStatus({ cookie: 'hindsight-token=wrong' })).toBe(401);
  // Cross-site WebSocket hijacking: right cookie, foreign page.
  expect(await wsStatus({ cookie: `hindsight-token=${serve.token}`, origin: 'http://evil.example' })).toBe(403);
  expect(await wsStatus({ cookie: `hindsight-token=${serve.token}`, origin: serve.origin })).toBe(101);
});

test('first run, two backups, the timeline, two versions of a file, and the older one restored byte for byte', async ({ page }) => {
  const source = join(serve.dir, 'Documents');
  await mkdir(join(source, 'letters'), { recursive: true });
  const first = Buffer.from('version one\n');
  await writeFile(join(source, 'notes.txt'), first);
  await writeFile(join(source, 'letters', 'to-ann.txt'), 'Dear Ann,\nthe backups work.\n');
  await writeFile(join(source, 'data.bin'), randomBytes(3 * 1024 * 1024));
  await page.goto(serve.url);
  await page.screenshot({ path: join(SCREENS, 'picture.png') });
  await writeFile(join(source, 'picture.png'), await readFile(join(SCREENS, 'picture.png')));

  await firstRun(page, { repo: join(serve.dir, 'backup-disk'), sourceParent: serve.dir, sourceName: 'Documents', planName: 'Documents', backUpNow: true, screenshots: true });
  const card = page.getByRole('article', { name: 'Plan Documents' });
  await expect(card.getByText('Succeeded')).toBeVisible();
  await shot(page, '05-dashboard');

  await writeFile(join(source, 'notes.txt'), 'version two, a little longer\n');
  await card.getByRole('button', { name: 'Back up now' }).click();
  await page.getByRole('link', { name: 'History' }).click();
  await expect(page.locator('tbody tr', { hasText: 'Backup' }).filter({ hasText: 'Succeeded' })).toHaveCount(2);
  await shot(page, '06-history');

  await page.getByRole('link', { name: 'Timeline' }).click();
  await page.getByRole('radio', { name: 'Day' }).click();
  const bars = page.locator('.chart .bar');
  await expect(bars).toHaveCount(2);
  // The first snapshot of these folders is a full one, the second an incremental one (newest first).
  await expect(page.locator('.snapshot-table tbody tr td:nth-child(2)')).toHaveText(['incremental', 'full']);
  await shot(page, '07-timeline');
  await bars.first().click();

  // The browser opens the first snapshot at the backed-up folder.
  await expect(page.getByRole('heading', { name: 'Browse snapshots' })).toBeVisible();
  const files = page.getByRole('table', { name: 'Files' });
  await expect(files.getByRole('button', { name: 'letters' })).toBeVisible();
  await files.getByRole('button', { name: 'notes.txt' }).click();
  const details = page.getByRole('complementary', { name: 'File details' });
  await expect(details.getByLabel('Preview')).toHaveText('version one');
  const versions = details.getByRole('list', { name: 'Versions' }).locator('li');
  await expect(versions).toHaveCount(2);
  await shot(page, '08-browser-versions');

  // The browser's stand-in for dragging a file out: a download, streamed in verified ranges.
  await files.getByRole('button', { name: 'data.bin' }).click();
  const [download] = await Promise.all([page.waitForEvent('download'), details.getByRole('link', { name: 'Download' }).click()]);
  expect(download.suggestedFilename()).toBe('data.bin');
  expect((await readFile(await download.path())).equals(await readFile(join(source, 'data.bin')))).toBe(true);

  await files.getByRole('button', { name: 'picture.png' }).click();
  await expect(details.getByRole('img', { name: /Preview of/ })).toBeVisible();
  await shot(page, '09-browser-image-preview');

  await files.getByRole('button', { name: 'notes.txt' }).click();
  await details.locator(`li[data-size="${first.length}"]`).getByRole('button', { name: 'Restore this version…' }).click();
  const dialog = page.getByRole('dialog', { name: /Restore "notes.txt"/ });
  await dialog.getByLabel('Another folder').check();
  const target = join(serve.dir, 'restored');
  await dialog.getByRole('textbox', { name: 'Restore into' }).fill(target);
  await shot(page, '10-restore-dialog');
  await dialog.getByRole('button', { name: 'Restore' }).click();
  await expect(page.getByRole('dialog', { name: 'Restore finished' }).getByText(/Restored 1 file/)).toBeVisible();
  await shot(page, '11-restore-finished');
  expect((await readFile(join(target, 'notes.txt'))).equals(first)).toBe(true);
  await page.getByRole('button', { name: 'Done' }).click();

  // Search across snapshots finds the letter in a subfolder.
  await page.getByRole('searchbox', { name: 'Search all snapshots' }).fill('to-ann');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await expect(page.getByRole('region', { name: 'Search results' })).toContainText(join(source, 'letters', 'to-ann.txt'));

  // Nothing lives only in the page: a reload shows the same place and the same facts, from the agent.
  await page.reload();
  await expect(page.getByRole('heading', { name: 'Browse snapshots' })).toBeVisible();
  await page.getByRole('link', { name: 'Settings' }).click();
  await expect(page.getByRole('cell', { name: 'Unlocked' })).toBeVisible();
  await shot(page, '12-settings');
});

test('pause and resume from the dashboard: the state changes and the backup continues to a complete snapshot', async ({ page }) => {
  const source = join(serve.dir, 'Videos');
  await mkdir(source, { recursive: true });
  const video = randomBytes(48 * 1024 * 1024);
  await writeFile(join(source, 'holiday.mp4'), video);
  await page.goto(serve.url);
  const repo = join(serve.dir, 'backup-disk');
  await firstRun(page, { repo, sourceParent: serve.dir, sourceName: 'Videos', planName: 'Videos', backUpNow: false });

  // Slow uploads down (a setting people use on thin lines) so there is time to pause mid-backup.
  await page.getByRole('link', { name: 'Settings' }).click();
  const limit = page.getByLabel('Upload limit (KiB/s, 0 for none)');
  await limit.fill('1024');
  await limit.blur();
  await page.getByRole('link', { name: 'Dashboard' }).click();
  await page.reload();
  await page.getByRole('link', { name: 'Settings' }).click();
  await expect(page.getByLabel('Upload limit (KiB/s, 0 for none)')).toHaveValue('1024');
  await page.getByRole('link', { name: 'Dashboard' }).click();

  const card = page.getByRole('article', { name: 'Plan Videos' });
  await card.getByRole('button', { name: 'Back up now' }).click();
  await expect(card.getByRole('progressbar')).toBeVisible();
  await card.getByRole('button', { name: 'Pause' }).click();
  // The plan's own state badge: 'Paused' also shows as the paused job's result and as the next run.
  const planState = card.locator('.plan-header [data-state]');
  await expect(planState).toHaveText('Paused');
  await expect(card.getByText('Paused until resumed')).toBeVisible();
  await expect(card.getByRole('button', { name: 'Resume' })).toBeVisible();
  await shot(page, '14-dashboard-paused');

  await card.getByRole('button', { name: 'Resume' }).click();
  await expect(planState).toHaveText('Backing up');
  await expect(card.getByRole('progressbar')).toBeVisible();
  await shot(page, '13-dashboard-running');
  await expect(card.getByText('Succeeded')).toBeVisible({ timeout: 150_000 });
  await page.getByRole('link', { name: 'History' }).click();
  await expect(page.locator('tbody tr', { hasText: 'Backup' }).filter({ hasText: 'Paused' })).toHaveCount(1);
  await expect(page.locator('tbody tr', { hasText: 'Backup' }).filter({ hasText: 'Succeeded' })).toHaveCount(1);

  // The snapshot the resumed job saved is complete.
  const restored = join(serve.dir, 'restored');
  await run(process.execPath, [BIN, 'restore', '--repo', repo, 'latest', '--target', restored], { env: { ...serve.env, HINDSIGHT_PASSWORD: PASSWORD } });
  expect((await readFile(join(restored, source, 'holiday.mp4'))).equals(video)).toBe(true);
});
