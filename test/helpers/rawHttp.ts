import { Agent, request } from 'node:http';
import { SERVER_PASSWORD } from './hindsightServer.js';

/** An HTTP basic Authorization header. */
export const basicAuth = (user: string, password = SERVER_PASSWORD) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

export interface RawOptions {
  readonly headers?: Record<string, string>;
  readonly body?: Buffer;
  readonly chunked?: boolean;
  /**
   * Send `Expect: 100-continue` and the body only once the server asks for it (default with a body),
   * as Hindsight's client does; false sends it at once, as restic does.
   */
  readonly expectContinue?: boolean;
}

/**
 * One HTTP/1.1 request with the path exactly as given (fetch would normalise "..") and a body sent as
 * is, logged in as alice unless an Authorization header is given ('' for none). Its connection is
 * kept alive, as real clients' are: a server that refuses an upload early reads and drops the rest of
 * the body instead of closing under it, which would have the kernel reset the connection and could
 * lose the answer. A server that answers before it asks for the body is never sent it.
 */
export function raw(port: number, method: string, path: string, options: RawOptions = {}): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { Authorization: basicAuth('alice'), ...options.headers };
    if (headers.Authorization === '') delete headers.Authorization;
    if (options.body && !options.chunked) headers['Content-Length'] = String(options.body.length);
    const expectContinue = options.body !== undefined && options.expectContinue !== false;
    if (expectContinue) headers.Expect = '100-continue';
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers });
        agent.destroy();
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    const sendBody = () => {
      const { body } = options;
      if (body && options.chunked) for (let i = 0; i < body.length; i += 65536) req.write(body.subarray(i, i + 65536));
      else if (body) req.write(body);
      req.end();
    };
    if (expectContinue) req.once('continue', sendBody);
    else sendBody();
  });
}
