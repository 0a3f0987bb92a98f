import { createHash } from 'node:crypto';
import type { Progress } from '../../../src-shared/progress.js';
import { stopIfAborted } from '../interruption.js';
import { ProgressMeter } from '../progressMeter.js';
import { EventLoopTurns } from '../eventLoopTurns.js';
import { DEFAULT_REPACK_BELOW } from './prune.js';
import type { MemoryIndex } from '../repository/memoryIndex.js';
import type { Repository } from '../repository/repository.js';
import { CHECK_ADVICE, damaged } from '../repository/repositoryError.js';
import { ByteBudget } from '../concurrency.js';
import { readRangeInto } from '../backend/backend.js';
import { PackVerifierPool } from './packVerifierPool.js';
import { listSnapshotIds, loadSnapshot, type Snapshot } from '../snapshot/snapshot.js';
import { dataBlobsOf, displayName } from '../snapshot/tree.js';
import { TreeLoader } from '../snapshot/treeLoader.js';

/** Which packs `--read-data` reads: all, a percentage, or slice K of M (both chosen by pack id, so repeated runs cover the same ground). */
export type ReadDataSubset = { readonly kind: 'all' } | { readonly kind: 'percent'; readonly percent: number } | { readonly kind: 'slice'; readonly slice: number; readonly of: number };

export interface CheckOptions {
  /** Decrypt and hash every blob of the selected packs. */
  readonly readData?: ReadDataSubset;
  readonly onProgress?: (progress: Progress) => void;
  /** Stops the check between two folders or two packs; it changes nothing, so any point is safe. Rejects with OperationInterrupted. */
  readonly signal?: AbortSignal;
}

const INTERRUPTED = 'The check was stopped before it finished; nothing was changed. Run it again to check everything.';

export type ProblemKind =
  | 'snapshot-unreadable'
  | 'tree-unreadable'
  | 'blob-not-indexed'
  | 'pack-missing'
  | 'pack-size'
  | 'blob-beyond-pack'
  | 'pack-header'
  | 'blob-damaged';

export interface CheckProblem {
  readonly kind: ProblemKind;
  readonly message: string;
  /** For damaged or missing data: the files that use it, as "snapshot-id:/path". */
  readonly affects?: readonly string[];
}

export interface CheckResult {
  readonly errors: readonly CheckProblem[];
  readonly snapshots: number;
  readonly trees: number;
  readonly packs: number;
  readonly packsRead: number;
  readonly blobsRead: number;
  /** Packs on storage that no index names: left by interrupted backups; prune removes them. */
  readonly unreferencedPacks: readonly string[];
  /** Indexed blobs no snapshot uses. */
  readonly unusedBlobs: number;
  /**
   * Those of them prune would remove at its default threshold: the ones in packs it deletes or rewrites.
   * The rest sit in packs mostly in use, which prune keeps whole.
   */
  readonly reclaimableBlobs: number;
}

const MAX_AFFECTED = 20;
const NO_ENTRIES = new Uint32Array(0);

/**
 * Verifies a repository without changing it: every snapshot loads, every
 * tree decrypts and parses, every blob a snapshot uses is in the index, every
 * indexed pack exists with the recorded size and holds its blobs within it;
 * with `readData`, every blob of the selected packs is decrypted and its id
 * recomputed. Damaged or missing data is traced back to the files using it.
 */
export async function checkRepository(repository: Repository, options: CheckOptions = {}): Promise<CheckResult> {
  const meter = new ProgressMeter('check', options.onProgress);
  const errors: CheckProblem[] = [];
  // Indexed blobs that a snapshot uses, by entry number (a set of hex ids cost a string per blob).
  const used = new Uint8Array(repository.index.size);
  const badBlobs = new Map<string, CheckProblem['kind']>();
  /** Why a blob failed --read-data, by blob id. */
  const damage = new Map<string, string>();

  meter.counts.phase = 'reading snapshots';
  const snapshots: Snapshot[] = [];
  for (const id of await listSnapshotIds(repository)) {
    try {
      snapshots.push(await loadSnapshot(repository, id));
    } catch (err) {
      errors.push({ kind: 'snapshot-unreadable', message: `snapshot ${id.slice(0, 8)}: ${problemText(err)}` });
    }
  }

  // A backup running alongside may have saved snapshots since the caller read the index; their index
  // files come before them, so reading the index after listing the snapshots covers them all.
  await repository.reloadIndex();

  // The packs first: with --read-data they are read and checked by the verifier threads while this
  // thread walks the trees, instead of after it. Checking the linux tree's repository (5,100 folders,
  // 17 packs), the walk kept the main thread busy for the first 1.8 s of a 4.3 s check with the
  // verifiers idle. On 2 cores the check is as long either way (both cores are busy for the rest, 7 CPU-s
  // in all: opening 83,330 blobs one by one is most of it); with more cores the walk is hidden.
  const packErrors: CheckProblem[] = [];
  const stored = new Map<string, number>();
  for await (const { name, size } of repository.backend.list('data')) stored.set(name, size);
  // Each pack's blobs as index entry numbers; their locations are made only for the pack at hand. All at
  // once, 83,330 location objects with a copy of each id (linux tree): with this and their ids sent side by side in one buffer, the peak
  // RSS of check --read-data went from 225-240 to 204-219 MB (4 alternating rounds).
  const { index } = repository;
  const byPack = index.entriesByPack();
  for (const { name, size } of index.packs()) {
    const actual = stored.get(name);
    const entries = byPack.get(name) ?? NO_ENTRIES;
    if (actual === undefined) {
      packErrors.push({ kind: 'pack-missing', message: `pack ${name.slice(0, 16)} is in the index but missing from storage (${entries.length} blobs)` });
      for (const entry of entries) badBlobs.set(index.location(entry).id.toString('hex'), 'pack-missing');
      continue;
    }
    if (actual !== size) packErrors.push({ kind: 'pack-size', message: `pack ${name.slice(0, 16)} has ${actual} bytes, the index says ${size} (truncated or replaced)` });
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i] as number;
      if (index.offsetOf(entry) + index.lengthOf(entry) <= actual) continue;
      const blob = index.location(entry);
      packErrors.push({ kind: 'blob-beyond-pack', message: `blob ${blob.id.toString('hex').slice(0, 16)} is indexed at bytes ${blob.offset}–${blob.offset + blob.length} of pack ${name.slice(0, 16)}, which has only ${actual}` });
      badBlobs.set(blob.id.toString('hex'), 'blob-beyond-pack');
    }
  }
  const unreferencedPacks = [...stored.keys()].filter((name) => !repository.index.hasPack(name)).sort();

  const dataErrors: CheckProblem[] = [];
  let reading: Promise<{ packsRead: number; blobsRead: number }> | undefined;
  if (options.readData) {
    const selected = [...byPack.keys()].filter((name) => stored.has(name) && inSubset(name, options.readData as ReadDataSubset)).sort();
    // Progress counts packs read; the walk of the trees alongside counts nothing.
    meter.counts.phase = 'reading data';
    meter.counts.filesTotal = selected.length;
    reading = readData(repository, selected, byPack, badBlobs, damage, dataErrors, meter, options.signal);
    // Awaited below, after the walk; marked handled now so a walk that fails first leaves no unhandled rejection.
    reading.catch(() => undefined);
  } else meter.counts.phase = 'checking trees';

  const treesSeen = new Set<string>();
  try {
    await walkTrees(repository, snapshots, treesSeen, used, badBlobs, errors, reading ? undefined : meter, options.signal);
  } finally {
    // A walk stopped part-way lets the reading stop too (it watches the same signal) before the error goes up.
    if (reading) await reading.catch(() => undefined);
  }

  let unusedBlobs = 0;
  let reclaimableBlobs = 0;
  for (const entries of byPack.values()) {
    let [total, live, unused] = [0, 0, 0];
    for (const entry of entries) {
      const length = index.lengthOf(entry);
      total += length;
      if (used[entry] === 1) live += length;
      else unused += 1;
    }
    unusedBlobs += unused;
    if (live < DEFAULT_REPACK_BELOW * total) reclaimableBlobs += unused;
  }
  errors.push(...packErrors);

  let packsRead = 0;
  let blobsRead = 0;
  if (reading) {
    const read = await reading;
    errors.push(...dataErrors);
    packsRead = read.packsRead;
    blobsRead = read.blobsRead;
  }

  if (badBlobs.size > 0) {
    const affected = await filesUsing(repository, snapshots, new Set(badBlobs.keys()));
    for (const [blob, kind] of badBlobs) {
      const files = affected.get(blob) ?? [];
      // A missing pack or a short pack was reported above; here only what it means for the files.
      if (files.length === 0 && (kind === 'pack-missing' || kind === 'blob-beyond-pack')) continue;
      const shown = files.slice(0, MAX_AFFECTED);
      const more = files.length > shown.length ? ` and ${files.length - shown.length} more` : '';
      const use = files.length === 0 ? 'no snapshot uses it' : `used by ${files.length} file${files.length === 1 ? '' : 's'}: ${shown.join(', ')}${more}`;
      const what =
        kind === 'blob-damaged'
          ? (damage.get(blob) as string)
          : `Data blob ${blob.slice(0, 16)} ${kind === 'blob-not-indexed' ? 'is not in the index' : kind === 'pack-missing' ? 'is in a missing pack' : 'lies beyond the end of its pack'}`;
      errors.push({ kind, message: `${what.replace(/\.$/, '')}; ${use}`, affects: files });
    }
  }

  meter.counts.phase = 'done';
  meter.tick(true);
  return { errors, snapshots: snapshots.length, trees: treesSeen.size, packs: repository.index.packCount, packsRead, blobsRead, unreferencedPacks, unusedBlobs, reclaimableBlobs };
}

/**
 * Walks every snapshot's trees once each: each tree must be indexed and decrypt and parse, and each data
 * blob a file uses must be indexed (`badBlobs` otherwise). Every tree and blob met goes into `used`.
 */
async function walkTrees(
  repository: Repository,
  snapshots: readonly Snapshot[],
  treesSeen: Set<string>,
  used: Uint8Array,
  badBlobs: Map<string, ProblemKind>,
  errors: CheckProblem[],
  meter: ProgressMeter | undefined,
  signal: AbortSignal | undefined,
): Promise<void> {
  const trees = new TreeLoader(repository);
  const turns = new EventLoopTurns();
  for (const snapshot of snapshots) {
    const pending: { id: Buffer; path: string }[] = [{ id: Buffer.from(snapshot.tree, 'hex'), path: '' }];
    while (pending.length > 0) {
      stopIfAborted(signal, INTERRUPTED);
      // The verifier threads' answers and their next pieces wait for the event loop (see EventLoopTurns).
      await turns.take();
      const { id, path } = pending.pop() as { id: Buffer; path: string };
      const key = id.toString('hex');
      if (treesSeen.has(key)) continue;
      treesSeen.add(key);
      const entry = repository.index.entryOf(id);
      if (entry < 0) {
        errors.push({ kind: 'blob-not-indexed', message: `folder ${path || '/'} of snapshot ${snapshot.id.slice(0, 8)}: its tree ${key.slice(0, 16)} is not in the index` });
        continue;
      }
      used[entry] = 1;
      let nodes;
      try {
        nodes = await trees.load(id);
      } catch (err) {
        errors.push({ kind: 'tree-unreadable', message: `folder ${path || '/'} of snapshot ${snapshot.id.slice(0, 8)}: ${problemText(err)}` });
        continue;
      }
      if (meter) {
        meter.counts.filesDone += nodes.length;
        meter.tick();
      }
      for (const node of nodes) {
        // The path is for messages only; folders are a fifteenth of the entries.
        if (node.subtree) pending.push({ id: node.subtree, path: `${path}/${displayName(node.name)}` });
        for (const blob of dataBlobsOf(node)) {
          const blobEntry = repository.index.entryOf(blob);
          if (blobEntry >= 0) {
            used[blobEntry] = 1;
            continue;
          }
          const key = blob.toString('hex');
          if (!badBlobs.has(key)) badBlobs.set(key, 'blob-not-indexed');
        }
      }
    }
  }
}

/** Ranges of a pack read and checked at once: a verifier thread's share of work, and what memory holds per range. */
const PIECE = 4 * 1024 * 1024;

/**
 * Reads the selected packs a piece at a time and has the verifier threads open and check every blob that
 * is not already known bad; the pack's own header is checked against the index on the main thread.
 * Damaged blobs go into `badBlobs` and `damage`; header problems into `errors`.
 */
async function readData(
  repository: Repository,
  selected: readonly string[],
  byPack: ReadonlyMap<string, Uint32Array>,
  badBlobs: Map<string, ProblemKind>,
  damage: Map<string, string>,
  errors: CheckProblem[],
  meter: ProgressMeter,
  signal: AbortSignal | undefined,
): Promise<{ packsRead: number; blobsRead: number }> {
  let packsRead = 0;
  let blobsRead = 0;
  const verifiers = new PackVerifierPool(repository.blobIdKey);
  // Pieces being checked by the verifier threads, and one more being read meanwhile.
  const slots = new ByteBudget(verifiers.size);
  const checking = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  const { index } = repository;
  const idOf = (entry: number) => index.location(entry).id.toString('hex');
  const blobDamaged = (entry: number, reason: string) => {
    const id = idOf(entry);
    badBlobs.set(id, 'blob-damaged');
    damage.set(id, reason);
  };
  try {
    for (const name of selected) {
      stopIfAborted(signal, INTERRUPTED);
      const entries = byPack.get(name) ?? NO_ENTRIES;
      try {
        // Matched by offset: a blob's place in a pack is its own. (A set of "id@offset+length" strings cost
        // two hex ids and two joins per blob.)
        const listed = new Map((await repository.readPackHeader(name)).map((b) => [b.offset, b]));
        for (let i = 0; i < entries.length; i++) {
          const entry = entries[i] as number;
          const there = listed.get(index.offsetOf(entry));
          if (there === undefined || there.length !== index.lengthOf(entry) || !index.idEquals(entry, there.id)) {
            errors.push({ kind: 'pack-header', message: `pack ${name.slice(0, 16)}: its header does not list blob ${idOf(entry).slice(0, 16)} where the index puts it` });
          }
        }
      } catch (err) {
        errors.push({ kind: 'pack-header', message: `pack ${name.slice(0, 16)}: ${problemText(err)}` });
      }
      const pieces = piecesOf(index, badBlobs.size === 0 ? entries : entries.filter((entry) => !badBlobs.has(idOf(entry))));
      let piecesLeft = pieces.length;
      const pieceDone = (bytes: number) => {
        meter.counts.bytesDone += bytes;
        if (--piecesLeft > 0) return;
        packsRead += 1;
        meter.counts.filesDone += 1;
        meter.tick();
      };
      if (pieces.length === 0) pieceDone(0);
      for (const piece of pieces) {
        await slots.acquire(1);
        if (failure) break;
        const range = { offset: piece.start, length: piece.end - piece.start };
        const running: Promise<void> = verifiers
          .verify(range.length, (into) => readRangeInto(repository.backend, { type: 'data', name }, range, into), repository.packKey(name), index, piece.entries, piece.start)
          .then((answer) => {
            if ('unreadable' in answer) {
              for (const entry of piece.entries) blobDamaged(entry, `the pack could not be read: ${problemText(answer.unreadable)}`);
              pieceDone(0);
              return;
            }
            blobsRead += piece.entries.length - answer.problems.length;
            for (const { index: at, problem } of answer.problems) {
              const entry = piece.entries[at] as number;
              blobDamaged(entry, problemText(damaged(`Blob ${idOf(entry).slice(0, 16)} in pack data/${name}`, problem)));
            }
            pieceDone(range.length);
          })
          .catch((error: unknown) => {
            failure ??= { error };
          })
          .finally(() => {
            checking.delete(running);
            slots.release(1);
          });
        checking.add(running);
      }
      if (failure) break;
    }
  } finally {
    await Promise.all(checking);
    await verifiers.close();
  }
  // A verifier thread that failed (a damaged blob is an answer, not a failure) fails the check.
  if (failure) throw failure.error;
  return { packsRead, blobsRead };
}

/**
 * A pack's blobs (index entries) in offset order, in pieces of at most PIECE bytes (a larger blob alone).
 * Entries, their fields read from the index where needed: a location object per blob, with a copy of its
 * id, was the largest part of what check --read-data allocated on its main thread.
 */
function piecesOf(index: MemoryIndex, entries: Uint32Array): { start: number; end: number; entries: number[] }[] {
  const pieces: { start: number; end: number; entries: number[] }[] = [];
  const sorted = Uint32Array.from(entries).sort((a, b) => index.offsetOf(a) - index.offsetOf(b));
  for (let i = 0; i < sorted.length; i++) {
    const entry = sorted[i] as number;
    const offset = index.offsetOf(entry);
    const end = offset + index.lengthOf(entry);
    const last = pieces.at(-1);
    if (last && end - last.start <= PIECE) {
      last.entries.push(entry);
      last.end = Math.max(last.end, end);
    } else pieces.push({ start: offset, end, entries: [entry] });
  }
  return pieces;
}

function inSubset(pack: string, subset: ReadDataSubset): boolean {
  if (subset.kind === 'all') return true;
  // Pack ids are random, but hashing them again keeps the choice independent of how ids were made.
  const value = createHash('sha256').update(pack).digest().readUInt32BE(0);
  if (subset.kind === 'percent') return value % 10_000 < Math.round(subset.percent * 100);
  return value % subset.of === subset.slice - 1;
}

/** Which files (as "snapshot:/path") use any of `blobs`; a second walk, done only when something is wrong. */
async function filesUsing(repository: Repository, snapshots: readonly Snapshot[], blobs: ReadonlySet<string>): Promise<Map<string, string[]>> {
  const found = new Map<string, string[]>();
  const trees = new TreeLoader(repository);
  for (const snapshot of snapshots) {
    const pending: { id: Buffer; path: string }[] = [{ id: Buffer.from(snapshot.tree, 'hex'), path: '' }];
    while (pending.length > 0) {
      const { id, path } = pending.pop() as { id: Buffer; path: string };
      let nodes;
      try {
        nodes = await trees.load(id);
      } catch {
        continue;
      }
      for (const node of nodes) {
        const childPath = `${path}/${displayName(node.name)}`;
        if (node.subtree) pending.push({ id: node.subtree, path: childPath });
        for (const blob of dataBlobsOf(node)) {
          const key = blob.toString('hex');
          if (!blobs.has(key)) continue;
          const list = found.get(key) ?? [];
          list.push(`${snapshot.id.slice(0, 8)}:${childPath}`);
          found.set(key, list);
        }
      }
    }
  }
  return found;
}

/** An error's message in check's report, without the advice to run check. */
function problemText(err: unknown): string {
  return (err as Error).message.replace(CHECK_ADVICE, '');
}
