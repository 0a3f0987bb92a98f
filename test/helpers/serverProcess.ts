import type { ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import type { TestContext } from 'node:test';

/** Waits until the server `process` (called `name` in errors) listens on `port` of 127.0.0.1; fails when it exits first. */
export async function waitForPort(port: number, server: ChildProcess, log: () => string, name = 'sshd', timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (server.exitCode !== null) throw new Error(`${name} exited with status ${server.exitCode}: ${log()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`${name} did not listen on port ${port}: ${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Kills the server (SIGKILL) when the test ends, and returns that stop for a test that wants it sooner; a server already gone is left alone. */
export function stopWhenDone(t: TestContext, server: ChildProcess): () => Promise<void> {
  const stop = async () => {
    if (server.exitCode !== null || server.signalCode !== null) return;
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGKILL');
    await exited;
  };
  t.after(stop);
  return stop;
}
