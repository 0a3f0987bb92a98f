import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { tempDir } from './tempDir.js';

export interface RcloneRemote {
  /** The rclone.conf that defines the remote: RCLONE_CONFIG for a child, or --config. */
  readonly config: string;
  /** The remote's name, for rclone:NAME:PATH. */
  readonly name: string;
  /** The folder the remote stores in: rclone:NAME:x is its subfolder x. */
  readonly directory: string;
  /** A folder of the test's own, beside the remote's. */
  readonly scratch: string;
}

/**
 * An rclone configuration of its own with one remote, an alias of a temporary folder: what a user's
 * rclone.conf names "gdrive" or "b2" here stands for a folder, reached through rclone all the same.
 */
export async function rcloneRemote(t: TestContext, name = 'backups'): Promise<RcloneRemote> {
  const dir = await tempDir(t, 'hindsight-rclone-');
  const directory = join(dir, 'store');
  const config = join(dir, 'rclone.conf');
  await writeFile(config, `[${name}]\ntype = alias\nremote = ${directory}\n`);
  return { config, name, directory, scratch: dir };
}
