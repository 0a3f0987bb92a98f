import { useState } from 'react';
import type { JobRecord } from '../../../src-shared/api.js';
import type { SnapshotItem } from '../../../src-shared/client.js';
import { formatBytes, formatDateTime, parentPath } from '../format.js';
import { useApp } from '../store/appContext.js';
import { FolderChooser } from './FolderChooser.js';
import { Modal } from './Modal.js';
import { CancelJobButton } from './CancelJobButton.js';
import { ProgressPanel } from './ProgressPanel.js';
import { ErrorMessage } from './States.js';

type Overwrite = 'if-changed' | 'always' | 'never';

/**
 * Restores files and folders of one snapshot: to where they were, or into
 * another folder; then shows the result. Items from different folders restored
 * "to where they were" become one job per folder.
 */
export function RestoreDialog({ items, snapshotTime, onClose }: { items: readonly SnapshotItem[]; snapshotTime?: string; onClose: () => void }) {
  const client = useApp((s) => s.connection.client);
  const jobs = useApp((s) => s.jobs);
  const progress = useApp((s) => s.progress);
  const [destination, setDestination] = useState<'original' | 'other'>('other');
  const [folder, setFolder] = useState('');
  const [overwrite, setOverwrite] = useState<Overwrite>('never');
  const [started, setStarted] = useState<string[]>([]);
  const [error, setError] = useState<string>();

  const start = async () => {
    setError(undefined);
    const groups = new Map<string, string[]>();
    for (const item of items) {
      const target = destination === 'original' ? parentPath(item.path) : folder.trim();
      groups.set(target, [...(groups.get(target) ?? []), item.path]);
    }
    try {
      const ids: string[] = [];
      for (const [target, paths] of groups) {
        const job = await client.call('jobs.restore', { repository: items[0]!.repository, snapshot: items[0]!.snapshot, paths, target, overwrite });
        ids.push(job.id);
      }
      setStarted(ids);
    } catch (err) {
      setError((err as Error).message);
    }
  };

  const records = started.map((id) => jobs.find((j) => j.id === id)).filter((j): j is JobRecord => j !== undefined);
  const finished = started.length > 0 && records.length === started.length && records.every((j) => j.endedAt !== undefined);
  const failed = records.filter((j) => j.result === 'failed');
  const names = items.map((i) => i.path.split('/').pop() || '/');

  return (
    <Modal
      title={started.length === 0 ? `Restore ${items.length === 1 ? `"${names[0]}"` : `${items.length} items`}` : !finished ? 'Restoring…' : records.some((j) => j.result === 'cancelled') ? 'Restore cancelled' : 'Restore finished'}
      onClose={onClose}
      footer={
        started.length === 0 ? (
          <>
            <button type="button" className="button" onClick={onClose}>
              Cancel
            </button>
            <button type="button" className="button primary" disabled={destination === 'other' && !folder.trim().startsWith('/')} onClick={() => void start()}>
              Restore
            </button>
          </>
        ) : (
          <button type="button" className="button primary" onClick={onClose}>
            {finished ? 'Done' : 'Keep it running in the background'}
          </button>
        )
      }
    >
      {started.length === 0 ? (
        <>
          <p className="muted">
            {names.slice(0, 5).join(', ')}
            {names.length > 5 ? ` and ${names.length - 5} more` : ''}
            {snapshotTime ? `, as they were on ${formatDateTime(snapshotTime)}` : ''}.
          </p>
          <fieldset className="field">
            <legend>Restore to</legend>
            <label className="radio">
              <input type="radio" name="destination" checked={destination === 'original'} onChange={() => setDestination('original')} />
              Where {items.length === 1 ? 'it was' : 'they were'} ({parentPath(items[0]!.path)}
              {items.some((i) => parentPath(i.path) !== parentPath(items[0]!.path)) ? ' and others' : ''})
            </label>
            <label className="radio">
              <input type="radio" name="destination" checked={destination === 'other'} onChange={() => setDestination('other')} />
              Another folder
            </label>
            {destination === 'other' && <FolderChooser id="restore-target" label="Restore into" value={folder} onChange={setFolder} placeholder="/home/you/Restored" />}
          </fieldset>
          <fieldset className="field">
            <legend>If a file with the same name is there</legend>
            <select aria-label="If a file is already there" value={overwrite} onChange={(e) => setOverwrite(e.target.value as Overwrite)}>
              <option value="never">Keep the existing file</option>
              <option value="if-changed">Replace it if it differs</option>
              <option value="always">Always replace it</option>
            </select>
          </fieldset>
          {error && <ErrorMessage>{error}</ErrorMessage>}
        </>
      ) : (
        <div className="restore-progress">
          {records.map((job) =>
            job.endedAt === undefined ? (
              <div key={job.id} className="row">
                <ProgressPanel progress={progress[job.id] ?? job.progress} />
                <CancelJobButton job={job} label="Cancel restore" />
              </div>
            ) : (
              <div key={job.id} className={`result result-${job.result}`} role="status" data-partial={job.summary?.partial === 'yes' ? 'yes' : undefined}>
                {job.result === 'succeeded' ? (
                  <>
                    Restored {Number(job.summary?.files ?? 0).toLocaleString()} file{job.summary?.files === 1 ? '' : 's'} ({formatBytes(Number(job.summary?.bytes ?? 0))}).
                  </>
                ) : job.result === 'cancelled' ? (
                  // The agent's message says it was cancelled, and whether what was restored is partial.
                  job.message
                ) : (
                  <>
                    Restore {job.result}
                    {job.summary?.partial === 'yes' ? ' (partial)' : ''}: {job.message}
                  </>
                )}
              </div>
            ),
          )}
          {records.length < started.length && <ProgressPanel />}
          {failed.length > 0 && <p className="muted">The History screen lists every problem with its file.</p>}
        </div>
      )}
    </Modal>
  );
}
