import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { expect, test } from '@playwright/test';
import { SERVER_PASSWORD, startHindsightServer } from '../helpers/hindsightServer.js';
import { typedPlanStep } from '../helpers/serveFixture.js';
import { SCREENS, callAgent, startServe, type ServeProcess } from '../helpers/serveProcess.js';

const PASSWORD = 'correct horse battery staple';

let serve: ServeProcess;
const cleanups: (() => unknown)[] = [];
/** What the test helpers take for a node:test context: only its clean-up list. */
const context = { after: (fn: () => unknown) => cleanups.push(fn) } as unknown as TestContext;

test.beforeEach(async () => {
  serve = await startServe();
});
test.afterEach(async () => {
  await serve?.stop();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

type Job = { kind: string; result: string; message?: string };
const backups = async () => ((await callAgent(serve, 'jobs.list', {})) as Job[]).filter((job) => job.kind === 'backup');

test('setup on a Hindsight server: its self-signed certificate\'s fingerprint is shown and confirmed, then pinned; the plan backs up to it, the password is in no file of the agent, and a server with another certificate is refused', async ({ page }) => {
  const server = await startHindsightServer(context, { args: ['--tls-self-signed'] });
  const source = join(serve.dir, 'Documents');
  await mkdir(source, { recursive: true });
  await writeFile(join(source, 'notes.txt'), 'to the box in the hall');
  await page.goto(serve.url);
  await page.getByRole('radio', { name: 'Hindsight server' }).click();
  await page.getByLabel('Server address').fill(`127.0.0.1:${server.port}`);
  await page.getByLabel('User on the server').fill('alice');
  await page.getByLabel('Password on the server').fill(SERVER_PASSWORD);
  await page.getByLabel('Repository password').fill(PASSWORD);
  await page.getByLabel('Repeat the password').fill(PASSWORD);
  // Until the certificate is confirmed there is no location to go on with.
  await expect(page.getByRole('button', { name: 'Continue' })).toBeDisabled();
  await expect(page.getByText('Say where the backups go.')).toBeVisible();

  await page.getByRole('button', { name: "Check the server's certificate" }).click();
  await expect(page.getByTestId('server-fingerprint')).toHaveText(server.fingerprint as string);
  await expect(page.getByRole('group', { name: "Confirm the server's certificate" })).toContainText(`First connection to 127.0.0.1:${server.port}`);
  await page.screenshot({ path: join(SCREENS, '22-setup-hindsight-server-fingerprint.png') });
  await page.getByRole('button', { name: 'The fingerprints match: trust this server' }).click();
  await expect(page.getByRole('status').filter({ hasText: `Trusted: 127.0.0.1:${server.port} with the certificate ${server.fingerprint}` })).toBeVisible();

  await page.getByRole('button', { name: 'Continue' }).click();
  await typedPlanStep(page, 'Hall box', source);

  const location = `rest:https://127.0.0.1:${server.port}/alice/laptop`;
  await expect.poll(async () => (await backups())[0]?.result, { timeout: 120_000 }).toBe('succeeded');
  expect(((await callAgent(serve, 'snapshots.list', { repository: location })) as unknown[]).length).toBe(1);
  const [plan] = (await callAgent(serve, 'plans.list', {})) as { id: string; targets: string[]; targetSettings?: Record<string, unknown> }[];
  expect(plan?.targets).toEqual([location]);
  expect(plan?.targetSettings).toEqual({ [location]: { restFingerprint: server.fingerprint } });
  // The repository is an ordinary folder on the server, under the user's name.
  expect((await readdir(join(server.data, 'alice', 'laptop'))).sort()).toEqual(expect.arrayContaining(['config', 'data', 'index', 'keys', 'snapshots']));
  for (const entry of await readdir(join(serve.dir, 'data'), { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    expect((await readFile(join(entry.parentPath, entry.name))).includes(SERVER_PASSWORD), `${entry.name} holds the server password`).toBe(false);
  }

  // The same address with another certificate (the server's was replaced, or another machine answers there): refused, clearly.
  await server.stop();
  await rm(join(server.data, '.hindsight-server', 'tls-cert.pem'));
  await rm(join(server.data, '.hindsight-server', 'tls-key.pem'));
  const replaced = await startHindsightServer(context, { data: server.data, args: ['--tls-self-signed', '--listen', `127.0.0.1:${server.port}`] });
  expect(replaced.fingerprint).not.toBe(server.fingerprint);
  await callAgent(serve, 'jobs.backup', { planId: plan?.id });
  await expect.poll(async () => (await backups()).length, { timeout: 60_000 }).toBe(2);
  await expect.poll(async () => (await backups()).find((job) => job.result === 'failed')?.message, { timeout: 120_000 }).toMatch(
    new RegExp(`is not the one pinned .*its certificate has the fingerprint ${replaced.fingerprint}\\. Nothing was sent\\.`),
  );
});
