import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { rendererFilePath } from '../renderer/rendererFiles.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
};

/**
 * Sends a file of the built renderer. `urlPath` comes from the request (the
 * URL's path, still encoded); a path that would leave the renderer's folder,
 * or names no file, gets index.html, so a reload on any screen of the
 * single-page app works.
 */
export async function sendStatic(rendererDir: string, urlPath: string, response: ServerResponse, headers: Record<string, string>): Promise<void> {
  const root = resolve(rendererDir);
  let file = rendererFilePath(root, urlPath) ?? join(root, 'index.html');
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) file = join(root, 'index.html');
  const type = TYPES[extname(file)] ?? 'application/octet-stream';
  // Vite names assets by content hash: they never change under the same name; index.html always may.
  const cache = file.includes(`${sep}assets${sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache';
  const stream = createReadStream(file);
  stream.once('error', () => {
    if (!response.headersSent) {
      response.writeHead(404, { ...headers, 'content-type': 'text/plain; charset=utf-8' });
      response.end('The Hindsight UI is not built. Run "npm run build" in the Hindsight folder, then reload.\n');
    } else response.destroy();
  });
  stream.once('open', () => {
    response.writeHead(200, { ...headers, 'content-type': type, 'cache-control': cache });
    stream.pipe(response);
  });
}
