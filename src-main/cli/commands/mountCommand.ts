import { randomBytes } from 'node:crypto';
import { startDavServer } from '../../engine/mount/davServer.js';
import { mountWithRclone, type FuseMount } from '../../engine/mount/rcloneMount.js';
import { UsageError } from '../cliError.js';
import { REPOSITORY_HELP, REPOSITORY_OPTIONS, type Command } from '../command.js';
import { openRepository } from '../openRepository.js';
import { readPassword } from '../password.js';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export const mountCommand: Command = {
  name: 'mount',
  summary: 'open every snapshot as a read-only drive (WebDAV; a folder with FUSE on Linux)',
  help: `Usage: hindsight mount --repo LOCATION [--listen ADDRESS:PORT] [MOUNTPOINT]

Serves the repository read-only over WebDAV, which Finder, Windows Explorer,
GNOME Files, KDE Dolphin and rclone open as a network drive: "/" lists the
snapshots by time ("2026-12-05T14-03-22 laptop"), with latest/, by-host/ and
by-tag/ beside them. Every chunk is verified as it is read. Prints the address,
the user (hindsight) and a random password, and serves until Ctrl-C.

With MOUNTPOINT (an empty folder; Linux), the snapshots also appear there as
a folder through FUSE (rclone mount, which needs rclone and fuse3; the rclone
of --rclone-program or $HINDSIGHT_RCLONE_PROGRAM if given), unmounted again on
Ctrl-C or SIGTERM.

Options:
      --listen ADDRESS:PORT the address to serve on (default 127.0.0.1 and a free port)
      --allow-remote        required to listen on anything but loopback: the
                            password then travels unencrypted
      --mount-password-file FILE  the WebDAV password, instead of a random one
                            (also $HINDSIGHT_MOUNT_PASSWORD)
${REPOSITORY_HELP}`,
  options: { ...REPOSITORY_OPTIONS, listen: { type: 'string' }, 'allow-remote': { type: 'boolean' }, 'mount-password-file': { type: 'string' } },
  takesArguments: true,
  interruptible: true,
  async run(values, positionals, { signal }) {
    if (positionals.length > 1) throw new UsageError('Give at most one folder to mount on.');
    const mountpoint = positionals[0];
    if (mountpoint !== undefined && process.platform !== 'linux') throw new UsageError('Mounting as a folder needs FUSE (Linux); elsewhere, connect to the WebDAV address it prints (see README).');
    const { host, port } = listenAddress(values.listen as string | undefined);
    if (!LOOPBACK.has(host) && !values['allow-remote']) {
      throw new UsageError(`Listening on ${host} lets other machines read your backups with the password; add --allow-remote if that is what you want.`);
    }
    const passwordFile = values['mount-password-file'] as string | undefined;
    const password =
      passwordFile !== undefined || process.env.HINDSIGHT_MOUNT_PASSWORD !== undefined
        ? await readPassword({ file: passwordFile, env: 'HINDSIGHT_MOUNT_PASSWORD', prompt: 'WebDAV password' })
        : randomBytes(18).toString('base64url');

    const repository = await openRepository(values);
    try {
      // A shared lock for as long as the snapshots are open: prune waits rather than remove what is read.
      const lock = await repository.lock(false);
      try {
        await repository.reloadIndex();
        const server = await startDavServer({ repository, host, port, password, log: (line) => console.error(line) });
        let fuse: FuseMount | undefined;
        try {
          if (!LOOPBACK.has(host)) console.warn(`warning: listening on ${host}: anyone who can reach it and has the password can read every snapshot, and the password is sent unencrypted.`);
          console.log(`Serving the snapshots read-only over WebDAV at ${server.url}`);
          console.log(`User: ${server.username}`);
          console.log(`Password: ${password}`);
          if (mountpoint !== undefined) {
            const rcloneProgram = (values['rclone-program'] as string | undefined) ?? process.env.HINDSIGHT_RCLONE_PROGRAM;
            fuse = await mountWithRclone({ url: server.url, username: server.username, password, mountpoint, ...(rcloneProgram ? { rcloneProgram } : {}) });
            console.log(`Mounted at ${fuse.mountpoint}.`);
          }
          console.log('Press Ctrl-C to stop.');
          const stopped = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
          const lost = fuse ? [fuse.exited.then(() => 'unmounted' as const)] : [];
          if ((await Promise.race([stopped, ...lost])) === 'unmounted') console.error(`${mountpoint} was unmounted from outside; stopping.`);
          console.log('Stopping.');
        } finally {
          await fuse?.unmount();
          await server.close();
        }
      } finally {
        await lock.release();
      }
    } finally {
      await repository.close();
    }
  },
};

/** "ADDRESS:PORT", "ADDRESS", ":PORT" or "[::1]:PORT"; default 127.0.0.1 and port 0 (a free one). */
function listenAddress(text: string | undefined): { host: string; port: number } {
  if (text === undefined) return { host: '127.0.0.1', port: 0 };
  const match = /^(?:\[([^\]]+)\]|([^:]*))(?::(\d+))?$/.exec(text);
  const port = Number(match?.[3] ?? 0);
  if (!match || port > 65535) throw new UsageError(`--listen takes ADDRESS:PORT (127.0.0.1:8090, [::1]:8090), not "${text}".`);
  return { host: match[1] ?? (match[2] || '127.0.0.1'), port };
}
