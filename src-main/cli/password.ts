import { readFile } from 'node:fs/promises';
import { HindsightError } from '../../src-shared/errors.js';
import { PasswordError } from './cliError.js';

export interface PasswordSources {
  readonly file?: string | undefined;
  readonly env: string;
  readonly prompt: string;
}

/** Reads a password from a file (`--password-file`), then the environment, then a hidden prompt on a terminal. */
export async function readPassword(sources: PasswordSources, confirm = false): Promise<string> {
  if (sources.file !== undefined) return checked(await readPasswordFile(sources.file));
  const fromEnv = process.env[sources.env];
  if (fromEnv !== undefined) return checked(fromEnv);
  if (!process.stdin.isTTY) {
    throw new PasswordError(`No password given: set ${sources.env}, pass a password file, or run in a terminal to be asked.`);
  }
  const password = checked(await promptHidden(`${sources.prompt}: `));
  if (confirm && (await promptHidden(`${sources.prompt} (again): `)) !== password) {
    throw new PasswordError('The two passwords did not match; nothing was changed.');
  }
  return password;
}

async function readPasswordFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new PasswordError(`Cannot read the password file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  // Editors add a final newline; it is never part of the password.
  return text.replace(/\r?\n$/, '');
}

function checked(password: string): string {
  if (password === '') throw new PasswordError('The password is empty.');
  return password;
}

/** Reads a line from the terminal without echoing it. */
export function promptHidden(question: string): Promise<string> {
  const input = process.stdin;
  // Echo goes off before the prompt appears, so nothing typed after it is ever shown.
  input.setRawMode(true);
  process.stderr.write(question);
  input.setEncoding('utf8');
  input.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = () => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write('\n');
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          finish();
          resolve(value);
          return;
        }
        if (ch === '\u0003') {
          finish();
          reject(new HindsightError('E_CANCELLED', 'Cancelled.'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') value = Array.from(value).slice(0, -1).join('');
        else value += ch;
      }
    };
    input.on('data', onData);
  });
}
