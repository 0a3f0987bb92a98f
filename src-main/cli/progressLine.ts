import type { Progress, Warning } from '../../src-shared/progress.js';
import { formatBytes, formatCount, formatDuration } from '../../src-shared/units.js';

/**
 * Shows progress on stderr: a live, rewritten line on a terminal; JSON lines
 * with --json (on stdout, for scripts); nothing otherwise. Warnings go the
 * same way: a JSON line, or a line on stderr below the progress line.
 */
export function progressReporter(json: boolean): {
  /** Whether progress is shown at all (a terminal, or --json): work done only for it can be skipped otherwise. */
  readonly visible: boolean;
  update(progress: Progress): void;
  warn(label: 'warning' | 'error', warning: Warning): void;
  done(): void;
} {
  const tty = process.stderr.isTTY === true;
  let shown = false;
  return {
    visible: json || tty,
    update(progress) {
      if (json) {
        process.stdout.write(`${JSON.stringify({ type: 'progress', ...progress })}\n`);
        return;
      }
      if (!tty) return;
      const line = formatProgress(progress);
      const width = process.stderr.columns ?? 100;
      process.stderr.write(`\r\x1b[K${line.length > width - 1 ? `${line.slice(0, width - 2)}…` : line}`);
      shown = true;
    },
    warn(label, warning) {
      if (json) {
        process.stdout.write(`${JSON.stringify({ type: label === 'warning' ? 'warning' : 'problem', ...warning })}\n`);
        return;
      }
      this.done();
      console.error(`${label}: ${warning.path}: ${warning.message}`);
    },
    done() {
      if (shown) process.stderr.write('\r\x1b[K');
      shown = false;
    },
  };
}

export function formatProgress(p: Progress): string {
  // Totals may be estimates (the parent snapshot's, with --no-scan): once passed they say nothing, and "10/9 files" is wrong.
  const filesTotal = p.filesTotal !== undefined && p.filesDone <= p.filesTotal ? p.filesTotal : undefined;
  const bytesTotal = p.bytesTotal !== undefined && p.bytesDone <= p.bytesTotal ? p.bytesTotal : undefined;
  const files = filesTotal !== undefined ? `${p.filesDone}/${filesTotal} files` : formatCount(p.filesDone, 'file');
  const bytes = bytesTotal !== undefined ? `${formatBytes(p.bytesDone)}/${formatBytes(bytesTotal)}` : formatBytes(p.bytesDone);
  const percent = bytesTotal ? ` ${((100 * p.bytesDone) / bytesTotal).toFixed(0)}%` : '';
  const eta = p.etaSeconds !== undefined && bytesTotal !== undefined ? ` ETA ${formatDuration(p.etaSeconds * 1000)}` : '';
  const current = p.currentPath ? `  ${p.currentPath}` : '';
  return `[${formatDuration(p.elapsedMs)}]${percent} ${files}, ${bytes}, ${formatBytes(p.bytesPerSecond)}/s${eta}${current}`;
}
