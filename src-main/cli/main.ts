import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { HindsightError } from '../../src-shared/errors.js';
import { UsageError, exitStatusFor } from './cliError.js';
import type { Command } from './command.js';
import { agentCommand, pauseCommand, planCommand, resumeCommand, statusCommand } from './commands/agentCommands.js';
import { backupCommand } from './commands/backupCommand.js';
import { catCommand } from './commands/catCommand.js';
import { checkCommand } from './commands/checkCommand.js';
import { forgetCommand } from './commands/forgetCommand.js';
import { pruneCommand } from './commands/pruneCommand.js';
import { cacheCommand, diffCommand, findCommand, statsCommand, versionsCommand } from './commands/queryCommands.js';
import { initCommand } from './commands/initCommand.js';
import { keyCommand } from './commands/keyCommand.js';
import { lsCommand } from './commands/lsCommand.js';
import { copyCommand, repairCommand, targetsCommand } from './commands/repairCommand.js';
import { restoreCommand } from './commands/restoreCommand.js';
import { serveCommand } from './commands/serveCommand.js';
import { snapshotsCommand } from './commands/snapshotsCommand.js';
import { unlockCommand } from './commands/unlockCommand.js';

const COMMANDS: readonly Command[] = [initCommand, backupCommand, snapshotsCommand, lsCommand, restoreCommand, catCommand, versionsCommand, findCommand, diffCommand, statsCommand, checkCommand, forgetCommand, pruneCommand, keyCommand, unlockCommand, cacheCommand, agentCommand, planCommand, statusCommand, pauseCommand, resumeCommand, serveCommand, targetsCommand, repairCommand, copyCommand];

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Hindsight: deduplicated, compressed, encrypted backups.

Usage: hindsight COMMAND [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Run "hindsight COMMAND --help" for a command's options.
Environment: HINDSIGHT_REPO (repository location), HINDSIGHT_PASSWORD, HINDSIGHT_DATA_DIR (agent state), HINDSIGHT_CACHE_DIR.`;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Runs the CLI; returns the exit status instead of exiting, so tests can call it. */
export async function main(argv: readonly string[]): Promise<number> {
  // The AWS SDK warns on every run that its releases from 2027 will need Node 22: nothing a person running a backup can act on.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const [name, ...rest] = argv;
  try {
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      const topic = name === 'help' ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
      console.log(topic ? topic.help : overview());
      return 0;
    }
    if (name === '--version' || name === '-V') {
      console.log(`hindsight ${version()}`);
      return 0;
    }
    const command = COMMANDS.find((c) => c.name === name);
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
    return (await command.run(parsed.values, parsed.positionals)) ?? 0;
  } catch (err) {
    return report(err, name);
  }
}

function report(err: unknown, command: string | undefined): number {
  if (err instanceof HindsightError) {
    console.error(`hindsight: ${err.message}`);
    if (err instanceof UsageError) console.error(`Run "hindsight ${command && COMMANDS.some((c) => c.name === command) ? `${command} ` : ''}--help" for usage.`);
    if (process.env.HINDSIGHT_DEBUG && err.cause) console.error(err.cause);
  } else {
    // Not an error we anticipated: keep the detail, it is a bug to report.
    console.error('hindsight: internal error:', err);
  }
  return exitStatusFor(err);
}
