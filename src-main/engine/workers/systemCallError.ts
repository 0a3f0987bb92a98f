import { getSystemErrorMap } from 'node:util';

/**
 * The error Node would have thrown for a system call the addon made: its code and words as Node puts them
 * ("ENOSPC: no space left on device, write", with the path for an open), from minus the errno.
 */
export function systemCallError(result: number, syscall: string, path?: Buffer): NodeJS.ErrnoException {
  const [code, description] = getSystemErrorMap().get(result) ?? [`errno ${-result}`, 'unknown error'];
  return Object.assign(new Error(`${code}: ${description}, ${syscall}${path ? ` '${path.toString()}'` : ''}`), { code, errno: result, syscall });
}
