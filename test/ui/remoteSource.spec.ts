import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { expect, test, type Page } from '@playwright/test';
import { sshdMissing, startSshServer, type SshServer } from '../helpers/sshServer.js';
import { SCREENS, callAgent, startServe, type ServeProcess } from '../helpers/serveProcess.js';

const PASSWORD = 'correct horse battery staple';

let serve: ServeProcess | undefined;
let scratch: string;
const cleanups: (() => unknown)[] = [];
/** What the test helpers take for a node:test context: only its clean-up list. */
const context = { after: (fn: () => unknown) => cleanups.push(fn) } as unknown as TestContext;

test.beforeEach(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'hindsight-ui-sftp-'));
});
test.afterEach(async () => {
  await serve?.stop();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await rm(scratch, { recursive: true, force: true });
});

/**
 * `hindsight serve` with the agent's SSH set-up as ssh's: the test key in HOME/.ssh, the server's
 * known_hosts there when `knownHosts`, no ssh-agent.
 */
async function serveWithSshHome(server: SshServer, { knownHosts }: { knownHosts: boolean }): Promise<ServeProcess> {
  const home = join(scratch, 'home');
  await mkdir(join(home, '.ssh'), { recursive: true });
  await copyFile(server.userKey, join(home, '.ssh', 'id_ed25519'));
  await chmod(join(home, '.ssh', 'id_ed25519'), 0o600);
  if (knownHosts) await copyFile(server.knownHosts, join(home, '.ssh', 'known_hosts'));
  return startServe({ HOME: home, SSH_AUTH_SOCK: '' });
}

/** The set-up's first step: a new repository in scratch/repo with PASSWORD. */
async function newRepositoryStep(page: Page): Promise<void> {
  await page.getByRole('textbox', { name: 'Backup folder' }).fill(join(scratch, 'repo'));
  await page.getByLabel('Repository password').fill(PASSWORD);
  await page.getByLabel('Repeat the password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Continue' }).click();
}

test('a folder on another machine chosen in the remote folder browser, and backed up over SFTP by the agent', async ({ page }) => {
  test.skip(sshdMissing() !== undefined, sshdMissing());
  const server = await startSshServer(context);
  // The other machine's folder (the same machine, reached over SFTP).
  const sites = join(scratch, 'srv');
  await mkdir(join(sites, 'www', 'css'), { recursive: true });
  await mkdir(join(sites, 'logs'));
  await writeFile(join(sites, 'www', 'index.html'), '<h1>web1</h1>');
  await writeFile(join(sites, 'www', 'css', 'site.css'), 'body {}');
  serve = await serveWithSshHome(server, { knownHosts: true });
  const machine = `sftp://${server.username}@127.0.0.1:${server.port}`;

  await page.goto(serve.url);
  await newRepositoryStep(page);
  await page.getByLabel('Name of this backup plan').fill('web1');

  await page.getByRole('textbox', { name: 'Folder to back up' }).fill(`${machine}${sites}`);
  await page.getByRole('button', { name: 'Browse…' }).click();
  const chooser = page.getByRole('dialog', { name: 'Folder to back up' });
  await expect(chooser.getByRole('button', { name: 'logs', exact: true })).toBeVisible();
  await chooser.getByRole('button', { name: 'www', exact: true }).click();
  await expect(chooser.locator('.path-preview')).toHaveText(`${machine}${join(sites, 'www')}`);
  await expect(chooser.getByText('index.html')).toBeVisible();
  await page.screenshot({ path: join(SCREENS, '30-remote-folder-browser.png'), fullPage: true });
  await chooser.getByRole('button', { name: 'Choose this folder' }).click();
  await page.getByRole('button', { name: 'Add folder' }).click();
  await expect(page.getByRole('list', { name: 'Folders to back up' })).toContainText(`${machine}${join(sites, 'www')}`);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('Schedule').selectOption('manual');
  await page.getByRole('button', { name: 'Create repository and plan' }).click();
  await expect(page.getByRole('article', { name: 'Plan web1' })).toBeVisible();

  await expect
    .poll(async () => ((await callAgent(serve as ServeProcess, 'jobs.list', {})) as { kind: string; result: string }[]).find((job) => job.kind === 'backup')?.result, { timeout: 120_000 })
    .toBe('succeeded');
  const snapshots = (await callAgent(serve, 'snapshots.list', { repository: join(scratch, 'repo') })) as { host: string; paths: string[] }[];
  expect(snapshots.map((s) => [s.host, s.paths])).toEqual([['127.0.0.1', [join(sites, 'www')]]]);

});

test('the remote folder browser says why a machine cannot be listed: a host not in known_hosts', async ({ page }) => {
  test.skip(sshdMissing() !== undefined, sshdMissing());
  const server = await startSshServer(context);
  serve = await serveWithSshHome(server, { knownHosts: false });
  await page.goto(serve.url);
  await newRepositoryStep(page);
  await page.getByRole('textbox', { name: 'Folder to back up' }).fill(`sftp://${server.username}@127.0.0.1:${server.port}`);
  await page.getByRole('button', { name: 'Browse…' }).click();
  const chooser = page.getByRole('dialog', { name: 'Folder to back up' });
  await expect(chooser.getByText(/The host 127\.0\.0\.1 port \d+ is not in .*known_hosts.*Its key is ssh-ed25519 SHA256:/)).toBeVisible();
  await page.screenshot({ path: join(SCREENS, '31-remote-folder-unknown-host.png'), fullPage: true });
});
