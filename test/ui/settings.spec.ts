import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { SCREENS, callAgent, startServe, type ServeProcess } from '../helpers/serveProcess.js';

let serve: ServeProcess;
test.beforeEach(async () => {
  serve = await startServe();
});
test.afterEach(async () => {
  await serve?.stop();
});

test('a plan\'s targets are edited in the window: a second target is added (seeded first), then the first removed', async ({ page }) => {
  const source = join(serve.dir, 'Documents');
  await mkdir(source, { recursive: true });
  await writeFile(join(source, 'notes.txt'), 'hello');
  const disk = join(serve.dir, 'disk');
  const nas = join(serve.dir, 'nas');
  await callAgent(serve, 'repositories.create', { location: disk, password: 'pw', remember: false });
  await callAgent(serve, 'plans.create', { name: 'Documents', sources: [source], targets: [disk], schedule: { kind: 'manual' } });
  await page.goto(serve.url);
  await page.getByRole('link', { name: 'Settings' }).click();
  await page.getByRole('button', { name: 'Edit' }).first().click();
  const targets = page.getByRole('list', { name: 'Targets' });
  await expect(targets).toContainText(disk);
  await expect(targets.getByRole('button', { name: `Remove target ${disk}` })).toBeDisabled();
  await page.getByRole('textbox', { name: 'Backup folder' }).fill(nas);
  await page.getByRole('button', { name: 'Add target' }).click();
  await expect(targets).toContainText(nas);
  await page.screenshot({ path: join(SCREENS, '19-plan-targets.png') });
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByText(`${nas} gets a complete copy of the backups first`)).toBeVisible();
  // Once seeded, the plan lists both.
  await expect(page.getByText(`${source} → ${disk}, ${nas}`)).toBeVisible();

  await page.getByRole('button', { name: 'Edit' }).first().click();
  await targets.getByRole('button', { name: `Remove target ${disk}` }).click();
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByText(`${source} → ${nas}`, { exact: true })).toBeVisible();
});
