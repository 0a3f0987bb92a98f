import { useCallback, useState } from 'react';
import { DEFAULT_EXCLUDES } from '../../../src-shared/defaultExcludes.js';
import type { PlanInput, Retention, Schedule, TargetSettings } from '../../../src-shared/plan.js';
import { FolderChooser, isRemote } from './FolderChooser.js';
import { LocationFields } from './LocationFields.js';

export interface PlanDraft {
  name: string;
  sources: string[];
  excludes: string;
  schedule: Schedule;
  retention: Retention;
  pruneEveryDays: number | undefined;
  enabled: boolean;
}

/** Like Time Machine: the latest ones, then hourly for a day, daily for a month, weekly and monthly beyond. */
export const DEFAULT_RETENTION: Retention = { last: 24, hourly: 24, daily: 30, weekly: 12, monthly: 24 };

export function newPlanDraft(): PlanDraft {
  return { name: 'My files', sources: [], excludes: DEFAULT_EXCLUDES.join('\n'), schedule: { kind: 'interval', everyMinutes: 60 }, retention: DEFAULT_RETENTION, pruneEveryDays: 7, enabled: true };
}

/** The plan as the agent takes it: blank lines dropped from the excludes, empty retention fields left out. */
export function planInput(draft: PlanDraft, targets: string[]): PlanInput {
  const retention = Object.fromEntries(Object.entries(draft.retention).filter(([, v]) => v !== undefined && !Number.isNaN(v)));
  return {
    name: draft.name.trim(),
    sources: draft.sources,
    excludes: draft.excludes
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean),
    targets,
    schedule: draft.schedule,
    ...(Object.keys(retention).length > 0 ? { retention } : {}),
    ...(draft.pruneEveryDays ? { pruneEveryDays: draft.pruneEveryDays } : {}),
    enabled: draft.enabled,
  };
}

/**
 * Where a plan's backups go: every target holds a complete copy. A target added here (with the same
 * fields as setup's, and its settings) is seeded with a copy of the others before it joins; the last one
 * cannot be removed.
 */
export function TargetsField({ targets, settings, onChange }: { targets: string[]; settings: Record<string, TargetSettings>; onChange: (targets: string[], settings: Record<string, TargetSettings>) => void }) {
  const [adding, setAdding] = useState<{ location: string; settings?: TargetSettings }>({ location: '' });
  const onLocation = useCallback((location: string, given?: TargetSettings) => setAdding({ location, ...(given ? { settings: given } : {}) }), []);
  const add = () => {
    const location = adding.location.trim();
    if (!location || targets.includes(location)) return;
    onChange([...targets, location], adding.settings ? { ...settings, [location]: adding.settings } : settings);
  };
  const remove = (target: string) => {
    const { [target]: _, ...rest } = settings;
    onChange(targets.filter((t) => t !== target), rest);
  };
  return (
    <fieldset className="field">
      <legend>Where backups go</legend>
      <ul className="chip-list" aria-label="Targets">
        {targets.map((target) => (
          <li key={target} className="chip">
            <span className="mono">{shownLocation(target)}</span>
            <button type="button" aria-label={`Remove target ${shownLocation(target)}`} disabled={targets.length === 1} onClick={() => remove(target)}>
              ×
            </button>
          </li>
        ))}
      </ul>
      <LocationFields onChange={onLocation} />
      <div className="row">
        <button type="button" className="button" disabled={!adding.location.trim() || targets.includes(adding.location.trim())} onClick={add}>
          Add target
        </button>
      </div>
      <p className="hint">A new target first gets a complete copy of the backups, then every backup writes to all of them.</p>
    </fieldset>
  );
}

/** A location as shown: a rest: URL without the user name and password a person may have typed into it. */
export function shownLocation(location: string): string {
  return location.replace(/^(rest:https?:\/\/)[^@/]*@/i, '$1');
}

export function SourcesField({ draft, onChange }: { draft: PlanDraft; onChange: (d: PlanDraft) => void }) {
  const [adding, setAdding] = useState('');
  const add = () => {
    const path = adding.trim().replace(/(.)\/+$/, '$1');
    if (path && !draft.sources.includes(path)) onChange({ ...draft, sources: [...draft.sources, path] });
    setAdding('');
  };
  return (
    <fieldset className="field">
      <legend>Folders to back up</legend>
      {draft.sources.length === 0 ? (
        <p className="hint">No folder yet: add at least one.</p>
      ) : (
        <ul className="chip-list" aria-label="Folders to back up">
          {draft.sources.map((source) => (
            <li key={source} className="chip">
              <span className="icon icon-folder" aria-hidden="true" />
              {source}
              <button type="button" aria-label={`Remove ${source}`} onClick={() => onChange({ ...draft, sources: draft.sources.filter((s) => s !== source) })}>
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
      <div className="row">
        <FolderChooser id="add-source" label="Folder to back up" value={adding} onChange={setAdding} placeholder="/home/you/Documents or sftp://user@host/var/www" />
        <button type="button" className="button" onClick={add} disabled={!adding.trim().startsWith('/') && !isRemote(adding)}>
          Add folder
        </button>
      </div>
      <p className="hint">
        A folder on another machine is written sftp://user@host/path: the agent reads it over SSH with its own keys, and the machine must be in its known_hosts (connect
        once with ssh).
      </p>
    </fieldset>
  );
}

export function ExcludesField({ draft, onChange }: { draft: PlanDraft; onChange: (d: PlanDraft) => void }) {
  return (
    <div className="field">
      <label htmlFor="excludes">Leave out (one pattern per line, as in .gitignore)</label>
      <textarea id="excludes" rows={6} value={draft.excludes} onChange={(e) => onChange({ ...draft, excludes: e.target.value })} spellCheck={false} />
      <button type="button" className="link-button" onClick={() => onChange({ ...draft, excludes: DEFAULT_EXCLUDES.join('\n') })}>
        Reset to the defaults (caches, trash, build output)
      </button>
    </div>
  );
}

type Preset = 'hourly' | 'daily' | 'interval' | 'continuous' | 'manual' | 'cron';

function presetOf(schedule: Schedule): Preset {
  if (schedule.kind === 'interval') return schedule.everyMinutes === 60 ? 'hourly' : 'interval';
  if (schedule.kind === 'cron') return /^\d{1,2} \d{1,2} \* \* \*$/.test(schedule.expression) ? 'daily' : 'cron';
  return schedule.kind;
}

export function ScheduleField({ draft, onChange }: { draft: PlanDraft; onChange: (d: PlanDraft) => void }) {
  const { schedule } = draft;
  const preset = presetOf(schedule);
  const set = (s: Schedule) => onChange({ ...draft, schedule: s });
  const dailyTime = schedule.kind === 'cron' && preset === 'daily' ? schedule.expression.split(' ').slice(0, 2).reverse().map((n) => n.padStart(2, '0')).join(':') : '12:00';
  return (
    <fieldset className="field">
      <legend>When to back up</legend>
      <select
        aria-label="Schedule"
        value={preset}
        onChange={(e) => {
          const next = e.target.value as Preset;
          if (next === 'hourly') set({ kind: 'interval', everyMinutes: 60 });
          if (next === 'interval') set({ kind: 'interval', everyMinutes: 30 });
          if (next === 'daily') set({ kind: 'cron', expression: '0 12 * * *' });
          if (next === 'cron') set({ kind: 'cron', expression: '0 */4 * * *' });
          if (next === 'continuous') set({ kind: 'continuous', debounceSeconds: 60, maxWaitSeconds: 600 });
          if (next === 'manual') set({ kind: 'manual' });
        }}
      >
        <option value="hourly">Every hour</option>
        <option value="daily">Every day at a set time</option>
        <option value="interval">Every few minutes</option>
        <option value="continuous">Continuously, as files change</option>
        <option value="cron">Custom (cron expression)</option>
        <option value="manual">Only when I ask</option>
      </select>
      {preset === 'daily' && schedule.kind === 'cron' && (
        <input
          type="time"
          aria-label="Time of day"
          value={dailyTime}
          onChange={(e) => {
            const [h = '12', m = '0'] = e.target.value.split(':');
            set({ kind: 'cron', expression: `${Number(m)} ${Number(h)} * * *` });
          }}
        />
      )}
      {preset === 'interval' && schedule.kind === 'interval' && (
        <label className="inline">
          Every <input type="number" min={1} value={schedule.everyMinutes} onChange={(e) => set({ kind: 'interval', everyMinutes: Math.max(1, Number(e.target.value) || 1) })} /> minutes
        </label>
      )}
      {preset === 'cron' && schedule.kind === 'cron' && <input type="text" aria-label="Cron expression" value={schedule.expression} onChange={(e) => set({ kind: 'cron', expression: e.target.value })} spellCheck={false} />}
      {schedule.kind === 'continuous' && <p className="hint">A backup starts a minute after files stop changing, and at the latest ten minutes after the first change.</p>}
    </fieldset>
  );
}

const KEEP: readonly [keyof Retention, string][] = [
  ['last', 'Latest'],
  ['hourly', 'Hourly'],
  ['daily', 'Daily'],
  ['weekly', 'Weekly'],
  ['monthly', 'Monthly'],
  ['yearly', 'Yearly'],
];

export function RetentionField({ draft, onChange }: { draft: PlanDraft; onChange: (d: PlanDraft) => void }) {
  return (
    <fieldset className="field">
      <legend>How many snapshots to keep</legend>
      <div className="retention-grid">
        {KEEP.map(([key, label]) => (
          <label key={key} className="retention-cell">
            <span>{label}</span>
            <input
              type="number"
              min={0}
              placeholder="—"
              value={draft.retention[key] ?? ''}
              onChange={(e) => onChange({ ...draft, retention: { ...draft.retention, [key]: e.target.value === '' ? undefined : Math.max(0, Math.floor(Number(e.target.value))) } })}
            />
          </label>
        ))}
      </div>
      <p className="hint">Older snapshots are forgotten after each backup; their space is freed by a prune every {draft.pruneEveryDays ?? 7} days. Leave every field empty to keep everything.</p>
    </fieldset>
  );
}
