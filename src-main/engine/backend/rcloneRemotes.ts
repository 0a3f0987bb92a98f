import { execFile } from 'node:child_process';
import { HindsightError } from '../../../src-shared/errors.js';
import { lastMeaningfulLine } from './rcloneTransport.js';

/**
 * The remotes of the rclone configuration this machine's rclone reads (rclone.conf, or RCLONE_CONFIG),
 * by `rclone listremotes`, without their trailing colons: what rclone:NAME:PATH takes. `program` is the
 * rclone program when not $HINDSIGHT_RCLONE_PROGRAM or "rclone" on the PATH. rclone is never left
 * waiting for the password of an encrypted configuration: it says it needs one instead.
 */
export function listRcloneRemotes(program?: string): Promise<string[]> {
  const given = program ?? process.env.HINDSIGHT_RCLONE_PROGRAM;
  const run = given || 'rclone';
  return new Promise((resolve, reject) => {
    const child = execFile(run, ['listremotes', '--ask-password=false'], { encoding: 'utf8', timeout: 30_000, maxBuffer: 1024 * 1024 }, (err, stdout, stderr) => {
      if (!err) {
        resolve(stdout.split('\n').map((line) => line.trim().replace(/:$/, '')).filter(Boolean));
        return;
      }
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        reject(
          new HindsightError(
            'E_RCLONE_MISSING',
            given
              ? `The rclone program ${given} does not exist.`
              : 'rclone is not installed on this machine (no "rclone" program on the PATH): install it (apt install rclone, or https://rclone.org/install/) and add a remote with "rclone config", or give the path of the rclone program.',
            { cause: err },
          ),
        );
        return;
      }
      const said = lastMeaningfulLine(stderr) || err.message;
      reject(new HindsightError('E_RCLONE_FAILED', `"${run} listremotes" failed: ${said}`, { cause: err }));
    });
    child.stdin?.end();
  });
}
