import { test as base, expect, type Page } from '@playwright/test';
import { startServe, type ServeProcess } from './serveProcess.js';

export { expect };

/** The repository password the UI specs use. */
export const PASSWORD = 'correct horse battery staple';

/** Playwright's `test` with a `serve` fixture: a `hindsight serve` of its own for each test, stopped after it. */
export const test = base.extend<{ serve: ServeProcess }>({
  // Playwright reads a fixture's dependencies from its first parameter, which must be a pattern.
  serve: async ({}, use) => {
    const serve = await startServe();
    try {
      await use(serve);
    } finally {
      await serve.stop();
    }
  },
});

/**
 * The first run's plan step, after the repository step: the plan's name, one folder typed in, a manual
 * schedule; it ends when the plan is shown.
 */
export async function typedPlanStep(page: Page, name: string, folder: string): Promise<void> {
  await page.getByLabel('Name of this backup plan').fill(name);
  await page.getByRole('textbox', { name: 'Folder to back up' }).fill(folder);
  await page.getByRole('button', { name: 'Add folder' }).click();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('Schedule').selectOption('manual');
  await page.getByRole('button', { name: 'Create repository and plan' }).click();
  await expect(page.getByRole('article', { name: `Plan ${name}` })).toBeVisible();
}
