import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PASSWORD, expect, test } from '../helpers/serveFixture.js';
import { BIN, SCREENS, callAgent } from '../helpers/serveProcess.js';

const run = promisify(execFile);

/** A WebDAV PROPFIND of `url` (depth 1) with basic authentication: the status and the body. */
function propfind(url: string, user: string, password: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const address = new URL(url);
    const req = request({ host: address.hostname, port: address.port, path: address.pathname, method: 'PROPFIND', headers: { depth: '1', authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('"Open in file manager" on the timeline and in the browser: the drive\'s address and credentials, closing it, and a failure', async ({ page, serve }) => {
  const source = join(serve.dir, 'Documents');
  await mkdir(source, { recursive: true });
  await writeFile(join(source, 'notes.txt'), 'on the drive\n');
  const repo = join(serve.dir, 'repo');
  const env = { ...serve.env, HINDSIGHT_PASSWORD: PASSWORD };
  await run(process.execPath, [BIN, 'init', '--repo', repo], { env });
  await run(process.execPath, [BIN, 'backup', '--repo', repo, source], { env });
  await callAgent(serve, 'repositories.connect', { location: repo, password: PASSWORD, remember: false });

  test.setTimeout(90_000);
  // No plan yet, so no menu: the timeline by its address.
  await page.goto(serve.url);
  await page.goto(`${serve.origin}/#/timeline?${new URLSearchParams({ repo }).toString()}`);
  const row = page.locator('tbody tr[data-snapshot]');
  await expect(row).toHaveCount(1);
  const button = row.getByRole('button', { name: 'Open in file manager' });
  await expect(button).toBeEnabled();
  await expect(page.getByRole('region', { name: 'Snapshot drive' })).toHaveCount(0);
  await button.click();

  // No desktop session here: the agent cannot start a file manager, so the page gives the details to connect by hand.
  const panel = page.getByRole('region', { name: 'Snapshot drive' });
  await expect(panel.getByRole('heading', { name: /Connect to this snapshot by hand|Opened in your file manager/ })).toBeVisible();
  const address = (await panel.getByTestId('drive-address').textContent()) ?? '';
  expect(address).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d%20[^/]+\/$/);
  await expect(panel.getByText('hindsight', { exact: true })).toBeVisible();
  const password = (await panel.getByTestId('drive-password').textContent()) ?? '';
  expect(password.length).toBeGreaterThanOrEqual(20);
  await expect(panel.getByText(/closes after 15 minutes without use/)).toBeVisible();
  await expect(button).toBeEnabled();
  await page.screenshot({ path: join(SCREENS, '30-timeline-drive.png') });

  // The address and credentials shown are a working WebDAV drive of that snapshot.
  const listing = await propfind(`${address}${source.slice(1)}/`, 'hindsight', password);
  expect(listing.status).toBe(207);
  expect(listing.body).toContain('notes.txt');
  expect((await propfind(address, 'hindsight', 'wrong')).status).toBe(401);

  await panel.getByRole('button', { name: 'Close drive' }).click();
  await expect(panel).toHaveCount(0);
  await expect.poll(() => propfind(address, 'hindsight', password).then(() => 'open', () => 'closed')).toBe('closed');

  // The same from the snapshot browser's toolbar.
  await row.getByRole('button', { name: 'Browse' }).click();
  await expect(page.getByRole('heading', { name: 'Browse snapshots' })).toBeVisible();
  await page.getByRole('button', { name: 'Open in file manager' }).click();
  const again = page.getByRole('region', { name: 'Snapshot drive' });
  await expect(again.getByTestId('drive-address')).toHaveText(/^http:\/\/127\.0\.0\.1:\d+\/\d{4}-/);
  await page.screenshot({ path: join(SCREENS, '31-browser-drive.png') });
  await again.getByRole('button', { name: 'Close drive' }).click();
  await expect(again).toHaveCount(0);

  // A snapshot gone since the page listed it (forgotten elsewhere): the button says why instead.
  for (const name of await readdir(join(repo, 'snapshots'))) await rm(join(repo, 'snapshots', name));
  await page.getByRole('button', { name: 'Open in file manager' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'could not be opened as a drive' })).toContainText('No snapshot matches');
  await expect(page.getByRole('button', { name: 'Open in file manager' })).toBeEnabled();
});
