import type { Socket } from 'node:net';
import { HindsightError } from '../../../src-shared/errors.js';

/** No message of the contract comes near this; a longer line is a broken or hostile client. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

/**
 * Newline-delimited JSON over a stream socket. Calls `onMessage` with each
 * parsed value and `onBadLine` for a line that is not JSON (or too long); the
 * connection stays usable after a bad line.
 */
export function readLines(socket: Socket, onMessage: (value: unknown) => void, onBadLine: (error: HindsightError) => void): void {
  let buffered: Buffer[] = [];
  let size = 0;
  let discarding = false;
  socket.on('data', (chunk: Buffer) => {
    let start = 0;
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      if (discarding) {
        discarding = false;
        buffered = [];
        size = 0;
        continue;
      }
      const line = Buffer.concat([...buffered, piece]).toString('utf8');
      buffered = [];
      size = 0;
      if (line.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        onBadLine(new HindsightError('E_BAD_MESSAGE', 'A message was not valid JSON.'));
        continue;
      }
      onMessage(value);
    }
    if (start < chunk.length && !discarding) {
      buffered.push(chunk.subarray(start));
      size += chunk.length - start;
      if (size > MAX_LINE_BYTES) {
        discarding = true;
        buffered = [];
        size = 0;
        onBadLine(new HindsightError('E_BAD_MESSAGE', `A message was longer than ${MAX_LINE_BYTES} bytes and was dropped.`));
      }
    }
  });
}

export function writeLine(socket: Socket, value: unknown): void {
  if (!socket.destroyed) socket.write(`${JSON.stringify(value)}\n`);
}
