import type { Progress } from '../../../src-shared/progress.js';
import { formatBytes, formatDuration } from '../format.js';

/** Live progress of a job: bar, files, bytes, rate, time left and the current file. */
export function ProgressPanel({ progress }: { progress?: Progress }) {
  if (!progress) {
    return (
      <div className="progress" aria-label="Starting">
        <div className="progress-bar indeterminate" role="progressbar" aria-busy="true" />
        <div className="progress-facts">Starting…</div>
      </div>
    );
  }
  const total = progress.bytesTotal;
  const fraction = total && total > 0 ? Math.min(1, progress.bytesDone / total) : undefined;
  return (
    <div className="progress">
      <div
        className={`progress-bar${fraction === undefined ? ' indeterminate' : ''}`}
        role="progressbar"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={fraction === undefined ? undefined : Math.round(fraction * 100)}
        aria-label={`${progress.operation} progress`}
      >
        {fraction !== undefined && <div className="progress-fill" style={{ width: `${(fraction * 100).toFixed(1)}%` }} />}
      </div>
      <div className="progress-facts">
        <span>
          {progress.filesDone.toLocaleString()}
          {progress.filesTotal !== undefined ? ` of ${progress.filesTotal.toLocaleString()}` : ''} files
        </span>
        <span>
          {formatBytes(progress.bytesDone)}
          {total !== undefined ? ` of ${formatBytes(total)}` : ''}
        </span>
        <span>{formatBytes(progress.bytesPerSecond)}/s</span>
        {progress.etaSeconds !== undefined && <span>{formatDuration(progress.etaSeconds * 1000)} left</span>}
        <span className="muted">{progress.phase}</span>
      </div>
      {progress.currentPath && (
        <div className="progress-current" title={progress.currentPath}>
          {progress.currentPath}
        </div>
      )}
    </div>
  );
}
