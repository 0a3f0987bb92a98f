import { HIDDEN_ARG } from './autostart.js';

/** How this copy of the app was started: what a login item must run to start it again. */
export interface AppLaunch {
  readonly platform: NodeJS.Platform;
  /** process.execPath: the app's executable, or Electron's in development. */
  readonly execPath: string;
  /** app.getAppPath(): the folder (or app.asar) with package.json. */
  readonly appPath: string;
  /** process.defaultApp: started as `electron <folder>` (development), so the folder is part of the command. */
  readonly defaultApp: boolean;
  /** $APPIMAGE: the AppImage file, which stays where it is while execPath is a temporary mount. */
  readonly appImage?: string;
}

export type LoginItem =
  /** Linux: an XDG autostart entry (setLoginItemSettings does nothing there). */
  | { readonly kind: 'xdg-autostart'; readonly enabled: boolean; readonly command: readonly string[] }
  /** macOS and Windows: app.setLoginItemSettings with these settings. */
  | { readonly kind: 'login-item'; readonly settings: { readonly openAtLogin: boolean; readonly path?: string; readonly args?: string[] } };

/**
 * What "Start at login" does on each platform. Windows takes a command (path and arguments, so the app
 * can be told it was started at login); macOS takes neither (`args` is Windows-only: there the app asks
 * getLoginItemSettings().wasOpenedAtLogin instead, see openedAtLogin).
 */
export function loginItem(launch: AppLaunch, enabled: boolean): LoginItem {
  switch (launch.platform) {
    case 'linux': {
      const command = launch.appImage ? [launch.appImage] : launch.defaultApp ? [launch.execPath, launch.appPath] : [launch.execPath];
      return { kind: 'xdg-autostart', enabled, command };
    }
    case 'win32':
      // The registry value is one command line: paths are quoted by hand, as Electron's docs ask.
      return { kind: 'login-item', settings: { openAtLogin: enabled, path: launch.execPath, args: [...(launch.defaultApp ? [`"${launch.appPath}"`] : []), HIDDEN_ARG] } };
    default:
      return { kind: 'login-item', settings: { openAtLogin: enabled } };
  }
}

/**
 * Whether this start was the login item's, so the app opens to the tray without a window. Linux and
 * Windows pass HIDDEN_ARG on the command line; macOS starts the app without arguments and says so in
 * getLoginItemSettings().wasOpenedAtLogin (which is false elsewhere).
 */
export function openedAtLogin(platform: NodeJS.Platform, argv: readonly string[], wasOpenedAtLogin: boolean): boolean {
  return platform === 'darwin' ? wasOpenedAtLogin : argv.includes(HIDDEN_ARG);
}
