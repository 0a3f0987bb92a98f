import { execFile } from 'node:child_process';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Page } from '@playwright/test';
import { PASSWORD, expect, test } from '../helpers/serveFixture.js';
import { BIN, SCREENS, callAgent, type ServeProcess } from '../helpers/serveProcess.js';

const run = promisify(execFile);

/** A repository with one snapshot of `source`, made with the CLI and connected to serve's agent. */
async function snapshotOf(serve: ServeProcess, source: string): Promise<string> {
  const repo = join(serve.dir, 'repo');
  const env = { ...serve.env, HINDSIGHT_PASSWORD: PASSWORD };
  await run(process.execPath, [BIN, 'init', '--repo', repo], { env });
  await run(process.execPath, [BIN, 'backup', '--repo', repo, source], { env, maxBuffer: 64 * 1024 * 1024 });
  await callAgent(serve, 'repositories.connect', { location: repo, password: PASSWORD, remember: false });
  return repo;
}

function browse(page: Page, serve: ServeProcess, repo: string, path: string) {
  return page.goto(`${serve.origin}/#/browse?${new URLSearchParams({ repo, path }).toString()}`);
}

test('a folder of 50,000 files: only the rows in view are drawn, every page scrolls into its place, and it sorts and filters', async ({ page, serve }) => {
  // How long it takes to open is measured by `npm run bench:browse` (click to rows drawn, in Chromium), not here.
  const source = join(serve.dir, 'Downloads');
  const files = 50_000;
  await mkdir(source, { recursive: true });
  for (let i = 0; i < files; i += 1000) {
    await Promise.all(Array.from({ length: Math.min(1000, files - i) }, (_, j) => writeFile(join(source, `mail-${String(i + j).padStart(5, '0')}.eml`), 'x'.repeat((i + j) % 97))));
  }
  const mail = (i: number) => `mail-${String(i).padStart(5, '0')}.eml`;
  // One file clearly the newest, for the sort by time.
  await utimes(join(source, mail(1234)), new Date('2030-01-01'), new Date('2030-01-01'));
  const repo = await snapshotOf(serve, source);
  await page.goto(serve.url);
  await browse(page, serve, repo, serve.dir);
  const table = page.getByRole('table', { name: 'Files' });
  await table.getByRole('button', { name: 'Downloads' }).click();
  await expect(table.locator(`tr[data-name="${mail(0)}"]`)).toBeVisible();
  const count = page.locator('.listing-actions [role=status]');
  await expect(count).toContainText('50,000 items');
  expect(await table.locator('tbody tr[data-name]').count(), 'only the rows in view and a margin are in the page').toBeLessThan(120);
  await page.screenshot({ path: join(SCREENS, '15-browser-50k-folder.png') });

  // Every fifth page of 500 (pages are fetched as they come into view) and the end scrolled to, and the
  // rows in their places: the rows drawn are consecutive entries, and the one at the top of the view is
  // the entry its position says.
  const rowHeight = 36;
  for (let index = 250; index < files + 2500; index += 2500) {
    const wanted = Math.min(index, files - 1);
    await page.evaluate((top) => (document.querySelector('.file-scroll') as HTMLElement).scrollTop = top, wanted * rowHeight);
    await page.waitForFunction((name) => document.querySelector(`tr[data-name="${name}"]`) !== null && document.querySelector('tr.placeholder') === null, mail(wanted));
    const drawn = await table.locator('tbody tr[data-name]').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-name')!));
    const first = Number(/\d+/.exec(drawn[0]!)![0]);
    expect(drawn, `rows around entry ${wanted}`).toEqual(drawn.map((_, k) => mail(first + k)));
    expect(drawn.length).toBeLessThan(120);
    const top = await page.evaluate(() => (document.querySelector('.file-scroll') as HTMLElement).scrollTop);
    expect(drawn).toContain(mail(Math.min(files - 1, Math.floor(top / rowHeight))));
  }
  await expect(table.locator(`tr[data-name="${mail(files - 1)}"]`)).toBeVisible();

  // Biggest first, from the Size header, then smallest; newest first from Modified; then a name filter.
  await table.getByRole('button', { name: 'Size' }).click();
  await expect(table.locator('tbody tr[data-name]').first()).toHaveAttribute('data-name', mail(96));
  await table.getByRole('button', { name: /^Size/ }).click();
  await expect(table.locator('tbody tr[data-name]').first()).toHaveAttribute('data-name', mail(0));
  await expect(table.locator('tbody tr[data-name]').nth(1)).toHaveAttribute('data-name', mail(97));
  await table.getByRole('button', { name: 'Modified' }).click();
  await expect(table.locator('tbody tr[data-name]').first()).toHaveAttribute('data-name', mail(1234));
  await page.getByRole('searchbox', { name: 'Filter by name' }).fill('mail-4242');
  await expect(count).toContainText('10 items match'); // mail-42420 … mail-42429
  await expect(table.locator('tbody tr[data-name]')).toHaveCount(10);
  await page.screenshot({ path: join(SCREENS, '16-browser-filter.png') });
});

test('the folder tree beside the list expands in place and opens a folder', async ({ page, serve }) => {
  const source = join(serve.dir, 'Photos');
  await mkdir(join(source, '2025', 'summer'), { recursive: true });
  await writeFile(join(source, '2025', 'summer', 'beach.jpg'), 'sand');
  const repo = await snapshotOf(serve, source);
  await page.goto(serve.url);
  await browse(page, serve, repo, source);
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

test('drag-to-restore in the desktop app: a row shows it is being prepared, refuses a drag with a notice until ready, then hands the file to the OS', async ({ page, serve }) => {
  const source = join(serve.dir, 'Documents');
  await mkdir(source, { recursive: true });
  await writeFile(join(source, 'letter.txt'), 'Dear Ann');
  await writeFile(join(source, 'report.pdf'), 'pdf');
  const repo = await snapshotOf(serve, source);
  await page.goto(serve.url);
  await page.addInitScript(FAKE_DESKTOP);
  await browse(page, serve, repo, source);
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
