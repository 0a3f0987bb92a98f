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
  /** For each relayed connection that has ended, which side closed it first. */
  closedFirstBy(): ('client' | 'server')[];
}

/** What a relay answers in the server's place: a bare 503. */
export const SERVICE_UNAVAILABLE = 'HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n';

export interface TcpRelayOptions {
  /** The first this many connections never reach the server: their first request gets `answer`, then the relay closes them. */
  readonly failFirst?: number;
  /** What a failed connection is answered (default a bare 503). */
  readonly answer?: string;
  /**
   * The next this many connections are reset when the client sends on them again after an answer (it
   * reuses a kept-alive connection): what a client sees when the server closes an idle connection just
   * as a request goes out on it. The request never reaches the server.
   */
  readonly resetReused?: number;
}

/**
 * A TCP relay on 127.0.0.1 in front of the server at `port` that counts connections, and fails some
 * of them as `options` say. Closed when the test ends.
 */
export async function startTcpRelay(t: TestContext, port: number, options: TcpRelayOptions = {}): Promise<TcpRelay> {
  let opened = 0;
  let open = 0;
  let most = 0;
  let toFail = options.failFirst ?? 0;
  let toReset = options.resetReused ?? 0;
  const closedFirstBy: ('client' | 'server')[] = [];
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
    let ended = false;
    const endedBy = (side: 'client' | 'server') => () => {
      if (!ended) closedFirstBy.push(side);
      ended = true;
    };
    client.once('end', endedBy('client'));
    upstream.once('end', endedBy('server'));
    if (toReset > 0) {
      toReset -= 1;
      let answered = false;
      upstream.on('data', (chunk: Buffer) => {
        answered = true;
        client.write(chunk);
      });
      client.on('data', (chunk: Buffer) => {
        if (!answered) return void upstream.write(chunk);
        client.resetAndDestroy();
        upstream.destroy();
      });
    } else {
      client.pipe(upstream).pipe(client);
    }
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
  return { url: `http://127.0.0.1:${relayPort}`, opened: () => opened, mostAtOnce: () => most, closedFirstBy: () => [...closedFirstBy] };
}
