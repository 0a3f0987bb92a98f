import { spawn } from 'node:child_process';

export interface DavAddress {
  /** http://127.0.0.1:PORT/FOLDER/ */
  readonly url: string;
  readonly username: string;
  readonly password: string;
}

/** Whether the system's file manager was started on the address, and if not, why (for a person). */
export interface OpenOutcome {
  readonly opened: boolean;
  readonly message?: string;
}

/** Opens a WebDAV folder in the file manager of the machine the agent runs on. */
export type FolderOpener = (address: DavAddress) => Promise<OpenOutcome>;

/** How long a helper (gio, osascript) may take before it is given up on. */
const HELPER_TIMEOUT_MS = 20_000;

/**
 * The system's own WebDAV client, without ever putting the password on a command line: on Linux GIO's
 * gvfs (GNOME Files, and what xdg-open hands dav:// to), `gio mount` taking the password on its standard
 * input, then `gio open`; on macOS Finder's `mount volume`, in a script osascript reads from its standard
 * input; on Windows Explorer's WebDAV redirector at \\HOST@PORT\DavWWWRoot, which asks for the user and
 * password itself. When none of these works the caller shows the address and credentials instead.
 */
export const openInFileManager: FolderOpener = async (address) => {
  try {
    if (process.platform === 'linux') return await openWithGio(address);
    if (process.platform === 'darwin') return await openWithFinder(address);
    if (process.platform === 'win32') return await openWithExplorer(address);
    return { opened: false, message: `Opening a file manager is not supported on ${process.platform}.` };
  } catch (err) {
    return { opened: false, message: (err as Error).message };
  }
};

async function openWithGio({ url, username, password }: DavAddress): Promise<OpenOutcome> {
  // dav:// by hand: WHATWG URLs refuse to turn an http URL into another scheme.
  const { host, pathname } = new URL(url);
  const root = `dav://${encodeURIComponent(username)}@${host}/`;
  const folder = `${root}${pathname.slice(1)}`;
  // gio asks for the password (and nothing else: the user is in the address); "already mounted" is fine too.
  const mounted = await run('gio', ['mount', root], `${password}\n`);
  if (mounted.status !== 0 && !/already mounted/i.test(mounted.output)) return { opened: false, message: `gio could not mount it: ${lastLine(mounted.output)}` };
  const opened = await run('gio', ['open', folder]);
  return opened.status === 0 ? { opened: true } : { opened: false, message: `gio could not open it: ${lastLine(opened.output)}` };
}

async function openWithFinder({ url, username, password }: DavAddress): Promise<OpenOutcome> {
  const quoted = (text: string) => `"${text.replace(/[\\"]/g, (ch) => `\\${ch}`)}"`;
  const root = new URL('/', url).href;
  const script = `set mounted to mount volume ${quoted(root)} as user name ${quoted(username)} with password ${quoted(password)}\ntell application "Finder"\nactivate\nopen mounted\nend tell\n`;
  const result = await run('osascript', [], script);
  return result.status === 0 ? { opened: true } : { opened: false, message: `Finder could not connect: ${lastLine(result.output)}` };
}

async function openWithExplorer({ url }: DavAddress): Promise<OpenOutcome> {
  const address = new URL(url);
  const folder = decodeURIComponent(address.pathname).split('/').filter(Boolean).join('\\');
  const unc = `\\\\${address.hostname}@${address.port}\\DavWWWRoot${folder ? `\\${folder}` : ''}`;
  const child = spawn('explorer.exe', [unc], { detached: true, stdio: 'ignore' });
  child.unref();
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  return { opened: true, message: 'Explorer asks for the user and password shown here.' };
}

/** Runs a helper with `input` on its standard input; its status and what it wrote. */
function run(program: string, args: readonly string[], input = ''): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: HELPER_TIMEOUT_MS });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.once('error', (err: NodeJS.ErrnoException) => reject(new Error(err.code === 'ENOENT' ? `${program} is not installed` : err.message)));
    child.once('close', (status) => resolve({ status, output }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? '';
}
