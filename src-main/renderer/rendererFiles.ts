import { join, normalize, relative, sep } from 'node:path';

/**
 * The Content-Security-Policy of the built renderer, wherever it is served
 * (the desktop window's app:// scheme, `hindsight serve`): only our own
 * scripts, styles and images; no inline script, no eval, no plugins, no
 * framing, no forms. `connect` is the one directive the two differ in: the
 * window reaches the agent through the preload only, the browser through
 * the dashboard's WebSocket.
 */
export function rendererContentSecurityPolicy(connect: string): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    // blob: for the snapshot browser's image previews, data: for the icon masks in the stylesheet.
    "img-src 'self' data: blob:",
    "font-src 'self'",
    `connect-src ${connect}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/**
 * The file under `root` (the built renderer) that a URL's path names (still
 * percent-encoded, as in the URL), or undefined for a path that is malformed,
 * holds a NUL, or would leave `root`. "/" is index.html.
 */
export function rendererFilePath(root: string, encodedPath: string): string | undefined {
  let path: string;
  try {
    path = decodeURIComponent(encodedPath);
  } catch {
    return undefined;
  }
  if (path.includes('\0')) return undefined;
  const file = normalize(join(root, path === '/' ? 'index.html' : path));
  const inside = relative(root, file);
  if (inside === '' || inside.startsWith(`..${sep}`) || inside === '..') return undefined;
  return file;
}
