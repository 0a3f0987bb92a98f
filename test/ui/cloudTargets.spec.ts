import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { expect, test } from '@playwright/test';
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite } from '../helpers/azureServer.js';
import { typedPlanStep } from '../helpers/serveFixture.js';
import { SCREENS, callAgent, startServe, type ServeProcess } from '../helpers/serveProcess.js';

const PASSWORD = 'correct horse battery staple';

let serve: ServeProcess;
let scratch: string;
const cleanups: (() => unknown)[] = [];
/** What the test helpers take for a node:test context: only its clean-up list. */
const context = { after: (fn: () => unknown) => cleanups.push(fn) } as unknown as TestContext;

test.beforeEach(async () => {
  // An rclone configuration of the test's own: a remote "nas" that is a folder.
  scratch = await mkdtemp(join(tmpdir(), 'hindsight-ui-rclone-'));
  await writeFile(join(scratch, 'rclone.conf'), `[nas]\ntype = alias\nremote = ${join(scratch, 'nas')}\n`);
  serve = await startServe({ RCLONE_CONFIG: join(scratch, 'rclone.conf') });
});
test.afterEach(async () => {
  await serve?.stop();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await rm(scratch, { recursive: true, force: true });
});

test('setup on Azure Blob Storage: account, container and access key fields; the first backup lands in Azurite and the key is in no file of the agent', async ({ page }) => {
  const azurite = await startAzurite(context);
  const source = join(serve.dir, 'Documents');
  await mkdir(source, { recursive: true });
  await writeFile(join(source, 'notes.txt'), 'to the cloud');
  await page.goto(serve.url);
  await page.getByRole('radio', { name: 'Azure Blob Storage' }).click();
  await page.getByLabel('Storage account').fill(AZURITE_ACCOUNT);
  await page.getByLabel('Container', { exact: true }).fill('from-the-ui');
  await page.getByLabel('Access key').fill(AZURITE_KEY);
  await page.getByLabel("Blob endpoint (empty for Azure's own)").fill(azurite.endpoint);
  await page.getByLabel('Repository password').fill(PASSWORD);
  await page.getByLabel('Repeat the password').fill(PASSWORD);
  await page.screenshot({ path: join(SCREENS, '20-setup-azure.png') });
  await page.getByRole('button', { name: 'Continue' }).click();
  await typedPlanStep(page, 'Cloud', source);

  const location = `azure://${AZURITE_ACCOUNT}/from-the-ui/hindsight`;
  await expect
    .poll(async () => ((await callAgent(serve, 'jobs.list', {})) as { kind: string; result: string }[]).find((job) => job.kind === 'backup')?.result, { timeout: 120_000 })
    .toBe('succeeded');
  expect(((await callAgent(serve, 'snapshots.list', { repository: location })) as unknown[]).length).toBe(1);
  const data = join(serve.dir, 'data');
  for (const entry of await readdir(data, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const bytes = await readFile(join(entry.parentPath, entry.name));
    expect(bytes.includes(AZURITE_KEY), `${entry.name} holds the key`).toBe(false);
  }
});

test('an rclone remote is picked from rclone listremotes; a program that is not there is said, and the remote can be typed', async ({ page }) => {
  await page.goto(serve.url);
  await page.getByRole('radio', { name: 'rclone remote' }).click();
  const choice = page.getByLabel('rclone remote', { exact: true });
  await expect(choice).toHaveValue('nas');
  await expect(choice.locator('option')).toHaveText(['nas', 'Another (type it)…']);
  await page.screenshot({ path: join(SCREENS, '21-setup-rclone.png') });

  await page.getByLabel('rclone program (empty: rclone on the PATH)').fill(join(scratch, 'no-rclone'));
  await expect(page.getByRole('status').filter({ hasText: `The rclone program ${join(scratch, 'no-rclone')} does not exist.` })).toBeVisible();
  await page.getByRole('textbox', { name: 'rclone remote' }).fill('gdrive');
  await expect(page.getByRole('textbox', { name: 'rclone remote' })).toHaveValue('gdrive');
});
