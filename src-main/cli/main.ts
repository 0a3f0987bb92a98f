import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { HindsightError } from '../../src-shared/errors.js';
import { EXIT_INTERRUPTED, OutputClosed, UsageError, exitStatusFor } from './cliError.js';
import type { Command } from './command.js';
import { PACKAGE_JSON } from './installPaths.js';
/**
 * Each command's module is loaded only when that command runs: importing all of them (and the engine,
 * SQLite, the server) cost ~0.1 s on every run, a tenth of a backup that finds nothing changed.
 */
const COMMANDS: readonly (readonly [name: string, load: () => Promise<Command>])[] = [
  ['init', async () => (await import('./commands/initCommand.js')).initCommand],
  ['backup', async () => (await import('./commands/backupCommand.js')).backupCommand],
  ['snapshots', async () => (await import('./commands/snapshotsCommand.js')).snapshotsCommand],
  ['ls', async () => (await import('./commands/lsCommand.js')).lsCommand],
  ['restore', async () => (await import('./commands/restoreCommand.js')).restoreCommand],
  ['cat', async () => (await import('./commands/catCommand.js')).catCommand],
  ['versions', async () => (await import('./commands/queryCommands.js')).versionsCommand],
  ['find', async () => (await import('./commands/queryCommands.js')).findCommand],
  ['diff', async () => (await import('./commands/queryCommands.js')).diffCommand],
  ['stats', async () => (await import('./commands/queryCommands.js')).statsCommand],
  ['check', async () => (await import('./commands/checkCommand.js')).checkCommand],
  ['forget', async () => (await import('./commands/forgetCommand.js')).forgetCommand],
  ['tag', async () => (await import('./commands/tagCommand.js')).tagCommand],
  ['prune', async () => (await import('./commands/pruneCommand.js')).pruneCommand],
  ['key', async () => (await import('./commands/keyCommand.js')).keyCommand],
  ['unlock', async () => (await import('./commands/unlockCommand.js')).unlockCommand],
  ['cache', async () => (await import('./commands/queryCommands.js')).cacheCommand],
  ['agent', async () => (await import('./commands/agentCommands.js')).agentCommand],
  ['plan', async () => (await import('./commands/agentCommands.js')).planCommand],
  ['status', async () => (await import('./commands/agentCommands.js')).statusCommand],
  ['pause', async () => (await import('./commands/agentCommands.js')).pauseCommand],
  ['resume', async () => (await import('./commands/agentCommands.js')).resumeCommand],
  ['mount', async () => (await import('./commands/mountCommand.js')).mountCommand],
  ['serve', async () => (await import('./commands/serveCommand.js')).serveCommand],
  ['server', async () => (await import('./commands/serverCommand.js')).serverCommand],
  ['targets', async () => (await import('./commands/repairCommand.js')).targetsCommand],
  ['repair', async () => (await import('./commands/repairCommand.js')).repairCommand],
  ['copy', async () => (await import('./commands/repairCommand.js')).copyCommand],
];

function loadCommand(name: string | undefined): Promise<Command> | undefined {
  return COMMANDS.find(([known]) => known === name)?.[1]();
}

async function overview(): Promise<string> {
  const commands = await Promise.all(COMMANDS.map(([, load]) => load()));
  const width = Math.max(...commands.map((c) => c.name.length));
  return `Hindsight: deduplicated, compressed, encrypted backups.

Usage: hindsight COMMAND [options]

Commands:
${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Run "hindsight COMMAND --help" for a command's options.
Environment: HINDSIGHT_REPO (repository location), HINDSIGHT_PASSWORD, HINDSIGHT_DATA_DIR (agent state), HINDSIGHT_CACHE_DIR.`;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { version: string };
  return pkg.version;
}

/** Runs the CLI; returns the exit status instead of exiting, so tests can call it. */
export async function main(argv: readonly string[]): Promise<number> {
  // The AWS SDK warns on every run that its releases from 2027 will need Node 22: nothing a person running a backup can act on.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const [name, ...rest] = argv;
  try {
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      const topic = name === 'help' ? await loadCommand(rest[0]) : undefined;
      console.log(topic ? topic.help : await overview());
      return 0;
    }
    if (name === '--version' || name === '-V') {
      console.log(`hindsight ${version()}`);
      return 0;
    }
    const command = await loadCommand(name);
    if (!command) throw new UsageError(`Unknown command "${name}".`);
    let parsed;
    try {
      parsed = parseArgs({ args: [...rest], options: { ...command.options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
    } catch (err) {
      throw new UsageError((err as Error).message.replace(/\. To specify a positional.*$/s, '.'));
    }
    if (parsed.values.help) {
      console.log(command.help);
      return 0;
    }
    if (!command.takesArguments && parsed.positionals.length > 0) {
      throw new UsageError(`"${command.name}" takes no arguments, but was given "${parsed.positionals[0]}".`);
    }
    const stop = watchForStop(command);
    try {
      const status = (await command.run(parsed.values, parsed.positionals, { signal: stop.signal })) ?? 0;
      if (stop.outputClosed() && !command.survivesClosedOutput) throw new OutputClosed();
      return status;
    } catch (err) {
      // Whatever the command stopped with, the reason it stopped is what the status tells.
      if (stop.signal.reason instanceof OutputClosed) throw stop.signal.reason;
      throw err;
    } finally {
      stop.dispose();
    }
  } catch (err) {
    return report(err, name);
  }
}

/**
 * Ctrl-C and SIGTERM: the first asks the command to stop at a safe point (releasing its lock and
 * removing its temporary files), the second ends the process at once. A closed standard output
 * (`| head`) ends the output quietly, as for any Unix tool, except in a backup, which goes on: its
 * snapshot matters more than its progress lines.
 */
function watchForStop(command: Command): { signal: AbortSignal; outputClosed(): boolean; dispose(): void } {
  const controller = new AbortController();
  let closed = false;
  let running = true;
  const onSignal = () => {
    if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
    if (controller.signal.aborted || !command.interruptible) {
      console.error('hindsight: interrupted.');
      process.exit(EXIT_INTERRUPTED);
    }
    console.error('hindsight: interrupted; stopping at a safe point (press Ctrl-C again to stop at once).');
    controller.abort();
  };
  const onOutputError = (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
    closed = true;
    if (command.survivesClosedOutput) return;
    // The pipe's error may come only after the command wrote its last line and returned.
    if (!running) process.exitCode = exitStatusFor(new OutputClosed());
    else if (!command.interruptible) process.exit(exitStatusFor(new OutputClosed()));
    else if (!controller.signal.aborted) controller.abort(new OutputClosed());
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.stdout.on('error', onOutputError);
  return {
    signal: controller.signal,
    outputClosed: () => closed,
    // The output handler stays: the last lines, written after the command returns, may meet the closed pipe too.
    dispose() {
      running = false;
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

function report(err: unknown, command: string | undefined): number {
  if (err instanceof OutputClosed) return exitStatusFor(err);
  if (err instanceof HindsightError) {
    // Wrong usage is one line, the pointer to --help included: easy to spot in a script's log.
    const help = err instanceof UsageError ? ` (see "hindsight ${command && COMMANDS.some(([known]) => known === command) ? `${command} ` : ''}--help")` : '';
    console.error(`hindsight: ${err.message}${help}`);
    if (process.env.HINDSIGHT_DEBUG && err.cause) console.error(err.cause);
  } else {
    // Not an error we anticipated: keep the detail, it is a bug to report.
    console.error('hindsight: internal error:', err);
  }
  return exitStatusFor(err);
}
