import * as v from 'valibot';
import { hex32, parseJsonObject, timestamp } from '../repository/jsonObject.js';
import type { Repository } from '../repository/repository.js';
import { RepositoryError } from '../repository/repositoryError.js';
import { mapConcurrent } from '../concurrency.js';

export type BackupType = 'full' | 'incremental' | 'differential';

const count = v.pipe(v.number(), v.integer(), v.minValue(0));

const SUMMARY_SCHEMA = v.object({
  filesNew: count,
  filesChanged: count,
  filesUnchanged: count,
  filesRead: count,
  dirs: count,
  otherEntries: count,
  bytesRead: count,
  totalFiles: count,
  totalBytes: count,
  bytesAdded: count,
  dataBlobsAdded: count,
  treeBlobsAdded: count,
  warnings: count,
  durationMs: count,
});

export type BackupSummary = v.InferOutput<typeof SUMMARY_SCHEMA>;

const SNAPSHOT_SCHEMA = v.object({
  hindsight: v.literal('snapshot'),
  version: v.literal(1),
  time: timestamp,
  host: v.string(),
  username: v.string(),
  paths: v.array(v.string()),
  tags: v.array(v.string()),
  type: v.picklist(['full', 'incremental', 'differential']),
  parent: v.optional(hex32),
  tree: hex32,
  summary: SUMMARY_SCHEMA,
  /**
   * Its trees record extended attributes (absent in snapshots saved before they were kept, or with
   * --no-xattrs): only then may the next backup take an unchanged entry's attributes from it.
   */
  xattrs: v.optional(v.literal(true)),
  /** Its trees record file flags (chattr, chflags): only then may the next backup take an unchanged entry's flags from it. */
  flags: v.optional(v.literal(true)),
});

export type SnapshotRecord = v.InferOutput<typeof SNAPSHOT_SCHEMA>;

export interface Snapshot extends SnapshotRecord {
  readonly id: string;
}

/** Writes the snapshot record; the last step of a backup, after every blob and index it refers to. */
export async function saveSnapshot(repository: Repository, record: SnapshotRecord): Promise<Snapshot> {
  const id = await repository.saveObject('snapshots', Buffer.from(JSON.stringify(record), 'utf8'));
  return { ...record, id };
}

export async function loadSnapshot(repository: Repository, id: string): Promise<Snapshot> {
  return { ...parseSnapshotRecord(await repository.loadObject('snapshots', id), id), id };
}

/** Checks a decrypted snapshot record's shape; anything else is reported as damage. */
export function parseSnapshotRecord(plaintext: Uint8Array, id: string): SnapshotRecord {
  return parseJsonObject(plaintext, SNAPSHOT_SCHEMA, `Snapshot snapshots/${id}`);
}

export async function listSnapshotIds(repository: Repository): Promise<string[]> {
  const ids: string[] = [];
  for await (const { name } of repository.backend.list('snapshots')) ids.push(name);
  return ids.sort();
}

/** Every snapshot, oldest first. */
export async function listSnapshots(repository: Repository): Promise<Snapshot[]> {
  const ids = await listSnapshotIds(repository);
  const snapshots = await mapConcurrent(ids, 8, (id) => loadSnapshot(repository, id));
  return snapshots.sort((a, b) => a.time.localeCompare(b.time) || a.id.localeCompare(b.id));
}

/** Resolves every reference (see resolveSnapshot) before anything is done with them; each snapshot once, in the order first named. */
export async function resolveSnapshots(repository: Repository, references: readonly string[]): Promise<Snapshot[]> {
  const chosen = new Map<string, Snapshot>();
  for (const reference of references) {
    const snapshot = await resolveSnapshot(repository, reference);
    chosen.set(snapshot.id, snapshot);
  }
  return [...chosen.values()];
}

/** Finds a snapshot by full id, unique id prefix, or "latest". */
export async function resolveSnapshot(repository: Repository, reference: string): Promise<Snapshot> {
  if (reference === 'latest') {
    const all = await listSnapshots(repository);
    const latest = all[all.length - 1];
    if (!latest) throw new RepositoryError('E_SNAPSHOT_NOT_FOUND', 'The repository has no snapshots yet.');
    return latest;
  }
  const prefix = reference.toLowerCase();
  if (!/^[0-9a-f]{1,64}$/.test(prefix)) {
    throw new RepositoryError('E_SNAPSHOT_NOT_FOUND', `"${reference}" is not a snapshot id; use an id (or its first characters) from "hindsight snapshots", or "latest".`);
  }
  const matches: string[] = [];
  for await (const { name } of repository.backend.list('snapshots')) if (name.startsWith(prefix)) matches.push(name);
  if (matches.length === 1) return loadSnapshot(repository, matches[0] as string);
  throw new RepositoryError(
    'E_SNAPSHOT_NOT_FOUND',
    matches.length === 0 ? `No snapshot matches "${reference}".` : `"${reference}" matches ${matches.length} snapshots; give more of the id.`,
  );
}
