import { connect, createServer, type Socket } from 'node:net';
import type { TestContext } from 'node:test';
import { freePort } from './sshServer.js';

export interface TcpRelay {
  /** http://127.0.0.1:PORT: the relay's address, in front of the server. */
  readonly url: string;
  /** Connections opened so far. */
  opened(): number;
  /** The most connections open at once so far. */
  mostAtOnce(): number;
}

/** What a relay answers in the server's place: a bare 503. */
export const SERVICE_UNAVAILABLE = 'HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n';

/**
 * A TCP relay on 127.0.0.1 in front of the server at `port` that counts connections. The first
 * `failFirst` connections never reach the server: the relay answers their first request with
 * `answer` (an HTTP response, default a 503) and closes them, as a busy or failing server would.
 * Closed when the test ends.
 */
export async function startTcpRelay(t: TestContext, port: number, options: { failFirst?: number; answer?: string } = {}): Promise<TcpRelay> {
  let opened = 0;
  let open = 0;
  let most = 0;
  let toFail = options.failFirst ?? 0;
  const sockets = new Set<Socket>();
  const relay = createServer((client) => {
    sockets.add(client);
    opened += 1;
    most = Math.max(most, ++open);
    client.once('close', () => {
      open -= 1;
      sockets.delete(client);
    });
    if (toFail > 0) {
      toFail -= 1;
      client.once('data', () => client.end(options.answer ?? SERVICE_UNAVAILABLE));
      return;
    }
    const upstream = connect(port, '127.0.0.1');
    sockets.add(upstream);
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.once('error', end);
    upstream.once('error', end);
    upstream.once('close', end);
  });
  const relayPort = await freePort();
  await new Promise<void>((resolve) => relay.listen(relayPort, '127.0.0.1', resolve));
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => relay.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${relayPort}`, opened: () => opened, mostAtOnce: () => most };
}
