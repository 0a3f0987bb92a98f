import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { applyRetention, isEmptyPolicy, type RetentionPolicy } from '../../../src-main/engine/maintenance/retention.js';
import type { Snapshot } from '../../../src-main/engine/snapshot/snapshot.js';

function snapshot(time: string, options: { host?: string; tags?: string[]; paths?: string[] } = {}): Snapshot {
  return {
    id: createHash('sha256').update(time + (options.host ?? '')).digest('hex'),
    hindsight: 'snapshot', version: 1, time, host: options.host ?? 'laptop', username: 'ann',
    paths: options.paths ?? ['/home/ann'], tags: options.tags ?? [], type: 'incremental', tree: '0'.repeat(64),
    summary: { filesNew: 0, filesChanged: 0, filesUnchanged: 0, filesRead: 0, dirs: 0, otherEntries: 0, bytesRead: 0, totalFiles: 0, totalBytes: 0, bytesAdded: 0, dataBlobsAdded: 0, treeBlobsAdded: 0, warnings: 0, durationMs: 0 },
  };
}

/** A synthetic year: a snapshot every six hours through 2025; the first of each month is tagged "archive". */
function year2025(): Snapshot[] {
  const list: Snapshot[] = [];
  for (let t = Date.UTC(2025, 0, 1); t < Date.UTC(2026, 0, 1); t += 6 * 3_600_000) {
    const time = new Date(t);
    const tags = time.getUTCDate() === 1 && time.getUTCHours() === 0 ? ['archive'] : [];
    list.push(snapshot(time.toISOString(), { tags }));
  }
  return list;
}

function kept(policy: RetentionPolicy, snapshots = year2025()): string[] {
  return applyRetention(snapshots, policy).filter((d) => d.keep).map((d) => d.snapshot.time.slice(0, 13));
}

test('each rule on its own, over a year of snapshots (UTC)', () => {
  process.env.TZ = 'UTC';
  assert.equal(year2025().length, 1460);
  assert.deepEqual(kept({ last: 3 }), ['2025-12-31T18', '2025-12-31T12', '2025-12-31T06']);
  assert.deepEqual(kept({ hourly: 5 }), ['2025-12-31T18', '2025-12-31T12', '2025-12-31T06', '2025-12-31T00', '2025-12-30T18']);
  assert.deepEqual(kept({ daily: 7 }), ['31', '30', '29', '28', '27', '26', '25'].map((d) => `2025-12-${d}T18`));
  // ISO weeks: Wed 31 Dec 2025 is in 2026-W01 (29 Dec–4 Jan); earlier weeks end on Sundays 28, 21, 14 Dec.
  assert.deepEqual(kept({ weekly: 4 }), ['2025-12-31T18', '2025-12-28T18', '2025-12-21T18', '2025-12-14T18']);
  assert.deepEqual(kept({ monthly: 12 }), ['12-31', '11-30', '10-31', '09-30', '08-31', '07-31', '06-30', '05-31', '04-30', '03-31', '02-28', '01-31'].map((d) => `2025-${d}T18`));
  assert.deepEqual(kept({ yearly: 5 }), ['2025-12-31T18']);
  assert.deepEqual(kept({ withinMs: 2 * 86_400_000 }), ['2025-12-31T18', '2025-12-31T12', '2025-12-31T06', '2025-12-31T00', '2025-12-30T18', '2025-12-30T12', '2025-12-30T06', '2025-12-30T00', '2025-12-29T18']);
  assert.deepEqual(kept({ tags: ['archive'] }).length, 12);
  assert.equal(kept({ tags: ['nothing-has-this'] }).length, 0);
});

test('rules combine: kept by any, every reason listed', () => {
  process.env.TZ = 'UTC';
  const decisions = applyRetention(year2025(), { daily: 7, monthly: 3, tags: ['archive'] });
  const keptOnes = decisions.filter((d) => d.keep);
  // 7 daily; monthly adds Nov 30 and Oct 31; 12 tagged (1 Jan 00:00 … 1 Dec 00:00); Dec 31 is both daily and monthly.
  assert.equal(keptOnes.length, 7 + 2 + 12);
  assert.deepEqual(keptOnes[0]?.reasons, ['daily snapshot', 'monthly snapshot']);
  assert.deepEqual(decisions.find((d) => d.snapshot.time.startsWith('2025-06-01T00'))?.reasons, ['tag archive']);
  assert.equal(decisions.length, 1460, 'every snapshot gets a decision');
  assert.deepEqual(decisions.find((d) => d.snapshot.time.startsWith('2025-06-15T06'))?.reasons, []);
});

test('buckets follow local time', () => {
  const snapshots = [snapshot('2025-01-15T12:00:00.000Z'), snapshot('2025-02-28T12:00:00.000Z'), snapshot('2025-03-01T02:00:00.000Z')];
  process.env.TZ = 'UTC';
  assert.equal(kept({ monthly: 3 }, snapshots).length, 3);
  // In New York, 1 March 02:00 UTC is still 28 February: both late-February snapshots share a month.
  process.env.TZ = 'America/New_York';
  assert.deepEqual(kept({ monthly: 3 }, snapshots), ['2025-03-01T02', '2025-01-15T12']);
  process.env.TZ = 'UTC';
});

test('snapshots of different hosts or paths are kept separately', () => {
  process.env.TZ = 'UTC';
  const snapshots = [
    snapshot('2025-05-01T10:00:00.000Z', { host: 'laptop' }),
    snapshot('2025-05-02T10:00:00.000Z', { host: 'laptop' }),
    snapshot('2025-05-01T11:00:00.000Z', { host: 'desktop' }),
    snapshot('2025-05-03T11:00:00.000Z', { host: 'laptop', paths: ['/srv'] }),
  ];
  assert.deepEqual(kept({ last: 1 }, snapshots).sort(), ['2025-05-01T11', '2025-05-02T10', '2025-05-03T11']);
});

test('an empty policy is recognised, so nothing is removed by accident', () => {
  assert.equal(isEmptyPolicy({}), true);
  assert.equal(isEmptyPolicy({ daily: 0, tags: [] }), true);
  assert.equal(isEmptyPolicy({ daily: 1 }), false);
  assert.equal(isEmptyPolicy({ tags: ['x'] }), false);
});
