import { request } from 'node:http';
import { SERVER_PASSWORD } from './hindsightServer.js';

/** An HTTP basic Authorization header. */
export const basicAuth = (user: string, password = SERVER_PASSWORD) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/**
 * One HTTP/1.1 request with the path exactly as given (fetch would normalise "..") and a body sent as
 * is, logged in as alice unless an Authorization header is given ('' for none).
 */
export function raw(port: number, method: string, path: string, options: { headers?: Record<string, string>; body?: Buffer; chunked?: boolean } = {}): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { Authorization: basicAuth('alice'), ...options.headers };
    if (headers.Authorization === '') delete headers.Authorization;
    if (options.body && !options.chunked) headers['Content-Length'] = String(options.body.length);
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers }));
      res.on('error', reject);
    });
    // A server that refuses an upload early may close before the whole body is sent: the answer counts.
    req.on('error', reject);
    if (options.body) {
      if (options.chunked) for (let i = 0; i < options.body.length; i += 65536) req.write(options.body.subarray(i, i + 65536));
      else req.write(options.body);
    }
    req.end();
  });
}

