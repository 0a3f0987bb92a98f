import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { S3Options } from '../../src-main/engine/backend/s3Backend.js';
import { stopWhenDone } from './serverProcess.js';
import { tempDir } from './tempDir.js';

/** s3rver knows this key pair. It checks the access key id, but not SigV4 signatures. */
export const S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

const serverScript = fileURLToPath(new URL('../fixtures/s3Server.js', import.meta.url));

export interface S3Server {
  readonly endpoint: string;
  /** The folder s3rver keeps objects in, to damage them behind the server's back. */
  readonly directory: string;
  options(prefix: string, bucket?: string): S3Options;
}

/**
 * s3rver (the S3 REST protocol over HTTP: ranged GETs, multipart uploads,
 * ListObjectsV2 paging) in its own process on a free port of 127.0.0.1,
 * storing in a temporary folder; killed when the test ends.
 */
export async function startS3Server(t: TestContext, buckets: readonly string[] = ['hindsight']): Promise<S3Server> {
  const directory = join(await tempDir(t, 'hindsight-s3-'), 'store');
  const child = spawn(process.execPath, ['--openssl-legacy-provider', serverScript, directory, ...buckets], { stdio: ['ignore', 'pipe', 'pipe'] });
  let errors = '';
  child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  stopWhenDone(t, child);
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve(Number(out.trim()));
    });
    child.once('exit', (status) => reject(new Error(`s3rver exited with status ${status}: ${errors}`)));
  });
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    directory,
    options: (prefix, bucket = 'hindsight') => ({ bucket, prefix, endpoint, region: 'us-east-1', credentials: S3_CREDENTIALS }),
  };
}
