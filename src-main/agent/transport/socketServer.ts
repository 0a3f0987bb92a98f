import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { EventMessage } from '../../../src-shared/api.js';
import { HindsightError } from '../../../src-shared/errors.js';
import type { Agent } from '../agent.js';
import { dispatch } from './dispatch.js';
import { readLines, writeLine } from './lineChannel.js';

/**
 * Serves the agent on a local socket (a Unix domain socket in a folder only
 * the user can enter, or a named pipe on Windows): the CLI and `hindsight
 * serve` talk to a running agent through it. Every client gets the events.
 */
export class AgentSocketServer {
  private server: Server | undefined;
  private readonly clients = new Set<Socket>();

  constructor(
    private readonly agent: Agent,
    readonly path: string,
  ) {}

  async listen(): Promise<void> {
    if (process.platform !== 'win32') {
      mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
      if (await isAlive(this.path)) throw new HindsightError('E_AGENT_RUNNING', `An agent is already running (socket ${this.path}).`);
      // Left behind by an agent that was killed: nobody answers on it.
      rmSync(this.path, { force: true });
    }
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => resolve());
    });
    if (process.platform !== 'win32') chmodSync(this.path, 0o600);
    const unsubscribe = this.agent.subscribe((event) => {
      const message: EventMessage = { type: 'event', event };
      for (const client of this.clients) writeLine(client, message);
    });
    server.once('close', unsubscribe);
  }

  async close(): Promise<void> {
    for (const client of this.clients) client.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    if (process.platform !== 'win32') rmSync(this.path, { force: true });
  }

  private accept(socket: Socket): void {
    this.clients.add(socket);
    socket.on('close', () => this.clients.delete(socket));
    socket.on('error', () => socket.destroy());
    readLines(
      socket,
      (value) => void dispatch(this.agent, value).then((response) => writeLine(socket, response)),
      (error) => writeLine(socket, { type: 'response', id: null, ok: false, error: { code: error.code, message: error.message } }),
    );
  }
}

/** True when something answers on the socket. */
export function isAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
