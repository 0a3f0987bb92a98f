import type { Snapshot } from '../snapshot/snapshot.js';

/** Which snapshots to keep; a snapshot kept by any rule is kept. Counts of 0/undefined disable a rule. */
export interface RetentionPolicy {
  readonly last?: number;
  readonly hourly?: number;
  readonly daily?: number;
  readonly weekly?: number;
  readonly monthly?: number;
  readonly yearly?: number;
  /** Keep every snapshot made within this many milliseconds before the newest one of its group. */
  readonly withinMs?: number;
  /** Keep every snapshot carrying any of these tags. */
  readonly tags?: readonly string[];
}

export interface RetentionDecision {
  readonly snapshot: Snapshot;
  readonly keep: boolean;
  /** Why it is kept ("daily snapshot", "tag monthly", …); empty when it is removed. */
  readonly reasons: readonly string[];
}

type Bucketer = (time: Date, index: number) => string;

/** Local-time buckets, as a person reads the calendar where the backups are made. */
const BUCKETS: readonly { key: keyof RetentionPolicy; reason: string; bucket: Bucketer }[] = [
  { key: 'last', reason: 'last snapshot', bucket: (_t, i) => String(i) },
  { key: 'hourly', reason: 'hourly snapshot', bucket: (t) => `${t.getFullYear()}-${t.getMonth()}-${t.getDate()}-${t.getHours()}` },
  { key: 'daily', reason: 'daily snapshot', bucket: (t) => `${t.getFullYear()}-${t.getMonth()}-${t.getDate()}` },
  { key: 'weekly', reason: 'weekly snapshot', bucket: isoWeek },
  { key: 'monthly', reason: 'monthly snapshot', bucket: (t) => `${t.getFullYear()}-${t.getMonth()}` },
  { key: 'yearly', reason: 'yearly snapshot', bucket: (t) => String(t.getFullYear()) },
];

export function isEmptyPolicy(policy: RetentionPolicy): boolean {
  return BUCKETS.every(({ key }) => !policy[key]) && !policy.withinMs && !(policy.tags && policy.tags.length > 0);
}

/**
 * Applies a retention policy the way restic does: snapshots are grouped by
 * host and paths; within a group, newest first, each counting rule keeps the
 * newest snapshot of every bucket (hour, day, ISO week, month, year) until
 * its count runs out. The result lists every snapshot, newest first.
 */
export function applyRetention(snapshots: readonly Snapshot[], policy: RetentionPolicy): RetentionDecision[] {
  const groups = new Map<string, Snapshot[]>();
  for (const snapshot of snapshots) {
    const key = `${snapshot.host}\0${[...snapshot.paths].sort().join('\0')}`;
    groups.set(key, [...(groups.get(key) ?? []), snapshot]);
  }
  const decisions: RetentionDecision[] = [];
  for (const group of groups.values()) {
    const newestFirst = [...group].sort((a, b) => b.time.localeCompare(a.time) || b.id.localeCompare(a.id));
    const newest = new Date((newestFirst[0] as Snapshot).time).getTime();
    const remaining = new Map(BUCKETS.map(({ key }) => [key, (policy[key] as number | undefined) ?? 0]));
    const lastBucket = new Map<string, string>();
    newestFirst.forEach((snapshot, index) => {
      const time = new Date(snapshot.time);
      const reasons: string[] = [];
      for (const tag of policy.tags ?? []) if (snapshot.tags.includes(tag)) reasons.push(`tag ${tag}`);
      if (policy.withinMs && newest - time.getTime() <= policy.withinMs) reasons.push('within the kept period');
      for (const { key, reason, bucket } of BUCKETS) {
        const left = remaining.get(key) as number;
        if (left <= 0) continue;
        const value = bucket(time, index);
        if (lastBucket.get(key) === value) continue;
        lastBucket.set(key, value);
        remaining.set(key, left - 1);
        reasons.push(reason);
      }
      decisions.push({ snapshot, keep: reasons.length > 0, reasons });
    });
  }
  return decisions.sort((a, b) => b.snapshot.time.localeCompare(a.snapshot.time) || b.snapshot.id.localeCompare(a.snapshot.id));
}

/** ISO 8601 week ("2026-W48") of a local date. */
function isoWeek(time: Date): string {
  const day = new Date(time.getFullYear(), time.getMonth(), time.getDate());
  const weekday = (day.getDay() + 6) % 7;
  day.setDate(day.getDate() - weekday + 3);
  const firstThursday = new Date(day.getFullYear(), 0, 4);
  const week = 1 + Math.round(((day.getTime() - firstThursday.getTime()) / 86_400_000 - 3 + ((firstThursday.getDay() + 6) % 7)) / 7);
  return `${day.getFullYear()}-W${week}`;
}
