import { randomBytes } from 'node:crypto';
import * as v from 'valibot';
import type { MasterKey } from '../crypto/masterKey.js';
import { boundedInt, hex32, parseJsonObject, timestamp } from './jsonObject.js';
import { RepositoryError } from './repositoryError.js';
import { openObject, sealObject } from './sealedObject.js';

export const FORMAT_VERSION = 1;

const MiB = 1024 * 1024;

/** Limits on what a repository may configure; also the bounds applied when reading a config. */
export const CONFIG_LIMITS = {
  packSize: { min: 64 * 1024, max: 1024 * MiB },
  compressionLevel: { min: 0, max: 19 },
  chunkSize: { min: 4 * 1024, max: 64 * MiB },
} as const;

const CONFIG_SCHEMA = v.object({
  version: v.number(),
  id: hex32,
  created: timestamp,
  blobId: v.literal('blake3-keyed'),
  chunker: v.object({
    algorithm: v.literal('fastcdc'),
    minSize: boundedInt(CONFIG_LIMITS.chunkSize.min, CONFIG_LIMITS.chunkSize.max),
    avgSize: boundedInt(CONFIG_LIMITS.chunkSize.min, CONFIG_LIMITS.chunkSize.max),
    maxSize: boundedInt(CONFIG_LIMITS.chunkSize.min, CONFIG_LIMITS.chunkSize.max),
  }),
  compression: v.object({
    algorithm: v.literal('zstd'),
    level: boundedInt(CONFIG_LIMITS.compressionLevel.min, CONFIG_LIMITS.compressionLevel.max),
  }),
  packSize: boundedInt(CONFIG_LIMITS.packSize.min, CONFIG_LIMITS.packSize.max),
});

export type RepositoryConfig = v.InferOutput<typeof CONFIG_SCHEMA>;

export interface ConfigOptions {
  /** Target pack size in bytes (default 16 MiB). */
  packSize?: number;
  /** zstd level; 0 stores every blob uncompressed (default 3). */
  compressionLevel?: number;
  chunker?: { minSize: number; avgSize: number; maxSize: number };
}

export function newConfig(options: ConfigOptions = {}): RepositoryConfig {
  const config: RepositoryConfig = {
    version: FORMAT_VERSION,
    id: randomBytes(32).toString('hex'),
    created: new Date().toISOString(),
    blobId: 'blake3-keyed',
    chunker: { algorithm: 'fastcdc', ...(options.chunker ?? { minSize: 512 * 1024, avgSize: MiB, maxSize: 8 * MiB }) },
    compression: { algorithm: 'zstd', level: options.compressionLevel ?? 3 },
    packSize: options.packSize ?? 16 * MiB,
  };
  validateConfig(config, 'The new repository settings');
  return config;
}

export function sealConfig(master: MasterKey, config: RepositoryConfig): Buffer {
  return sealObject(master, 'config', Buffer.from(JSON.stringify(config), 'utf8'));
}

export function openConfig(master: MasterKey, stored: Buffer): RepositoryConfig {
  const config = parseJsonObject(openObject(master, 'config', stored, 'The repository config'), CONFIG_SCHEMA, 'The repository config');
  if (config.version !== FORMAT_VERSION) {
    throw new RepositoryError(
      'E_UNSUPPORTED_FORMAT',
      `This repository uses format version ${config.version}, but this Hindsight reads version ${FORMAT_VERSION}. Update Hindsight to open it.`,
    );
  }
  validateConfig(config, 'The repository config');
  return config;
}

function validateConfig(config: RepositoryConfig, what: string): void {
  const { minSize, avgSize, maxSize } = config.chunker;
  const inRange = (n: number, r: { min: number; max: number }) => Number.isInteger(n) && n >= r.min && n <= r.max;
  const problems: string[] = [];
  if (!(minSize <= avgSize && avgSize <= maxSize)) problems.push('chunk sizes must satisfy min ≤ average ≤ max');
  if (![minSize, avgSize, maxSize].every((n) => inRange(n, CONFIG_LIMITS.chunkSize))) problems.push('chunk sizes out of range');
  if (!inRange(config.compression.level, CONFIG_LIMITS.compressionLevel)) problems.push('compression level must be 0–19');
  if (!inRange(config.packSize, CONFIG_LIMITS.packSize)) problems.push('pack size must be 64 KiB–1 GiB');
  if (problems.length > 0) throw new RepositoryError('E_INVALID_ARGUMENT', `${what} are not valid: ${problems.join('; ')}.`);
}
