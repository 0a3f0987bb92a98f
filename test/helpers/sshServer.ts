import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { SftpOptions } from '../../src-main/engine/backend/sftpBackend.js';
import { waitForPort } from './serverProcess.js';
import { tempDir } from './tempDir.js';

export const SSHD = '/usr/sbin/sshd';

/** Why SFTP tests cannot run here, or undefined when they can. */
export function sshdMissing(): string | undefined {
  if (!existsSync(SSHD)) return `OpenSSH server not installed (${SSHD} missing; apt-get install openssh-server)`;
  if (process.getuid?.() !== 0) return 'sshd tests run as root (sshd needs its privilege-separation user)';
  return undefined;
}

export interface SshServer {
  readonly port: number;
  readonly username: string;
  readonly dir: string;
  /** A private key the server accepts. */
  readonly userKey: string;
  /** A known_hosts file that lists this server's key. */
  readonly knownHosts: string;
  /** Options for an SftpBackend on this server, repository at `path`. */
  options(path: string): SftpOptions;
  /** Stops the server and every session it has open, as a crash or power cut would. */
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}


/** Every process below `pid` (sshd forks a process per connection, which forks again). */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // The process ended while being looked at.
    }
  }
  const found: number[] = [];
  const visit = (p: number) => {
    for (const child of children.get(p) ?? []) {
      found.push(child);
      visit(child);
    }
  };
  visit(pid);
  return found;
}

/**
 * Debian's OpenSSH server on a free port of 127.0.0.1 with a throwaway host
 * key and user key in a temporary folder; stopped (with its sessions) when
 * the test ends. `user`: the one user it lets in (default: the test's own,
 * root), such as nobody, for whom file permissions hold.
 */
export async function startSshServer(t: TestContext, options: { readonly user?: string } = {}): Promise<SshServer> {
  const dir = await tempDir(t, 'hindsight-sshd-');
  const port = await freePort();
  const username = options.user ?? userInfo().username;
  // Another user's sshd session reads the authorized keys as that user: the folder and file must let it.
  if (options.user) await chmod(dir, 0o755);
  const hostKey = join(dir, 'host_key');
  const userKey = join(dir, 'user_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'hindsight-test-host', '-f', hostKey]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'hindsight-test-user', '-f', userKey]);
  await writeFile(join(dir, 'authorized_keys'), await readFile(`${userKey}.pub`), { mode: 0o644 });
  const [type, blob] = (await readFile(`${hostKey}.pub`, 'utf8')).split(' ');
  const knownHosts = join(dir, 'known_hosts');
  await writeFile(knownHosts, `[127.0.0.1]:${port} ${type} ${blob}\n`);
  const config = join(dir, 'sshd_config');
  await writeFile(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'StrictModes no',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'PermitRootLogin prohibit-password',
      `AllowUsers ${username}`,
      'MaxStartups 50',
      'MaxSessions 50',
      'Subsystem sftp internal-sftp',
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  // The privilege-separation folder is normally made by the service unit.
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });

  let child: ChildProcess | undefined;
  let log = '';
  const start = async () => {
    log = '';
    child = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
    await waitForPort(port, child, () => log);
  };
  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.pid === undefined) return;
    const sessions = descendants(running.pid);
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    for (const pid of sessions) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await exited;
  };
  await start();
  t.after(stop);
  return {
    port,
    username,
    dir,
    userKey,
    knownHosts,
    options: (path) => ({ host: '127.0.0.1', port, username, path, identityFiles: [userKey], knownHostsFile: knownHosts, agent: false }),
    stop,
    start,
  };
}
