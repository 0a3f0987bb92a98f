import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PASSWORD, expect, test } from '../helpers/serveFixture.js';
import { BIN, SCREENS, callAgent } from '../helpers/serveProcess.js';

const run = promisify(execFile);

test('"password needed" asks for the password in place, says when it is wrong, and unlocks the repository', async ({ page, serve }) => {
  const repo = join(serve.dir, 'old-disk');
  await run(process.execPath, [BIN, 'init', '--repo', repo], { env: { ...serve.env, HINDSIGHT_PASSWORD: PASSWORD } });
  await page.goto(serve.url);
  await expect(page.getByRole('heading', { name: 'Welcome to Hindsight' })).toBeVisible();
  // Something asks the agent about a repository whose password it does not know (a plan, the CLI, a page).
  await expect(callAgent(serve, 'snapshots.list', { repository: repo })).rejects.toThrow(/password .* is not known here/);
  const notice = page.getByRole('form', { name: 'Password needed' });
  await expect(notice).toContainText(repo);
  await expect(notice.getByLabel('Keep it in the system keychain')).toBeChecked();
  await notice.getByLabel('Keep it in the system keychain').uncheck();
  await notice.getByLabel('Repository password').fill('not the password');
  await notice.getByRole('button', { name: 'Unlock' }).click();
  await expect(notice.getByRole('alert')).toContainText(/password/i);
  await page.screenshot({ path: join(SCREENS, '18-password-needed.png') });
  await notice.getByLabel('Repository password').fill(PASSWORD);
  await notice.getByRole('button', { name: 'Unlock' }).click();
  await expect(notice).toBeHidden();
  await expect(page.getByText(`Unlocked ${repo}.`)).toBeVisible();
  expect(await callAgent(serve, 'snapshots.list', { repository: repo })).toEqual([]);
});
