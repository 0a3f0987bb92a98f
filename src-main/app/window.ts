import { pathToFileURL } from 'node:url';
import { BrowserWindow, net, protocol, type Session } from 'electron';
import { APP_SCHEME, APP_URL } from './ipcValidation.js';
import { CONTENT_SECURITY_POLICY, rendererFile } from './rendererProtocol.js';

/** Before the app is ready: `app:` behaves like https (a real origin, `'self'` in the CSP, fetch of our own files). */
export function registerAppScheme(): void {
  protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);
}

/** Serves build/renderer under app://hindsight/, every response with the CSP. */
export function serveRenderer(session: Session, root: string): void {
  const secured = (init: ConstructorParameters<typeof Headers>[0] = {}) => {
    const headers = new Headers(init);
    headers.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    headers.set('X-Content-Type-Options', 'nosniff');
    return headers;
  };
  // A missing file is a 404 page of our own origin, not a network error: the window stays on app://hindsight.
  const notFound = (what: string) => new Response(`${what} is not part of Hindsight's interface (is build/renderer built?).`, { status: 404, headers: secured({ 'Content-Type': 'text/plain; charset=utf-8' }) });
  session.protocol.handle(APP_SCHEME, async (request) => {
    const file = rendererFile(root, request.url);
    if (!file) return notFound(new URL(request.url).pathname);
    try {
      const response = await net.fetch(pathToFileURL(file).toString());
      return new Response(response.body, { status: response.status, headers: secured(response.headers) });
    } catch {
      return notFound(new URL(request.url).pathname);
    }
  });
}

export function createWindow(options: { preload: string; icon: string }): BrowserWindow {
  const window = new BrowserWindow({
    width: 1120,
    height: 760,
    minWidth: 720,
    minHeight: 480,
    title: 'Hindsight',
    icon: options.icon,
    show: false,
    webPreferences: {
      preload: options.preload,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      spellcheck: false,
    },
  });
  window.once('ready-to-show', () => window.show());
  void window.loadURL(APP_URL);
  return window;
}
