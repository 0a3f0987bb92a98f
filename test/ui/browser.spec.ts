import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, test, type Page } from '@playwright/test';
import { BIN, SCREENS, callAgent, startServe, type ServeProcess } from '../helpers/serveProcess.js';

const PASSWORD = 'correct horse battery staple';
const run = promisify(execFile);

let serve: ServeProcess;
test.beforeEach(async () => {
  serve = await startServe();
});
test.afterEach(async () => {
  await serve?.stop();
});

/** A repository with one snapshot of `source`, made with the CLI and connected to serve's agent. */
async function snapshotOf(source: string): Promise<string> {
  const repo = join(serve.dir, 'repo');
  const env = { ...serve.env, HINDSIGHT_PASSWORD: PASSWORD };
  await run(process.execPath, [BIN, 'init', '--repo', repo], { env });
  await run(process.execPath, [BIN, 'backup', '--repo', repo, source], { env, maxBuffer: 64 * 1024 * 1024 });
  await callAgent(serve, 'repositories.connect', { location: repo, password: PASSWORD, remember: false });
  return repo;
}

function browse(page: Page, repo: string, path: string) {
  return page.goto(`${serve.origin}/#/browse?${new URLSearchParams({ repo, path }).toString()}`);
}

test('a folder of 50,000 files opens (its time reported), draws only the rows in view, scrolls, sorts and filters', async ({ page }) => {
  const source = join(serve.dir, 'Downloads');
  const files = 50_000;
  await mkdir(source, { recursive: true });
  for (let i = 0; i < files; i += 1000) {
    await Promise.all(Array.from({ length: Math.min(1000, files - i) }, (_, j) => writeFile(join(source, `mail-${String(i + j).padStart(5, '0')}.eml`), 'x'.repeat((i + j) % 97))));
  }
  const repo = await snapshotOf(source);
  // The API's messages as the page sends and receives them, to split the time to open between the
  // agent (with the transport: answers are small pages) and the page's own work.
  const messages: { at: number; sent: boolean; text: string }[] = [];
  page.on('websocket', (ws) => {
    ws.on('framesent', (frame) => messages.push({ at: Date.now(), sent: true, text: String(frame.payload) }));
    ws.on('framereceived', (frame) => messages.push({ at: Date.now(), sent: false, text: String(frame.payload) }));
  });
  await page.goto(serve.url);
  // Open the parent first: the timed step is opening the big folder from the list, as a person does.
  await browse(page, repo, serve.dir);
  const table = page.getByRole('table', { name: 'Files' });
  await expect(table.getByRole('button', { name: 'Downloads' })).toBeVisible();
  // When the page itself saw the click: Playwright's own steps before it (finding the button, moving the
  // mouse) are not the page's time.
  await page.evaluate(() => document.addEventListener('click', () => ((globalThis as unknown as { clickedAt: number }).clickedAt = Date.now()), { capture: true, once: true }));
  const started = Date.now();
  await table.getByRole('button', { name: 'Downloads' }).click();
  // Looked for at every frame, and timed in the page: expect() polls at growing intervals (up to a second),
  // too coarse to time by.
  const found = await page.waitForFunction(() => document.querySelector('tr[data-name="mail-00000.eml"]') !== null && Date.now(), null, { polling: 'raf', timeout: 120_000 });
  const shown = (await found.jsonValue()) as number;
  await expect(table.locator('tr[data-name="mail-00000.eml"]')).toBeVisible();
  const count = page.locator('.listing-actions [role=status]');
  await expect(count).toContainText('50,000 items');
  const drawn = await table.locator('tbody tr[data-name]').count();
  const load = loadavg()[0]! / availableParallelism();
  const clicked = await page.evaluate(() => (globalThis as unknown as { clickedAt: number }).clickedAt);
  const asked = messages.find((f) => f.sent && f.at >= started && /"snapshots\.browsePage"/.test(f.text) && f.text.includes(source) && !f.text.includes('"foldersOnly":true'));
  const askedId = asked ? (JSON.parse(asked.text) as { id: number }).id : undefined;
  const answered = messages.find((f) => !f.sent && asked && f.at >= asked.at && (JSON.parse(f.text) as { id?: number }).id === askedId);
  const openMs = shown - clicked;
  const measured =
    `50,000-file folder opened in ${openMs} ms from the click (the page asked for the first page ${asked ? asked.at - clicked : NaN} ms after the click, ` +
    `the agent answered ${asked && answered ? answered.at - asked.at : NaN} ms later, the rows were drawn ${answered ? shown - answered.at : NaN} ms after that; ` +
    `Playwright took ${clicked - started} ms to click) with ${drawn} rows drawn (load ${load.toFixed(1)} per core)`;
  test.info().annotations.push({ type: 'measured', description: measured });
  console.log(measured);
  expect(drawn, 'only the rows in view and a margin are in the page').toBeLessThan(120);
  // Times are reported and held only loosely: the target (1 s) lives in \`npm run bench:browse\`, and a test
  // that fails on a busy machine says nothing about the browser.
  expect(openMs, 'the folder opens within 10 s even on a busy machine').toBeLessThan(10_000);
  await page.screenshot({ path: join(SCREENS, '15-browser-50k-folder.png') });

  // Scroll from top to bottom in 60 steps, one per frame, and time the frames.
  const frames = await page.evaluate(async () => {
    const scroller = document.querySelector('.file-scroll') as HTMLElement;
    const gaps: number[] = [];
    let last = performance.now();
    for (let step = 1; step <= 60; step++) {
      scroller.scrollTop = (scroller.scrollHeight * step) / 60;
      await new Promise((resolve) => requestAnimationFrame(resolve));
      const now = performance.now();
      gaps.push(now - last);
      last = now;
    }
    return gaps.sort((a, b) => a - b);
  });
  const p95 = frames[Math.floor(frames.length * 0.95)]!;
  const scrolled = `scrolling 50,000 rows: median frame ${frames[30]!.toFixed(1)} ms, 95th percentile ${p95.toFixed(1)} ms`;
  test.info().annotations.push({ type: 'measured', description: scrolled });
  console.log(scrolled);
  await expect(table.locator('tr[data-name="mail-49999.eml"]')).toBeVisible();
  expect(await table.locator('tbody tr[data-name]').count()).toBeLessThan(120);

  // Biggest first, from the Size header; then a name filter.
  await table.getByRole('button', { name: 'Size' }).click();
  await expect(table.locator('tbody tr[data-name]').first()).toHaveAttribute('data-name', 'mail-00096.eml');
  await page.getByRole('searchbox', { name: 'Filter by name' }).fill('mail-4242');
  await expect(count).toContainText('10 items match'); // mail-42420 … mail-42429
  await expect(table.locator('tbody tr[data-name]')).toHaveCount(10);
  await page.screenshot({ path: join(SCREENS, '16-browser-filter.png') });
});

test('the folder tree beside the list expands in place and opens a folder', async ({ page }) => {
  const source = join(serve.dir, 'Photos');
  await mkdir(join(source, '2025', 'summer'), { recursive: true });
  await writeFile(join(source, '2025', 'summer', 'beach.jpg'), 'sand');
  const repo = await snapshotOf(source);
  await page.goto(serve.url);
  await browse(page, repo, source);
  const tree = page.getByRole('tree', { name: 'Folder tree' });
  const photos = tree.getByRole('treeitem', { name: 'Photos' });
  await expect(photos).toHaveAttribute('aria-selected', 'true');
  await photos.getByRole('button', { name: 'Expand 2025' }).click();
  await tree.getByRole('treeitem', { name: 'summer' }).getByRole('button', { name: 'summer', exact: true }).click();
  await expect(page.getByRole('table', { name: 'Files' }).getByRole('button', { name: 'beach.jpg' })).toBeVisible();
  await expect(tree.getByRole('treeitem', { name: 'summer' })).toHaveAttribute('aria-selected', 'true');
});

/**
 * The desktop app's bridge, stood in by a page script: calls go to serve's WebSocket as the preload's go
 * to the main process, and prepareDrag waits until the test settles it, as a slow restore would.
 */
const FAKE_DESKTOP = `(() => {
  const pending = new Map();
  const listeners = new Set();
  const outbox = [];
  let next = 1;
  const socket = new WebSocket('ws://' + location.host + '/api');
  socket.onopen = () => { for (const text of outbox.splice(0)) socket.send(text); };
  socket.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.type === 'event') { for (const l of listeners) l(msg.event); return; }
    const waiter = pending.get(msg.id);
    if (!waiter) return;
    pending.delete(msg.id);
    if (msg.ok) waiter.resolve(msg.result); else waiter.reject(Object.assign(new Error(msg.error.message), { code: msg.error.code }));
  };
  const drags = { prepared: [], started: [], settle: {} };
  window.__drags = drags;
  window.hindsight = {
    call(method, params) {
      return new Promise((resolve, reject) => {
        const id = next++;
        pending.set(id, { resolve, reject });
        const text = JSON.stringify({ type: 'request', id, method, params });
        if (socket.readyState === 1) socket.send(text); else outbox.push(text);
      });
    },
    onEvent(listener) { listeners.add(listener); return () => listeners.delete(listener); },
    desktop: {
      pickFolder: async () => undefined,
      prepareDrag(item) {
        drags.prepared.push(item.path);
        return new Promise((resolve, reject) => { drags.settle[item.path] = (ok) => (ok ? resolve() : reject(new Error('disk full'))); });
      },
      startDrag(item) { drags.started.push(item.path); },
    },
  };
})();`;

interface Drags {
  prepared: string[];
  started: string[];
  settle: Record<string, (ok: boolean) => void>;
}

test('drag-to-restore in the desktop app: a row shows it is being prepared, refuses a drag with a notice until ready, then hands the file to the OS', async ({ page }) => {
  const source = join(serve.dir, 'Documents');
  await mkdir(source, { recursive: true });
  await writeFile(join(source, 'letter.txt'), 'Dear Ann');
  await writeFile(join(source, 'report.pdf'), 'pdf');
  const repo = await snapshotOf(source);
  await page.goto(serve.url);
  await page.addInitScript(FAKE_DESKTOP);
  await browse(page, repo, source);
  await page.reload();
  const drags = () => page.evaluate(() => ({ ...(globalThis as unknown as { __drags: Drags }).__drags, settle: {} }));
  const letter = page.locator('tr[data-name="letter.txt"]');
  await expect(letter).toBeVisible();

  await letter.dispatchEvent('pointerdown');
  await expect(letter).toHaveAttribute('data-drag', 'preparing');
  await expect(letter.getByText('Preparing…')).toBeVisible();
  // The first drag, before the restore is done: refused, and said so.
  await letter.dispatchEvent('dragstart');
  await expect(page.getByRole('alert')).toContainText('letter.txt is still being restored for dragging');
  expect((await drags()).started).toEqual([]);
  expect((await drags()).prepared).toEqual([join(source, 'letter.txt')]);

  await page.evaluate((path) => (globalThis as unknown as { __drags: Drags }).__drags.settle[path]!(true), join(source, 'letter.txt'));
  await expect(letter).toHaveAttribute('data-drag', 'ready');
  await expect(letter.getByText('Ready to drag')).toBeVisible();
  await letter.dispatchEvent('dragstart');
  expect((await drags()).started).toEqual([join(source, 'letter.txt')]);
  await page.screenshot({ path: join(SCREENS, '17-browser-drag-ready.png') });

  // A restore that fails says why, on the row and when dragged.
  const report = page.locator('tr[data-name="report.pdf"]');
  await report.dispatchEvent('pointerdown');
  await page.evaluate((path) => (globalThis as unknown as { __drags: Drags }).__drags.settle[path]!(false), join(source, 'report.pdf'));
  await expect(report).toHaveAttribute('data-drag', 'failed');
  await report.dispatchEvent('dragstart');
  await expect(page.getByRole('alert')).toContainText('Could not restore report.pdf for dragging: disk full');
  expect((await drags()).started).toEqual([join(source, 'letter.txt')]);
});
