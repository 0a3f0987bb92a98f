/** What waiting on a writable needs: Node's streams, and node:http's and node:http2's responses and streams. */
export interface Drainable {
  readonly destroyed: boolean;
  once(event: 'drain' | 'close', listener: () => void): unknown;
  off(event: 'drain' | 'close', listener: () => void): unknown;
}

/**
 * After a write that returned false: resolves true once `writable` wants more, false once it has closed
 * instead (a closed stream never drains, so waiting for 'drain' alone could wait for ever).
 */
export function drained(writable: Drainable): Promise<boolean> {
  if (writable.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onDrain = () => settle(true);
    const onClose = () => settle(false);
    const settle = (more: boolean) => {
      writable.off('drain', onDrain);
      writable.off('close', onClose);
      resolve(more);
    };
    writable.once('drain', onDrain);
    writable.once('close', onClose);
  });
}
