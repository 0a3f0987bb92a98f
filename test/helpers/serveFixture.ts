import { test as base } from '@playwright/test';
import { startServe, type ServeProcess } from './serveProcess.js';

export { expect } from '@playwright/test';

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
