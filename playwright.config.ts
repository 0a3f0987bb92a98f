import { defineConfig } from '@playwright/test';

/**
 * UI tests: Debian's Chromium (Playwright's own browsers cannot be downloaded
 * here) against a real `hindsight serve` started by each test. `npm test`
 * runs them after the Node tests and counts them in its summary line.
 */
export default defineConfig({
  testDir: 'test/ui',
  outputDir: 'test-results/playwright',
  timeout: 240_000,
  expect: { timeout: 60_000 },
  workers: 1,
  reporter: [['list'], ['json', { outputFile: 'build/playwright-results.json' }]],
  use: {
    browserName: 'chromium',
    launchOptions: { executablePath: process.env.HINDSIGHT_CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] },
    viewport: { width: 1360, height: 860 },
    trace: 'retain-on-failure',
  },
});
