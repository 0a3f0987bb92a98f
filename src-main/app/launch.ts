import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { findElectronBinary } from './electronBinary.js';

/** `npm start`: launches the built app in Electron, or says in one line why it cannot. */
const root = fileURLToPath(new URL('../../../', import.meta.url));
const binary = findElectronBinary(root);
if (!binary.found) {
  console.error(`hindsight: cannot start the desktop app: ${binary.reason}. Use "npx hindsight serve" for the dashboard in a browser.`);
  process.exit(1);
}
// The project folder, not main.js: Electron then reads package.json (its main, productName and desktopName),
// so the app is called Hindsight rather than Electron, and a login item starts this app, not a bare Electron.
const child = spawn(binary.path, [root, ...process.argv.slice(2)], { stdio: 'inherit' });
child.once('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
