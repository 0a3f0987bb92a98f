import type { ServerResponse } from 'node:http';
import { basename } from 'node:path';
import { MAX_READ_BYTES } from '../../src-shared/api.js';
import type { AgentAccess } from '../agent/agentAccess.js';
import { drained } from '../engine/writableDrained.js';

/**
 * Streams one file of a snapshot to the browser as a download (the browser's
 * equivalent of dragging it out of the desktop app), a verified range at a
 * time, waiting for the browser to take each before reading the next.
 */
export async function sendDownload(endpoint: AgentAccess, query: URLSearchParams, response: ServerResponse, headers: Record<string, string>): Promise<void> {
  const repository = query.get('repository');
  const snapshot = query.get('snapshot');
  const path = query.get('path');
  if (!repository || !snapshot || !path) {
    response.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
    response.end('A download needs repository, snapshot and path.\n');
    return;
  }
  let first;
  try {
    first = await endpoint.call('snapshots.read', { repository, snapshot, path, offset: 0, length: MAX_READ_BYTES });
  } catch (err) {
    response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    response.end(`${(err as Error).message}\n`);
    return;
  }
  response.writeHead(200, {
    ...headers,
    'content-type': 'application/octet-stream',
    'content-length': String(first.size),
    'content-disposition': `attachment; filename*=UTF-8''${encodeURIComponent(basename(path))}`,
    'cache-control': 'no-store',
  });
  let range = first;
  for (;;) {
    const bytes = Buffer.from(range.data, 'base64');
    const next = range.offset + bytes.length;
    if (!response.write(bytes)) await drained(response);
    if (bytes.length === 0 || next >= range.size || response.destroyed) break;
    try {
      range = await endpoint.call('snapshots.read', { repository, snapshot, path, offset: next, length: MAX_READ_BYTES });
    } catch {
      // The status line is sent: cutting the connection is the only way left to say the file is incomplete.
      response.destroy();
      return;
    }
  }
  response.end();
}
