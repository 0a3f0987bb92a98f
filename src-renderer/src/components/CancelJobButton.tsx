import { useState } from 'react';
import type { JobRecord } from '../../../src-shared/api.js';
import { useApp } from '../store/appContext.js';

/**
 * Cancels one job of any kind. A running job stops at its next safe point, which can take a moment
 * (a file being written is finished), so the button says so until the job's end arrives.
 */
export function CancelJobButton({ job, label = 'Cancel', className = 'button danger' }: { job: JobRecord; label?: string; className?: string }) {
  const client = useApp((s) => s.connection.client);
  const attempt = useApp((s) => s.attempt);
  const notify = useApp((s) => s.notify);
  const [asked, setAsked] = useState(false);
  const cancel = async () => {
    setAsked(true);
    const answer = await attempt(() => client.call('jobs.cancel', { jobId: job.id }));
    // False: it ended (or was being cancelled) before the request arrived; its end says how.
    if (answer && !answer.cancelled) notify('warning', 'It had already ended.');
    if (!answer) setAsked(false);
  };
  return (
    <button type="button" className={className} disabled={asked} onClick={() => void cancel()}>
      {asked ? 'Cancelling…' : label}
    </button>
  );
}
