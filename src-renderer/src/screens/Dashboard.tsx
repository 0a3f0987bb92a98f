import type { JobRecord, PlanStatus, RepositoryInfo } from '../../../src-shared/api.js';
import { describePlanSources, type Plan } from '../../../src-shared/plan.js';
import { CancelJobButton } from '../components/CancelJobButton.js';
import { ProgressPanel } from '../components/ProgressPanel.js';
import { StateBadge } from '../components/StateBadge.js';
import { EmptyState } from '../components/States.js';
import { capitalise, formatBytes, formatDateTime, formatRelative, locationLabel } from '../format.js';
import { useApp } from '../store/appContext.js';

export function Dashboard() {
  const plans = useApp((s) => s.plans);
  const status = useApp((s) => s.status);
  const repositories = useApp((s) => s.repositories);
  const navigate = useApp((s) => s.navigate);
  if (plans.length === 0) {
    return (
      <EmptyState
        title="No backup plan yet"
        action={
          <button type="button" className="button primary" onClick={() => navigate('setup')}>
            Set up a backup
          </button>
        }
      >
        A plan says which folders to back up, where to, and when.
      </EmptyState>
    );
  }
  return (
    <div className="dashboard">
      <div className="plan-grid">
        {plans.map((plan) => (
          <PlanCard key={plan.id} plan={plan} status={status?.plans.find((p) => p.planId === plan.id)} />
        ))}
      </div>
      <OtherJobs />
      <section className="card">
        <h2>Targets</h2>
        <table className="table">
          <thead>
            <tr>
              <th>Repository</th>
              <th>Health</th>
              <th>Last success</th>
              <th>Password</th>
            </tr>
          </thead>
          <tbody>
            {repositories.map((r) => (
              <TargetRow key={r.location} target={r} />
            ))}
          </tbody>
        </table>
      </section>
    </div>
  );
}

/**
 * Restores, checks, prunes and seeds under way, each with its progress and a Cancel, then those waiting
 * for their turn (cancellable too); backups, running or queued, are on their plan's card.
 */
function OtherJobs() {
  // Filtered here, not in the selector: a new array from a selector at every call re-renders without end.
  const runningJobs = useApp((s) => s.status?.runningJobs);
  const queuedJobs = useApp((s) => s.status?.queuedJobs);
  const progress = useApp((s) => s.progress);
  const jobs = [...(runningJobs ?? []), ...(queuedJobs ?? [])].filter((j) => j.kind !== 'backup');
  if (jobs.length === 0) return null;
  return (
    <section className="card" aria-label="Running now">
      <h2>Running now</h2>
      {jobs.map((job) => (
        <article key={job.id} className="running-job" aria-label={`${capitalise(job.kind)} job`} data-result={job.result}>
          <header className="row">
            <strong>{capitalise(job.kind)}</strong>
            <span className="muted small mono">{job.repository ? locationLabel(job.repository) : ''}</span>
            {job.result === 'queued' && <StateBadge state="queued" />}
            <span className="spacer" />
            <CancelJobButton job={job} />
          </header>
          {job.result === 'running' && <ProgressPanel progress={progress[job.id] ?? job.progress} />}
        </article>
      ))}
    </section>
  );
}

function TargetRow({ target }: { target: RepositoryInfo }) {
  const health = target.reachable === false ? ['error', 'Unreachable'] : target.behind ? ['paused', 'Behind — run repair'] : ['succeeded', 'Healthy'];
  return (
    <tr>
      <td className="mono" title={target.location}>
        {locationLabel(target.location)}
      </td>
      <td>
        <StateBadge state={health[0] as 'error'} label={health[1]} />
        {target.lastError && <div className="muted small">{target.lastError}</div>}
      </td>
      <td>{target.lastSuccess ? formatRelative(target.lastSuccess) : '—'}</td>
      <td>{target.unlocked ? 'Unlocked' : 'Needed'}</td>
    </tr>
  );
}

function PlanCard({ plan, status }: { plan: Plan; status?: PlanStatus }) {
  const client = useApp((s) => s.connection.client);
  const attempt = useApp((s) => s.attempt);
  // Its backup under way, or waiting for its turn.
  const running = useApp((s) => [...(s.status?.runningJobs ?? []), ...(s.status?.queuedJobs ?? [])].find((j) => j.planId === plan.id && j.kind === 'backup'));
  const progress = useApp((s) => (running ? s.progress[running.id] : undefined));
  const jobs = useApp((s) => s.jobs);
  const lastBackup = jobs.find((j): j is JobRecord => j.planId === plan.id && j.kind === 'backup' && j.result !== 'running' && j.result !== 'queued' && j.result !== 'skipped');
  const state = running && running.result === 'running' ? 'running' : (status?.state ?? 'idle');
  const paused = Boolean(status?.pausedUntil);

  return (
    <article className={`card plan-card state-${state}`} aria-label={`Plan ${plan.name}`} data-plan={plan.id}>
      <header className="plan-header">
        <div>
          <h2>{plan.name}</h2>
          <div className="muted small mono">{describePlanSources(plan)}</div>
        </div>
        <StateBadge state={running?.result === 'queued' ? 'queued' : state} />
      </header>
      {paused && <p className="paused-line">Paused {status?.pausedUntil === 'resumed by hand' ? 'until resumed' : `until ${formatDateTime(status!.pausedUntil!)}`}</p>}
      {running && running.result === 'running' && <ProgressPanel progress={progress ?? running.progress} />}
      <dl className="facts">
        <div>
          <dt>Last backup</dt>
          <dd>
            {lastBackup ? (
              <>
                {formatRelative(lastBackup.endedAt ?? lastBackup.startedAt)} · <StateBadge state={lastBackup.result} />
                {typeof lastBackup.summary?.bytesAdded === 'number' && <span className="muted"> · {formatBytes(lastBackup.summary.bytesAdded)} added</span>}
                {lastBackup.message && <div className="muted small">{lastBackup.message}</div>}
              </>
            ) : (
              'Never'
            )}
          </dd>
        </div>
        <div>
          <dt>Next backup</dt>
          <dd>{paused ? 'Paused' : status?.nextRun ? formatRelative(status.nextRun) : plan.schedule.kind === 'continuous' ? (status?.watching === false ? 'Watching (periodic scan)' : 'When files change') : 'When you ask'}</dd>
        </div>
        <div>
          <dt>Goes to</dt>
          <dd className="mono small">{plan.targets.map(locationLabel).join(', ')}</dd>
        </div>
      </dl>
      <footer className="plan-actions">
        {running ? (
          <>
            <button type="button" className="button" onClick={() => void attempt(() => client.call('agent.pause', { planId: plan.id }), 'Paused; the backup stops at a safe point and continues on resume.')}>
              Pause
            </button>
            <CancelJobButton job={running} />
          </>
        ) : paused ? (
          <button type="button" className="button primary" onClick={() => void attempt(() => client.call('agent.resume', { planId: plan.id }))}>
            Resume
          </button>
        ) : (
          <>
            <button type="button" className="button primary" onClick={() => void attempt(() => client.call('jobs.backup', { planId: plan.id }))}>
              Back up now
            </button>
            <button type="button" className="button" onClick={() => void attempt(() => client.call('agent.pause', { planId: plan.id, forSeconds: 3600 }), `"${plan.name}" is paused for an hour.`)}>
              Pause for 1 hour
            </button>
          </>
        )}
        {paused && running && (
          <button type="button" className="button primary" onClick={() => void attempt(() => client.call('agent.resume', { planId: plan.id }))}>
            Resume
          </button>
        )}
      </footer>
    </article>
  );
}
