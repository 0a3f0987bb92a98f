import { app, type Session } from 'electron';
import { APP_HOST, APP_SCHEME } from './ipcValidation.js';

/**
 * Nothing in the app needs the camera, notifications from the page, a new
 * window, a webview or a navigation away from our own pages: deny them all,
 * for every web contents, so a compromised renderer gains no capability.
 */
export function lockDown(session: Session): void {
  session.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.setPermissionCheckHandler(() => false);
  app.on('web-contents-created', (_event, contents) => {
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
    contents.on('will-attach-webview', (event) => event.preventDefault());
    contents.on('will-navigate', (event) => {
      if (!isOwnPage(event.url)) event.preventDefault();
    });
    contents.on('will-redirect', (event) => {
      if (!isOwnPage(event.url)) event.preventDefault();
    });
  });
}

function isOwnPage(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.protocol === `${APP_SCHEME}:` && parsed.host === APP_HOST;
  } catch {
    return false;
  }
}
