import { fileURLToPath } from 'node:url';
import { newAccessToken } from '../../serve/accessToken.js';
import { useOrStartAgent } from '../../agent/agentAccess.js';
import { LOOPBACK, startServeServer } from '../../serve/serveServer.js';
import { UsageError } from '../cliError.js';
import type { Command } from '../command.js';
import { RENDERER_DIR } from '../installPaths.js';

export const serveCommand: Command = {
  name: 'serve',
  summary: 'serve the Hindsight UI and API in a browser (headless machines)',
  help: `Usage: hindsight serve [--port PORT] [--listen ADDRESS [--allow-remote]]

Starts the web dashboard: the same UI as the desktop app, in a browser. It
talks to the running agent ("hindsight agent"), or starts one in this process
(schedules and watching included) when none runs. Prints the URL to open; it
carries a random access token, and every request without it is refused.

Options:
      --port PORT           port to listen on (default 8080; 0 picks a free one)
      --listen ADDRESS      address to listen on (default 127.0.0.1, this machine only)
      --allow-remote        required to listen on anything but loopback: the
                            token then travels over plain HTTP; put the server
                            behind HTTPS (a reverse proxy or an SSH tunnel)`,
  options: {
    port: { type: 'string' },
    listen: { type: 'string' },
    'allow-remote': { type: 'boolean' },
  },
  interruptible: true,
  async run(values, _positionals, { signal }) {
    const port = Number(values.port ?? 8080);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a number from 0 to 65535, not "${String(values.port)}".`);
    const host = (values.listen as string | undefined) ?? '127.0.0.1';
    if (!LOOPBACK.has(host) && !values['allow-remote']) {
      throw new UsageError(`Listening on ${host} makes Hindsight reachable from other machines; add --allow-remote if that is what you want (and use HTTPS in front of it).`);
    }
    const endpoint = await useOrStartAgent('serving');
    let server;
    try {
      server = await startServeServer({ endpoint, host, port, token: newAccessToken(), rendererDir: fileURLToPath(RENDERER_DIR) });
    } catch (err) {
      await endpoint.close();
      throw err;
    }
    if (!LOOPBACK.has(host)) console.warn(`warning: listening on ${host}: anyone who can reach this address and has the token controls your backups; the token is sent without encryption unless HTTPS is in front.`);
    console.log(`Hindsight is ready, using ${endpoint.description}.`);
    console.log(`Open ${server.url}`);
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    console.log('Stopping.');
    await server.close();
    await endpoint.close();
  },
};
