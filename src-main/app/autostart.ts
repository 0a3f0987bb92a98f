import { mkdir, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** Started at login, the app opens to the tray only. */
export const HIDDEN_ARG = '--hidden';

/**
 * Start at login on Linux, where Electron's setLoginItemSettings does nothing:
 * an XDG autostart entry (~/.config/autostart/hindsight.desktop) running
 * `command` (the AppImage itself when run from one).
 */
export async function setLinuxAutostart(enabled: boolean, command: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const file = join(env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'autostart', 'hindsight.desktop');
  if (!enabled) {
    await rm(file, { force: true });
    return;
  }
  await mkdir(dirname(file), { recursive: true });
  // The Exec key's quoting rules: arguments in double quotes, with ", `, $ and \ escaped.
  const exec = [...command.map((arg) => `"${arg.replace(/(["`$\\])/g, '\\$1')}"`), HIDDEN_ARG].join(' ');
  await writeFile(file, ['[Desktop Entry]', 'Type=Application', 'Name=Hindsight', `Exec=${exec}`, 'X-GNOME-Autostart-enabled=true', ''].join('\n'));
}
