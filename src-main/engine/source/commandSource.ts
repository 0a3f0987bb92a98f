import { spawn } from 'node:child_process';
import { PassThrough, type Readable } from 'node:stream';
import { HindsightError } from '../../../src-shared/errors.js';

/** The command that produced a stream source failed: nothing from it is kept as a snapshot. */
export class CommandSourceError extends HindsightError {}

/** A command's standard output, and how it ended. */
export interface CommandOutput {
  readonly stdout: Readable;
  /**
   * Settles when the command has exited: resolves on status 0, rejects with a CommandSourceError naming
   * the command and the last lines it wrote to standard error otherwise (or when it could not start).
   */
  readonly exited: Promise<void>;
  /** Stops the command (the backup was interrupted). */
  kill(): void;
}

/** Standard error kept for the message when the command fails: its last few lines are what explain it. */
const STDERR_TAIL = 4096;

/**
 * Runs a command given as an argument list, never through a shell (so nothing in it is expanded or
 * split again), with its standard output as a stream for the backup. Its standard error is passed
 * through to ours (pg_dump's and vzdump's progress notes stay visible) and its end kept for the error.
 */
export function runCommandSource(command: readonly string[], options: { readonly signal?: AbortSignal; readonly passStderr?: boolean } = {}): CommandOutput {
  const [program, ...args] = command;
  if (program === undefined || program === '') throw new CommandSourceError('E_USAGE', 'No command to back up the output of: give it after --, as in -- pg_dump mydb.');
  const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'], shell: false });
  let stderr = '';
  child.stderr.on('data', (data: Buffer) => {
    if (options.passStderr) process.stderr.write(data);
    stderr = (stderr + data.toString('utf8')).slice(-STDERR_TAIL);
  });
  const name = program;
  const exited = new Promise<void>((resolve, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'ENOENT'
          ? new CommandSourceError('E_COMMAND_NOT_FOUND', `Cannot run ${name}: no such program (is it installed, and on the PATH?).`)
          : err.code === 'EACCES'
            ? new CommandSourceError('E_COMMAND_NOT_FOUND', `Cannot run ${name}: permission denied (is it executable?).`)
            : new CommandSourceError('E_COMMAND_FAILED', `Cannot run ${name}: ${err.message}`),
      );
    });
    child.once('close', (code, signal) => {
      if (code === 0) return resolve();
      const said = lastLines(stderr);
      const how = signal ? `was stopped by ${signal}` : `exited with status ${code}`;
      reject(new CommandSourceError('E_COMMAND_FAILED', `${name} ${how}, so no snapshot was saved${said ? `: ${said}` : '.'}`));
    });
  });
  // Marked handled here: the backup awaits it once the output has been read.
  exited.catch(() => undefined);
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  options.signal?.addEventListener('abort', kill, { once: true });
  // Through a pipe, which listens from the start: Node discards the unread output of a child that has
  // exited when nothing listens to it, and a short dump can end before the backup starts reading it.
  const stdout = child.stdout.pipe(new PassThrough({ highWaterMark: 1024 * 1024 }));
  return { stdout, exited, kill };
}

/** The last two lines a program wrote to standard error, on one line. */
function lastLines(text: string): string {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .slice(-2)
    .join(' / ');
}
