import { join, normalize, relative, sep } from 'node:path';
import { APP_HOST, APP_SCHEME } from './ipcValidation.js';

/**
 * The renderer's Content-Security-Policy: only our own scripts, styles and
 * images; no inline script, no eval, no network (the renderer reaches the
 * agent through the preload only), no plugins, no framing, no forms.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  // blob: for the snapshot browser's image previews, data: for the icon masks in the stylesheet.
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'none'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The file under `root` (the built renderer) that an `app://hindsight/…` URL
 * names, or undefined for another host or a path that would leave `root`.
 * The folder itself serves index.html, so the app opens at `app://hindsight/`.
 */
export function rendererFile(root: string, url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== `${APP_SCHEME}:` || parsed.host !== APP_HOST) return undefined;
  let path: string;
  try {
    path = decodeURIComponent(parsed.pathname);
  } catch {
    return undefined;
  }
  if (path.includes('\0')) return undefined;
  const file = normalize(join(root, path === '/' ? 'index.html' : path));
  const inside = relative(root, file);
  if (inside === '' || inside.startsWith(`..${sep}`) || inside === '..') return undefined;
  return file;
}
