import type { AgentState, JobResult } from '../../../src-shared/api.js';

const LABELS: Record<string, string> = {
  idle: 'Idle',
  running: 'Backing up',
  paused: 'Paused',
  error: 'Needs attention',
  queued: 'Queued',
  succeeded: 'Succeeded',
  failed: 'Failed',
  cancelled: 'Cancelled',
  skipped: 'Skipped',
};

/** A coloured word for a state or a job result; the colour is never the only signal. */
export function StateBadge({ state, label }: { state: AgentState | JobResult; label?: string }) {
  return (
    <span className={`badge badge-${state}`} data-state={state}>
      <span className="badge-dot" aria-hidden="true" />
      {label ?? LABELS[state] ?? state}
    </span>
  );
}
