import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, test } from '@playwright/test';
import { BIN, SCREENS, callAgent, startServe, type ServeProcess } from '../helpers/serveProcess.js';

const run = promisify(execFile);

let serve: ServeProcess;
test.beforeEach(async () => {
  serve = await startServe();
});
test.afterEach(async ({}, testInfo) => {
  if (testInfo.status !== testInfo.expectedStatus) await testInfo.attach('hindsight serve output', { body: serve.output.join('\n') });
  await serve?.stop();
});

test('a prune under way is cancelled from the dashboard: it ends as cancelled, not failed, and leaves no lock; jobs queued behind it show as queued and are cancelled before they start', async ({ page }) => {
  const source = join(serve.dir, 'Mail');
  const repo = join(serve.dir, 'disk');
  await mkdir(source, { recursive: true });
  // Small files packed together; forgetting every other one leaves every pack half used, so the prune repacks them all.
  for (let i = 0; i < 2000; i++) await writeFile(join(source, `message-${i}.eml`), randomBytes(4000));
  const cli = (...args: string[]) => run(process.execPath, [BIN, ...args], { env: { ...serve.env, HINDSIGHT_REPO: repo, HINDSIGHT_PASSWORD: 'pw' } });
  await cli('init', '--pack-size', '1MiB');
  await cli('backup', source);
  for (let i = 0; i < 2000; i += 2) await unlink(join(source, `message-${i}.eml`));
  await cli('backup', source);
  await cli('forget', '--keep-last', '1');
  await callAgent(serve, 'repositories.connect', { location: repo, password: 'pw', remember: false });
  await callAgent(serve, 'plans.create', { name: 'Mail', sources: [source], targets: [repo], schedule: { kind: 'manual' } });
  // A thin line: the repacked packs take seconds to write, time enough to cancel.
  await callAgent(serve, 'settings.update', { uploadLimitKiBps: 256, maxConcurrentJobs: 1 });

  await page.goto(serve.url);
  await page.getByRole('link', { name: 'Settings' }).click();
  await page.getByRole('row', { name: new RegExp(repo) }).getByRole('button', { name: 'Prune' }).click();
  await page.getByRole('link', { name: 'Dashboard' }).click();
  const job = page.getByRole('article', { name: 'Prune job' });
  await expect(job.getByRole('progressbar')).toBeVisible();
  // The sidebar says what runs: a prune is not a backup.
  await expect(page.locator('.sidebar-status [data-state]')).toHaveText('Pruning');

  // One job at a time: a check and the plan's backup asked for now wait their turn, and say so.
  await callAgent(serve, 'jobs.check', { repository: repo });
  await callAgent(serve, 'jobs.backup', { planId: ((await callAgent(serve, 'plans.list', {})) as { id: string }[])[0]!.id });
  const check = page.getByRole('article', { name: 'Check job' });
  await expect(check).toHaveAttribute('data-result', 'queued');
  await expect(check.locator('[data-state=queued]')).toHaveText('Queued');
  const plan = page.getByRole('article', { name: 'Plan Mail' });
  await expect(plan.locator('.plan-header [data-state]')).toHaveText('Queued');
  await page.screenshot({ path: join(SCREENS, '21-dashboard-running-prune.png') });
  await check.getByRole('button', { name: 'Cancel' }).click();
  await expect(check).toHaveCount(0);
  await plan.getByRole('button', { name: 'Cancel' }).click();
  await expect(plan.locator('.plan-header [data-state]')).not.toHaveText('Queued');
  await expect(job).toHaveAttribute('data-result', 'running');

  await job.getByRole('button', { name: 'Cancel' }).click();
  await expect(job).toHaveCount(0);
  await expect(page.locator('.sidebar-status [data-state]')).toHaveText('Idle');

  await page.getByRole('link', { name: 'History' }).click();
  const row = page.locator('tbody tr', { hasText: 'Prune' });
  await expect(row).toContainText('Cancelled');
  await row.click();
  await expect(page.getByText(/^Cancelled\. The prune was stopped before it changed/)).toBeVisible();
  await expect(page.getByText('Prune failed')).toHaveCount(0);
  for (const kind of ['Check', 'Backup']) await expect(page.locator('tbody tr', { hasText: kind })).toContainText('Cancelled');
  expect(await readdir(join(repo, 'locks'))).toEqual([]);
  await cli('check', '--read-data');
});

test("the restore dialog's Cancel stops a restore under way: it ends cancelled and partial, says so, and leaves no temporary file", async ({ page }) => {
  const source = join(serve.dir, 'Mail');
  const repo = join(serve.dir, 'disk');
  // Many small files: a restore of them takes seconds of creating files, time enough to cancel.
  const files = 30_000;
  for (let folder = 0; folder < files / 1000; folder++) {
    const dir = join(source, `box-${folder}`);
    await mkdir(dir, { recursive: true });
    await Promise.all(Array.from({ length: 1000 }, (_, i) => writeFile(join(dir, `message-${i}.eml`), `message ${folder}-${i}\n`)));
  }
  const cli = (...args: string[]) => run(process.execPath, [BIN, ...args], { env: { ...serve.env, HINDSIGHT_REPO: repo, HINDSIGHT_PASSWORD: 'pw' } });
  await cli('init');
  await cli('backup', source);
  await callAgent(serve, 'repositories.connect', { location: repo, password: 'pw', remember: false });

  await page.goto(serve.url);
  await page.goto(`${serve.origin}/#/browse?${new URLSearchParams({ repo, path: serve.dir }).toString()}`);
  const list = page.getByRole('table', { name: 'Files' });
  await list.getByRole('checkbox', { name: 'Select Mail' }).check();
  await page.getByRole('button', { name: 'Restore 1…' }).click();
  const target = join(serve.dir, 'restored');
  await page.getByRole('dialog').getByRole('textbox', { name: 'Restore into' }).fill(target);
  await page.getByRole('dialog').getByRole('button', { name: 'Restore' }).click();
  const dialog = page.getByRole('dialog', { name: 'Restoring…' });
  await expect(dialog.getByRole('progressbar')).toBeVisible();
  await dialog.getByRole('button', { name: 'Cancel restore' }).click();

  const ended = page.getByRole('dialog', { name: 'Restore cancelled' }).getByRole('status');
  await expect(ended).toHaveAttribute('data-partial', 'yes');
  await expect(ended).toHaveText(/^Cancelled\. The restore into .* is partial: it stopped before it finished\./);
  await page.screenshot({ path: join(SCREENS, '22-restore-cancelled.png') });
  const restored = await readdir(target, { recursive: true });
  expect(restored.filter((name) => name.includes('.hindsight-restore-'))).toEqual([]);
  expect(restored.filter((name) => name.endsWith('.eml')).length, 'it stopped before the end').toBeLessThan(files);
  expect(await readdir(join(repo, 'locks'))).toEqual([]);
});
