import { Fragment, useState } from 'react';
import type { JobRecord } from '../../../src-shared/api.js';
import { StateBadge } from '../components/StateBadge.js';
import { EmptyState } from '../components/States.js';
import { capitalise, formatBytes, formatDateTime, formatDuration } from '../format.js';
import { useApp } from '../store/appContext.js';

function summaryText(job: JobRecord): string {
  const s = job.summary ?? {};
  if (job.kind === 'backup' && typeof s.filesNew === 'number') return `${s.filesNew} new, ${s.filesChanged} changed · ${formatBytes(Number(s.bytesAdded ?? 0))} added`;
  if (job.kind === 'restore' && typeof s.files === 'number') return `${s.files} files · ${formatBytes(Number(s.bytes ?? 0))}`;
  if (job.kind === 'check' && typeof s.snapshots === 'number') return `${s.snapshots} snapshots, ${s.packs} packs`;
  if (job.kind === 'seed' && typeof s.copied === 'number') return `${s.copied} objects copied to ${job.repository ?? 'the new target'}`;
  if (job.kind === 'prune' && typeof s.packsDeleted === 'number') return `${s.packsDeleted} packs deleted, ${s.packsRepacked} repacked`;
  return '';
}

export function History() {
  const jobs = useApp((s) => s.jobs);
  const plans = useApp((s) => s.plans);
  const [onlyProblems, setOnlyProblems] = useState(false);
  const [open, setOpen] = useState<string>();
  const shown = jobs.filter((j) => !onlyProblems || j.result === 'failed' || j.warnings > 0);
  if (jobs.length === 0) return <EmptyState title="Nothing has run yet">Backups, restores, checks and prunes are listed here with their results.</EmptyState>;
  return (
    <section className="card history">
      <header className="row">
        <h2>Jobs</h2>
        <span className="spacer" />
        <label className="checkbox">
          <input type="checkbox" checked={onlyProblems} onChange={(e) => setOnlyProblems(e.target.checked)} />
          Only failures and warnings
        </label>
      </header>
      <table className="table">
        <thead>
          <tr>
            <th>What</th>
            <th>Started</th>
            <th>Took</th>
            <th>Result</th>
            <th>Summary</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((job) => {
            const plan = plans.find((p) => p.id === job.planId);
            const expandable = Boolean(job.message) || job.warnings > 0;
            return (
              <Fragment key={job.id}>
                <tr className={expandable ? 'expandable' : ''} onClick={() => expandable && setOpen(open === job.id ? undefined : job.id)} aria-expanded={expandable ? open === job.id : undefined}>
                  <td>
                    {capitalise(job.kind)}
                    <div className="muted small mono">{plan?.name ?? job.repository ?? ''}</div>
                  </td>
                  <td>{formatDateTime(job.startedAt)}</td>
                  <td>{job.endedAt ? formatDuration(Date.parse(job.endedAt) - Date.parse(job.startedAt)) : '…'}</td>
                  <td>
                    <StateBadge state={job.result} />
                    {job.warnings > 0 && <span className="muted small"> {job.warnings} warning{job.warnings === 1 ? '' : 's'}</span>}
                  </td>
                  <td className="small">{summaryText(job)}</td>
                </tr>
                {open === job.id && (
                  <tr className="detail-row">
                    <td colSpan={5}>{job.message ?? `${job.warnings} warning(s); the agent's log lists each file.`}</td>
                  </tr>
                )}
              </Fragment>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}
